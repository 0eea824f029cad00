/**
 * The answer a callback receiver gives (functions/engine/callback-receiver.ts), and the one Tencent
 * expects for success; forward mode (functions/engine/callback-forwarder.ts) returns the same shape.
 */
/** The answer Tencent expects from a callback URL. */
export const CALLBACK_OK = '{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}';

export interface ReceiverAnswer {
  status: number;
  /** A string, or the app server's bytes as it sent them (forward mode). */
  body: string | Uint8Array;
  /** Default application/json. */
  contentType?: string;
}
