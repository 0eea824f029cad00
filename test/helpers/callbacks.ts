/**
 * A callback receiver recording into a store, on a loopback port, with the simulator's sender
 * pointed at it: the setup the callback tests share (receiver, simulator callbacks, DuckDB tables,
 * reconciliation). Each test closes it with `close()`.
 */
import {
  type RunningReceiver,
  startReceiverServer,
} from '../../functions/adapters/callbacks/receiver-server.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import type { CallbackEventRow } from '../../functions/domain/callback-event.ts';
import { gunzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { CallbackReceiver, type CallbackReceiverOptions } from '../../functions/engine/callback-receiver.ts';
import { CallbackRecorder } from '../../functions/engine/callback-recorder.ts';
import { CallbackSender } from '../../functions/simulator/callbacks.ts';

export interface TestReceiverOptions {
  readonly store: ObjectStore;
  readonly sdkAppId: number;
  readonly token: string;
  /** Default the system clock; the sender reads the same clock. */
  readonly clock?: Clock;
  /** Default UTC. */
  readonly timeZone?: string;
  /** Default 1 ms (a test need not wait for the group-commit window). */
  readonly maxWaitMs?: number;
  readonly maxRows?: number;
  readonly forwarder?: CallbackReceiverOptions['forwarder'];
}

export interface TestReceiver {
  readonly url: string;
  readonly recorder: CallbackRecorder;
  readonly receiver: CallbackReceiver;
  /** The simulator's sender, signing with the same token for the same app. */
  readonly sender: CallbackSender;
  readonly running: RunningReceiver;
  close(): Promise<void>;
}

export async function startTestReceiver(options: TestReceiverOptions): Promise<TestReceiver> {
  const clock = options.clock ?? systemClock;
  const recorder = new CallbackRecorder({
    store: options.store,
    clock,
    timeZone: options.timeZone ?? 'UTC',
    receiverId: 'test',
    maxWaitMs: options.maxWaitMs ?? 1,
    ...(options.maxRows === undefined ? {} : { maxRows: options.maxRows }),
  });
  const receiver = new CallbackReceiver({
    tokens: new Map([[options.sdkAppId, options.token]]),
    recorder,
    clock,
    ...(options.forwarder === undefined ? {} : { forwarder: options.forwarder }),
  });
  const running = await startReceiverServer({ receiver });
  const sender = new CallbackSender({
    url: running.url,
    token: options.token,
    sdkAppId: options.sdkAppId,
    now: () => clock.now(),
  });
  return { url: running.url, recorder, receiver, sender, running, close: () => running.close() };
}

/** Every row stored under `callbacks/`, in arrival order. */
export async function storedCallbackRows(store: ObjectStore): Promise<CallbackEventRow[]> {
  const rows: CallbackEventRow[] = [];
  for await (const key of store.list('callbacks/')) {
    const object = await store.get(key);
    if (object === undefined) continue;
    for (const line of await gunzipNdjson(object.body)) rows.push(JSON.parse(line) as CallbackEventRow);
  }
  return rows.sort((a, b) => a.received_at - b.received_at);
}
