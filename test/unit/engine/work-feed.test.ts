import { describe, expect, it } from 'vitest';
import type { TargetWork } from '../../../functions/engine/target-work.ts';
import { WorkFeed } from '../../../functions/engine/work-feed.ts';

const target = {} as TargetWork;

describe('WorkFeed', () => {
  it('wakes every waiter at the next push, however many waited (one shared promise, no chain)', async () => {
    // Prepare
    const feed = new WorkFeed();
    const waits = Array.from({ length: 50_000 }, () => feed.changed());

    // Act
    feed.push(target);
    await Promise.all(waits);

    // Assess
    expect(feed.work).toEqual([target]);
    expect(new Set(waits).size).toBe(1);
    expect(feed.changed()).not.toBe(waits[0]);
  });

  it('is open until closed; closed with an error it is incomplete, and waits end at once', async () => {
    // Prepare
    const done = new WorkFeed();
    const failed = new WorkFeed();
    const waiting = failed.changed();

    // Act
    done.close();
    failed.close(new Error('planning broke'));
    failed.close();
    await waiting;

    // Assess
    expect([done.open, done.incomplete]).toEqual([false, false]);
    expect([failed.open, failed.incomplete]).toEqual([false, true]);
    await expect(done.changed()).resolves.toBeUndefined();
  });

  it('counts the planning calls the client has, never below zero', () => {
    const feed = new WorkFeed();
    feed.callStarted();
    feed.callStarted();
    feed.callEnded();
    expect(feed.callsInFlight).toBe(1);
    feed.callEnded();
    feed.callEnded();
    expect(feed.callsInFlight).toBe(0);
  });
});
