import { describe, expect, it } from 'vitest';
import { batches, decideGroup, selectsGroupId, wildcardToRegExp } from '../../functions/domain/planner.ts';

const all = { include: [], exclude: [], types: [] };
const ok = (groupId: string, type: string) => ({
  ok: true as const,
  groupId,
  type,
  nextMsgSeq: 10,
  lastMsgTime: 1,
});

describe('group selection', () => {
  it('matches exact ids and wildcards, exclude winning over include', () => {
    const sel = { include: ['@TGS#a*', 'support-?'], exclude: ['@TGS#aSECRET'], types: [] };
    expect(selectsGroupId(sel, '@TGS#abc')).toBe(true);
    expect(selectsGroupId(sel, 'support-1')).toBe(true);
    expect(selectsGroupId(sel, 'support-12')).toBe(false);
    expect(selectsGroupId(sel, '@TGS#aSECRET')).toBe(false);
    expect(selectsGroupId(sel, '@TGS#b')).toBe(false);
  });
  it('treats regex characters in ids literally', () => {
    expect(wildcardToRegExp('a.b(c)').test('a.b(c)')).toBe(true);
    expect(wildcardToRegExp('a.b(c)').test('aXb(c)')).toBe(false);
  });
  it('selects everything with no filters', () => {
    expect(selectsGroupId(all, 'anything')).toBe(true);
  });
});

describe('decideGroup', () => {
  it.each([
    [
      { ok: false as const, groupId: 'g', errorCode: 10010, errorInfo: '' },
      { kind: 'skip', reason: 'deleted' },
    ],
    [
      { ok: false as const, groupId: 'g', errorCode: 10015, errorInfo: '' },
      { kind: 'skip', reason: 'invalid-id' },
    ],
    [
      { ok: false as const, groupId: 'g', errorCode: 10002, errorInfo: 'x' },
      { kind: 'skip', reason: 'error' },
    ],
    [ok('g', 'AVChatRoom'), { kind: 'skip', reason: 'no-history-type' }],
    [ok('g', 'BChatRoom'), { kind: 'skip', reason: 'no-history-type' }],
    [ok('g', 'Public'), { kind: 'archive', type: 'Public', hasTopics: false }],
    [ok('@TGS#_@TGS#cX', 'Community'), { kind: 'archive', type: 'Community', hasTopics: true }],
    [ok('@TGS#cX', 'Community'), { kind: 'archive', type: 'Community', hasTopics: false }],
  ])('%o → %o', (info, expected) => {
    expect(decideGroup(all, info)).toMatchObject(expected);
  });
  it('filters by type, treating Work/Meeting as Private/ChatRoom', () => {
    const sel = { include: [], exclude: [], types: ['Work', 'Public'] };
    expect(decideGroup(sel, ok('g', 'Private')).kind).toBe('archive');
    expect(decideGroup(sel, ok('g', 'ChatRoom'))).toMatchObject({ kind: 'skip', reason: 'type-filtered' });
  });
});

describe('batches', () => {
  it('splits into batches of at most n', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 50)).toEqual([]);
  });
});
