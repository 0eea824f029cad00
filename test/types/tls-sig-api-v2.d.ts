/**
 * Types for the official `tls-sig-api-v2` package (CJS, ships none), used only as a test oracle.
 * Surface as of 1.0.2: `exports.Api` and nothing else.
 */
declare module 'tls-sig-api-v2' {
  export class Api {
    constructor(sdkappid: number, key: string);
    /** Issues a UserSig at `Date.now()` valid for `expire` seconds. */
    genUserSig(userid: string, expire: number): string;
    /** Like `genUserSig`, with an optional user buffer (adds `TLS.userbuf`). */
    genSig(userid: string, expire: number, userBuf?: Uint8Array | null): string;
    genPrivateMapKey(userid: string, expire: number, roomid: number, privilegeMap: number): string;
    genPrivateMapKeyWithStringRoomID(
      userid: string,
      expire: number,
      roomstr: string,
      privilegeMap: number,
    ): string;
  }
}
