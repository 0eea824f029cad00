/**
 * The reconciliation's pure rules (functions/domain/callback-reconcile.ts): matching by seq and
 * time (a re-created group reuses seqs), a placeholder served without its time, first captures
 * only, messages from before the first callback, and the list of groups to look at with its cap.
 */
import { describe, expect, it } from 'vitest';
import type { CallbackMessageRow } from '../../../functions/domain/callback-materialize.ts';
import { MAX_REPORTED_GROUPS, Reconciler } from '../../../functions/domain/callback-reconcile.ts';
import { type ArchiveRecord, toRecord } from '../../../functions/domain/record.ts';
import type { RawMessage } from '../../../functions/domain/tencent-types.ts';

const APP = 1400000001;
const FIRST = 1_000;

const served = (seq: number, time: number, text = `m${seq}`): RawMessage => ({
  MsgSeq: seq,
  MsgTimeStamp: time,
  From_Account: 'alice',
  MsgRandom: seq,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
});

const pull = (groupId: string, m: RawMessage, more: { revision?: number; generation?: number } = {}) =>
  toRecord(m, {
    sdkAppId: APP,
    groupId,
    topicId: null,
    ...(more.revision ? { revision: more.revision, change: 'modified' as const } : {}),
    ...(more.generation ? { generation: more.generation } : {}),
  });

const callback = (groupId: string, m: RawMessage): CallbackMessageRow => ({
  ...(pull(groupId, m) as ArchiveRecord),
  event_key: `k${m.MsgSeq}`,
  body_sha256: 'h',
  event_time: null,
  received_at: m.MsgTimeStamp * 1000,
  replayed: false,
  source: 'callback',
  unconfirmed: true,
});

describe('Reconciler', () => {
  it('matches by seq and time: a re-created group reusing a seq is one lost callback and one callback-only', () => {
    const r = new Reconciler(FIRST);
    r.addCallback(callback('g', served(1, FIRST + 100)), true);
    // The group was dissolved and re-created: seq 1 again, later; the pull saw only the new one.
    r.addPull(pull('g', served(1, FIRST + 500), { generation: 1 }), true);
    r.closePartition();
    expect(r.result()).toMatchObject({ callbackOnly: 1, pullOnly: 1, bothEqual: 0, lossRate: 1 });
  });

  it('matches a placeholder served without its time, and counts only first captures', () => {
    const r = new Reconciler(FIRST);
    r.addCallback(callback('g', served(2, FIRST + 10)), true);
    r.addCallback(callback('g', served(3, FIRST + 11)), true);
    r.addPull(pull('g', { ...served(2, 0, ''), IsPlaceMsg: 2, MsgBody: [] }), true);
    // A later revision of seq 3 is not its first capture: seq 3 stays callback-only.
    r.addPull(pull('g', served(3, FIRST + 11, 'edited'), { revision: 1 }), true);
    r.closePartition();
    expect(r.result()).toMatchObject({ pullPlaceholder: 1, callbackOnly: 1, pullOnly: 0, different: 0 });
  });

  it('does not count as lost what was sent before the first callback, or pulled by an earlier run', () => {
    const r = new Reconciler(FIRST);
    r.addPull(pull('g', served(4, FIRST - 1)), true);
    r.addPull(pull('g', served(5, FIRST + 1)), false);
    r.addPull(pull('g', served(6, FIRST)), true);
    r.closePartition();
    expect(r.result()).toMatchObject({ pullOnly: 1, lossRate: 1 });
  });

  it('lists the groups most pull-only first, at most MAX_REPORTED_GROUPS, and counts the rest', () => {
    const r = new Reconciler(FIRST);
    const groups = MAX_REPORTED_GROUPS + 3;
    for (let g = 0; g < groups; g++)
      for (let seq = 1; seq <= (g === 7 ? 3 : 1); seq++)
        r.addPull(pull(`g${g}`, served(seq, FIRST + seq)), true);
    r.closePartition();
    const result = r.result();
    expect(result.pullOnly).toBe(groups + 2);
    expect(result.groups).toHaveLength(MAX_REPORTED_GROUPS);
    expect(result.groups[0]).toMatchObject({ groupId: 'g7', pullOnly: 3 });
    expect(result.groupsNotListed).toBe(3);
  });
});
