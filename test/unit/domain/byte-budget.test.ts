/**
 * The byte semaphore (functions/domain/byte-budget.ts): weights, FIFO order, a reservation larger
 * than the budget running alone, and the bytes given back on release, on error and on abort.
 */
import { describe, expect, it } from 'vitest';
import { ByteBudget, type ByteReservation } from '../../../functions/domain/byte-budget.ts';
import { AbortedError } from '../../../functions/domain/errors.ts';

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Asks for `bytes` and records the order in which reservations are granted. */
function ask(budget: ByteBudget, bytes: number, granted: string[], name: string, signal?: AbortSignal) {
  return budget.acquire(bytes, signal).then((r) => {
    granted.push(name);
    return r;
  });
}

describe('ByteBudget', () => {
  it('grants reservations by weight: as many as fit together, the rest when bytes are released', async () => {
    const budget = new ByteBudget(100);
    const granted: string[] = [];
    const a = ask(budget, 60, granted, 'a');
    const b = ask(budget, 40, granted, 'b');
    const c = ask(budget, 30, granted, 'c');
    await settle();
    expect(granted).toEqual(['a', 'b']);
    expect(budget.inUse).toBe(100);
    expect(budget.waiting).toBe(1);

    (await b).release();
    await settle();
    // 60 + 30 fit: c no longer waits.
    expect(granted).toEqual(['a', 'b', 'c']);
    expect(budget.inUse).toBe(90);
    (await a).release();
    (await c).release();
    expect(budget.inUse).toBe(0);
  });

  it('grants in arrival order: a small reservation does not overtake a large one waiting first', async () => {
    const budget = new ByteBudget(100);
    const granted: string[] = [];
    const first = await ask(budget, 50, granted, 'first');
    const large = ask(budget, 80, granted, 'large');
    // 10 would fit beside `first`, but `large` asked before it.
    const small = ask(budget, 10, granted, 'small');
    await settle();
    expect(granted).toEqual(['first']);

    first.release();
    await settle();
    expect(granted).toEqual(['first', 'large', 'small']);
    expect(budget.inUse).toBe(90);
    (await large).release();
    (await small).release();
  });

  it('runs a reservation larger than the whole budget alone, once nothing else is reserved', async () => {
    const budget = new ByteBudget(100);
    const granted: string[] = [];
    const held = await ask(budget, 1, granted, 'held');
    const huge = ask(budget, 250, granted, 'huge');
    const after = ask(budget, 1, granted, 'after');
    await settle();
    expect(granted).toEqual(['held']);

    held.release();
    await settle();
    // Alone: even one byte waits while it runs.
    expect(granted).toEqual(['held', 'huge']);
    expect(budget.inUse).toBe(250);
    (await huge).release();
    await settle();
    expect(granted).toEqual(['held', 'huge', 'after']);
    (await after).release();
    expect(budget.inUse).toBe(0);
  });

  it('grants an oversize reservation at once on an idle budget (it never waits for ever)', async () => {
    const budget = new ByteBudget(10);
    const alone = await budget.acquire(1_000);
    expect(budget.inUse).toBe(1_000);
    alone.release();
    expect(budget.inUse).toBe(0);
  });

  it('frees the bytes once however often release is called', async () => {
    const budget = new ByteBudget(100);
    const a = await budget.acquire(70);
    const b = await budget.acquire(30);
    a.release();
    a.release();
    expect(budget.inUse).toBe(30);
    b.release();
    expect(budget.inUse).toBe(0);
  });

  it('gives the bytes back when the work fails, and grants the next waiter', async () => {
    const budget = new ByteBudget(100);
    const granted: string[] = [];
    const work = async () => {
      const reservation = await budget.acquire(100);
      try {
        await settle();
        throw new Error('download failed');
      } finally {
        reservation.release();
      }
    };
    const failing = work();
    const next = ask(budget, 100, granted, 'next');
    await expect(failing).rejects.toThrow('download failed');
    await settle();
    expect(granted).toEqual(['next']);
    (await next).release();
    expect(budget.inUse).toBe(0);
  });

  it('drops an aborted waiter from the queue, and grants those it held back', async () => {
    const budget = new ByteBudget(100);
    const granted: string[] = [];
    const first = await ask(budget, 50, granted, 'first');
    const abort = new AbortController();
    const large = ask(budget, 80, granted, 'large', abort.signal);
    const small = ask(budget, 10, granted, 'small');
    await settle();
    expect(granted).toEqual(['first']);

    abort.abort(new Error('deadline'));
    await expect(large).rejects.toBeInstanceOf(AbortedError);
    await settle();
    // `small` waited behind `large` only: it fits beside `first`.
    expect(granted).toEqual(['first', 'small']);
    expect(budget.inUse).toBe(60);
    expect(budget.waiting).toBe(0);
    first.release();
    (await small).release();
    expect(budget.inUse).toBe(0);
  });

  it('refuses at once on a signal already aborted, and keeps nothing reserved', async () => {
    const budget = new ByteBudget(100);
    const error = await budget.acquire(10, AbortSignal.abort(new Error('stop'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toEqual(new Error('stop'));
    expect(budget.inUse).toBe(0);
    expect(budget.waiting).toBe(0);
  });

  it('ignores an abort after the bytes were granted: the holder releases them', async () => {
    const budget = new ByteBudget(100);
    const abort = new AbortController();
    const held = budget.acquire(100);
    const later = budget.acquire(40, abort.signal);
    (await held).release();
    const reservation: ByteReservation = await later;
    abort.abort();
    expect(budget.inUse).toBe(40);
    reservation.release();
    expect(budget.inUse).toBe(0);
  });

  it('never holds more than the budget with many reservations of mixed sizes, and grants them all', async () => {
    const budget = new ByteBudget(1_000);
    let peak = 0;
    const sizes = Array.from({ length: 60 }, (_, i) => [5, 400, 120, 999, 1, 250][i % 6] as number);
    await Promise.all(
      sizes.map(async (bytes, i) => {
        const reservation = await budget.acquire(bytes);
        peak = Math.max(peak, budget.inUse);
        for (let n = 0; n < (i % 4) + 1; n++) await settle();
        reservation.release();
      }),
    );
    expect(peak).toBeLessThanOrEqual(1_000);
    expect(peak).toBeGreaterThan(900);
    expect(budget.inUse).toBe(0);
  });

  it('refuses a budget or a reservation that is not a whole number of bytes', async () => {
    expect(() => new ByteBudget(0)).toThrow(RangeError);
    expect(() => new ByteBudget(1.5)).toThrow(RangeError);
    const budget = new ByteBudget(10);
    await expect(budget.acquire(-1)).rejects.toThrow(RangeError);
    await expect(budget.acquire(Number.NaN)).rejects.toThrow(RangeError);
  });
});
