import { describe, expect, it } from 'vitest';
import { type C2cRecord, toC2cRecord } from '../../../functions/domain/c2c-record.ts';
import {
  type C2cPrint,
  c2cDeletion,
  c2cFingerprint,
  c2cPrintOf,
  c2cRevisions,
  classifyC2cChange,
  isDeletedPrint,
  isRoamPlaceholder,
  parsePrints,
  prunePrints,
  serializePrints,
} from '../../../functions/domain/c2c-revision.ts';
import type { RoamMessage } from '../../../functions/domain/tencent-types.ts';

const CTX = { sdkAppId: 1400000001, accounts: ['bob', 'alice'] as const, source: 'roam' as const };

function message(n: number, text = `msg ${n}`): RoamMessage {
  return {
    From_Account: n % 2 === 0 ? 'alice' : 'bob',
    To_Account: n % 2 === 0 ? 'bob' : 'alice',
    MsgSeq: 100 + n,
    MsgRandom: 7000 + n,
    MsgTimeStamp: 1_700_000_000 + n,
    MsgFlagBits: 0,
    IsPeerRead: 0,
    MsgKey: `${100 + n}_${7000 + n}_${1_700_000_000 + n}`,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
    CloudCustomData: `cc ${n}`,
  };
}

/** As the simulator serves a recall (functions/simulator/c2c-world.ts): flagged, no content. */
function recalled(m: RoamMessage): RoamMessage {
  const { MsgBody: _body, CloudCustomData: _cc, ...rest } = m;
  return { ...rest, MsgFlagBits: 8, MsgBody: [] };
}

function printsOf(page: readonly RoamMessage[]): Map<string, C2cPrint> {
  const map = new Map<string, C2cPrint>();
  for (const m of page) {
    const p = c2cPrintOf(toC2cRecord(m, CTX));
    if (p !== undefined) map.set(p.msgKey, p);
  }
  return map;
}

describe('c2cFingerprint', () => {
  it('ignores the read receipt and the key order, sees the body and the flag bits', () => {
    const m = message(1);
    const fp = c2cFingerprint(toC2cRecord(m, CTX));
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(c2cFingerprint(toC2cRecord({ ...m, IsPeerRead: 1 }, CTX))).toBe(fp);
    const reordered = Object.fromEntries(Object.entries(m).reverse()) as RoamMessage;
    expect(c2cFingerprint(toC2cRecord(reordered, CTX))).toBe(fp);
    expect(c2cFingerprint(toC2cRecord(message(1, 'edited'), CTX))).not.toBe(fp);
    expect(c2cFingerprint(toC2cRecord({ ...m, MsgFlagBits: 8 }, CTX))).not.toBe(fp);
    expect(c2cFingerprint(toC2cRecord({ ...m, Unknown: 1 }, CTX))).not.toBe(fp);
  });
});

describe('classifyC2cChange', () => {
  const a = { flagBits: 0, fingerprint: 'aaaaaaaaaaaaaaaa' };
  const r = { flagBits: 8, fingerprint: 'bbbbbbbbbbbbbbbb' };
  it('names recalls, restores and edits, nothing when the content is the same', () => {
    expect(classifyC2cChange(a, a)).toBeNull();
    expect(classifyC2cChange(a, r)).toBe('recalled');
    expect(classifyC2cChange(r, a)).toBe('restored');
    expect(classifyC2cChange(a, { flagBits: 0, fingerprint: 'cccccccccccccccc' })).toBe('modified');
    expect(classifyC2cChange(r, { flagBits: 8, fingerprint: 'cccccccccccccccc' })).toBe('modified');
  });
});

describe('c2cRevisions', () => {
  const archived = [message(1), message(2), message(3)];
  const ctx = { sdkAppId: CTX.sdkAppId, accounts: CTX.accounts, observedAt: 1_700_100_000 };

  it('gives one revision row for a recall, nothing for unchanged messages or a read receipt', () => {
    const prints = printsOf(archived);
    const page = [message(3), { ...message(2), IsPeerRead: 1 }, recalled(message(1))];
    const out = c2cRevisions(prints, page, ctx);
    expect(out.unknown).toBe(0);
    expect(out.rows).toHaveLength(1);
    const row = out.rows[0] as C2cRecord;
    expect(row).toMatchObject({
      conversation: '["alice","bob"]',
      msg_key: message(1).MsgKey,
      msg_flag_bits: 8,
      msg_body: [],
      cloud_custom_data: null,
      from_account: 'bob',
      to_account: 'alice',
      msg_time: message(1).MsgTimeStamp,
      revision: 1,
      change: 'recalled',
      observed_at: ctx.observedAt,
      source: 'roam',
    });
    expect(out.prints).toEqual([c2cPrintOf(row)]);
  });

  it('writes the revision once when its prints are committed with it, again (the same row) when they are not', () => {
    const prints = printsOf(archived);
    const page = [recalled(message(1)), message(2)];
    const first = c2cRevisions(prints, page, ctx);
    // Killed before the checkpoint: nothing committed, the rerun finds the same change.
    const rerun = c2cRevisions(prints, page, { ...ctx, observedAt: ctx.observedAt + 60 });
    expect(rerun.rows.map((r) => [r.msg_key, r.revision, r.change])).toEqual(
      first.rows.map((r) => [r.msg_key, r.revision, r.change]),
    );
    // Committed: the rows and their prints together; the next run sees nothing new.
    const committed = new Map(prints);
    for (const p of first.prints) committed.set(p.msgKey, p);
    expect(c2cRevisions(committed, page, ctx).rows).toEqual([]);
    // A later restore is revision 2.
    const restored = c2cRevisions(committed, [message(1)], ctx);
    expect(restored.rows.map((r) => [r.revision, r.change, r.msg_flag_bits])).toEqual([[2, 'restored', 0]]);
  });

  it('counts messages it holds no print of, and compares a key that comes twice once', () => {
    const prints = printsOf([message(1)]);
    const out = c2cRevisions(prints, [recalled(message(1)), recalled(message(1)), message(9)], ctx);
    expect(out.rows).toHaveLength(1);
    expect(out.unknown).toBe(1);
  });
});

describe('deletions', () => {
  const rescan = { sdkAppId: CTX.sdkAppId, accounts: CTX.accounts, observedAt: 1_800_000_000 };

  it('gives a deleted revision with the identity, the accounts and the archived time, every content column null', () => {
    const archived = printsOf([message(3)]).get(message(3).MsgKey) as C2cPrint;
    // Sent by bob, the pair's higher account.
    expect(archived.sender).toBe(1);
    expect(printsOf([message(2)]).get(message(2).MsgKey)?.sender).toBe(0);
    const { row, print } = c2cDeletion(archived, rescan);
    expect(row).toEqual({
      sdk_app_id: CTX.sdkAppId,
      conversation: '["alice","bob"]',
      from_account: 'bob',
      to_account: 'alice',
      msg_key: archived.msgKey,
      msg_seq: null,
      msg_random: null,
      msg_time: archived.msgTime,
      msg_flag_bits: null,
      msg_body: null,
      cloud_custom_data: null,
      source: 'roam',
      extra: null,
      revision: 1,
      observed_at: 1_800_000_000,
      change: 'deleted',
      quarantined: false,
      raw: null,
    });
    expect(print).toEqual({ ...c2cPrintOf(row), revision: 1, sender: 1 });
    // Without the sender (a print written before it was kept): the accounts are null too.
    const { sender: _s, ...unknown } = archived;
    const bare = c2cDeletion(unknown, rescan);
    expect(bare.row).toMatchObject({ from_account: null, to_account: null, change: 'deleted' });
    expect(bare.print.sender).toBeUndefined();
    expect(isDeletedPrint(bare.print, CTX.accounts)).toBe(true);
    expect(isDeletedPrint(print, ['alice', 'carol'])).toBe(false);
    expect(isDeletedPrint(print, CTX.accounts)).toBe(true);
    expect(isDeletedPrint(archived, CTX.accounts)).toBe(false);
    // A later deletion (after a restore) is told apart as well; a recall is not a deletion.
    expect(isDeletedPrint(c2cDeletion({ ...archived, revision: 2 }, rescan).print, CTX.accounts)).toBe(true);
    const recall = c2cRevisions(printsOf([message(3)]), [recalled(message(3))], rescan).prints[0] as C2cPrint;
    expect(isDeletedPrint(recall, CTX.accounts)).toBe(false);
  });

  it('lists the prints a page shows, placeholders left out; a deleted message shown again is restored', () => {
    const page = [message(1), message(2), message(3)];
    const prints = printsOf(page);
    const placeholder = { ...message(2), IsPlaceMsg: 1, MsgBody: [] };
    expect(isRoamPlaceholder(placeholder)).toBe(true);
    expect(isRoamPlaceholder(message(2))).toBe(false);
    const outcome = c2cRevisions(prints, [message(1), placeholder, message(3)], rescan);
    expect(outcome.shown).toEqual([message(1).MsgKey, message(3).MsgKey]);
    expect(outcome.rows).toEqual([]);

    const deleted = c2cDeletion(prints.get(message(2).MsgKey) as C2cPrint, rescan).print;
    prints.set(deleted.msgKey, deleted);
    const back = c2cRevisions(prints, [message(2)], rescan);
    expect(back.rows.map((r) => [r.revision, r.change, r.msg_body?.length])).toEqual([[2, 'restored', 1]]);
    const again = c2cRevisions(prints, [recalled(message(2))], rescan);
    expect(again.rows.map((r) => [r.revision, r.change])).toEqual([[2, 'recalled']]);
  });
});

describe('prints in the pair state', () => {
  it('keeps the window only, the higher revision of a key, in time order', () => {
    const base = [...printsOf([message(1), message(2), message(3)]).values()];
    const update: C2cPrint = { ...(base[1] as C2cPrint), revision: 1, flagBits: 8 };
    const stale: C2cPrint = { ...(base[2] as C2cPrint), revision: 0 };
    const kept = prunePrints(base, [update, stale], 1_700_000_002);
    expect(kept.map((p) => [p.msgKey, p.revision])).toEqual([
      [message(2).MsgKey, 1],
      [message(3).MsgKey, 0],
    ]);
    const older = prunePrints([{ ...(base[2] as C2cPrint), revision: 2 }], [stale], 0);
    expect(older.map((p) => p.revision)).toEqual([2]);
  });

  it('round-trips through the state line and refuses anything else', () => {
    const prints = [...printsOf([message(1), recalled(message(2))]).values()];
    expect(parsePrints(JSON.parse(JSON.stringify(serializePrints(prints))))).toEqual(prints);
    expect(parsePrints([['k', 1, 0, null, '0123456789abcdef']])[0]?.flagBits).toBeNull();
    expect(() => parsePrints({})).toThrow(TypeError);
    expect(() => parsePrints([['k', 1, 0, 0]])).toThrow(TypeError);
    expect(() => parsePrints([['k', 1, -1, 0, '0123456789abcdef']])).toThrow(TypeError);
    expect(() => parsePrints([['k', 1.5, 0, 0, '0123456789abcdef']])).toThrow(TypeError);
    expect(() => parsePrints([['k', 1, 0, 0, 'XYZ']])).toThrow(TypeError);
    expect(parsePrints([['k', 1, 0, 0, '0123456789abcdef', 1]])[0]?.sender).toBe(1);
    expect(() => parsePrints([['k', 1, 0, 0, '0123456789abcdef', 2]])).toThrow(TypeError);
  });
});
