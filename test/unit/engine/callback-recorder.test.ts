import { describe, expect, it } from 'vitest';
import { type CallbackEventRow, toCallbackEventRow } from '../../../functions/domain/callback-event.ts';
import { gunzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import type { Clock } from '../../../functions/domain/ports.ts';
import { CallbackRecorder } from '../../../functions/engine/callback-recorder.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';

/** A clock whose sleeps wait until the test releases them: the batch window is under test control. */
class GateClock implements Clock {
  private waiting: (() => void)[] = [];
  now(): number {
    return Date.UTC(2026, 11, 7, 16, 30);
  }
  sleep(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const now = this.waiting;
    this.waiting = [];
    for (const resolve of now) resolve();
  }
  get sleepers(): number {
    return this.waiting.length;
  }
}

const AT = Date.UTC(2026, 11, 7, 16, 30); // 2026-12-08 00:30 in Shanghai
function row(seq: number, app = 1400000001, receivedAt = AT): CallbackEventRow {
  const body = JSON.stringify({ GroupId: 'g', MsgSeq: seq, EventTime: receivedAt - 5 });
  return toCallbackEventRow({
    sdkAppId: app,
    command: 'Group.CallbackAfterSendMsg',
    requestTime: Math.floor(receivedAt / 1000),
    receivedAt,
    body: new TextEncoder().encode(body),
  });
}

async function stored(store: MemoryStore): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const key of store.keys('callbacks/'))
    out[key] = (await gunzipNdjson(store.body(key) as Uint8Array)).map((line) => JSON.parse(line));
  return out;
}

const settled = async <T>(promise: Promise<T>) => {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('CallbackRecorder', () => {
  it('acks no row before its batch is stored, and stores a batch as one create-only object', async () => {
    const store = new MemoryStore();
    const clock = new GateClock();
    const recorder = new CallbackRecorder({ store, clock, timeZone: 'Asia/Shanghai', receiverId: 'r1' });
    const first = recorder.record(row(1));
    const second = recorder.record(row(2));
    expect(await settled(first)).toBe('pending');
    expect(store.keys()).toEqual([]);
    expect(clock.sleepers).toBe(1); // one window for the batch, not one per row
    clock.release();
    await Promise.all([first, second]);
    const objects = await stored(store);
    expect(Object.keys(objects)).toEqual([
      'callbacks/sdkappid=1400000001/dt=2026-12-08/r1-000000000.ndjson.gz',
    ]);
    expect(Object.values(objects)[0]).toEqual([row(1), row(2)]);
    expect(store.calls.filter((c) => c.op === 'put').map((c) => c.options?.ifNoneMatch)).toEqual(['*']);
    expect(recorder.stats).toEqual({
      rowsStored: 2,
      objectsStored: 1,
      failedWrites: 0,
      writeMs: expect.any(Number),
    });
  });

  it('writes at once when a batch is full, and one object per app and date', async () => {
    const store = new MemoryStore();
    const clock = new GateClock();
    const recorder = new CallbackRecorder({ store, clock, timeZone: 'UTC', receiverId: 'r1', maxRows: 3 });
    const day2 = AT + 86_400_000;
    await Promise.all([
      recorder.record(row(1)),
      recorder.record(row(2, 1400000002)),
      recorder.record(row(3, 1400000001, day2)),
    ]);
    expect(store.keys()).toEqual([
      'callbacks/sdkappid=1400000001/dt=2026-12-07/r1-000000000.ndjson.gz',
      'callbacks/sdkappid=1400000001/dt=2026-12-08/r1-000000002.ndjson.gz',
      'callbacks/sdkappid=1400000002/dt=2026-12-07/r1-000000001.ndjson.gz',
    ]);
  });

  it('rejects the rows of a batch whose write failed (nothing acked is lost), and goes on with the next batch', async () => {
    const store = new MemoryStore().fail({ op: 'put', key: (k) => k.startsWith('callbacks/') });
    const clock = new GateClock();
    const recorder = new CallbackRecorder({ store, clock, timeZone: 'UTC', receiverId: 'r1' });
    const lost = recorder.record(row(1));
    clock.release();
    await expect(lost).rejects.toThrow();
    const kept = recorder.record(row(2));
    clock.release();
    await kept;
    const objects = await stored(store);
    expect(Object.values(objects).flat()).toEqual([row(2)]);
    expect(recorder.stats).toMatchObject({ rowsStored: 1, failedWrites: 1 });
  });

  it('drain writes what is waiting without waiting for the window', async () => {
    const store = new MemoryStore();
    const recorder = new CallbackRecorder({
      store,
      clock: new GateClock(),
      timeZone: 'UTC',
      receiverId: 'r1',
    });
    const pending = recorder.record(row(1));
    await recorder.drain();
    await pending;
    expect(store.keys('callbacks/')).toHaveLength(1);
  });
});

/** A store whose puts wait until the test releases them, counting how many wait at once. */
class GatedStore extends MemoryStore {
  private gates: (() => void)[] = [];
  maxWaiting = 0;
  override async put(...args: Parameters<MemoryStore['put']>) {
    await new Promise<void>((resolve) => {
      this.gates.push(resolve);
      this.maxWaiting = Math.max(this.maxWaiting, this.gates.length);
    });
    return super.put(...args);
  }
  /** Resolves once `count` writes wait at the gate (polled: gzip runs on the thread pool). */
  async waiting(count: number): Promise<void> {
    for (let waited = 0; this.gates.length < count; waited++) {
      if (waited > 10_000) throw new Error(`${this.gates.length} writes waiting, expected ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  /** Opens the gate for every write until `done` settles. */
  async releaseUntil(done: Promise<unknown>): Promise<void> {
    let settled = false;
    const watched = done.finally(() => {
      settled = true;
    });
    while (!settled) {
      for (const open of this.gates.splice(0)) open();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await watched;
  }
}

describe('CallbackRecorder group commit under slow writes', () => {
  it('writes at most maxConcurrentWrites objects at once; rows that arrive meanwhile go together in the next one', async () => {
    const store = new GatedStore();
    const clock = new GateClock();
    const recorder = new CallbackRecorder({
      store,
      clock,
      timeZone: 'UTC',
      receiverId: 'r',
      maxRows: 1,
      maxConcurrentWrites: 2,
    });
    const acks = Array.from({ length: 10 }, (_, i) => recorder.record(row(i + 1)));
    await store.waiting(2);
    expect(store.maxWaiting).toBe(2);
    await store.releaseUntil(Promise.all(acks));
    await recorder.drain();
    expect(store.maxWaiting).toBe(2);
    // 1 and 2 alone, then 3-10 gathered while those two were written: 3 objects, not 10.
    expect(recorder.stats).toMatchObject({ rowsStored: 10, objectsStored: 3 });
  });
});
