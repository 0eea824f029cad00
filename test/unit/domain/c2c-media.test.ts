/**
 * The media references of one-to-one rows (functions/domain/c2c-media.ts): keyed by conversation
 * and `MsgKey`, the same elements and paths as a group message's, none for recalled, quarantined or
 * content-less revisions; and their manifest rows (functions/domain/media-manifest.ts) keep the key.
 */
import { describe, expect, it } from 'vitest';
import { mediaRefsOfC2cRecord } from '../../../functions/domain/c2c-media.ts';
import {
  type C2cRecordContext,
  toC2cRecord,
  toQuarantinedC2cRecord,
} from '../../../functions/domain/c2c-record.ts';
import {
  manifestRow,
  manifestRowId,
  parseManifestRow,
  serializeManifestRow,
} from '../../../functions/domain/media-manifest.ts';
import { mediaRefId, mediaRefKey, mediaRefsOfMessage } from '../../../functions/domain/media-refs.ts';
import type { RoamMessage } from '../../../functions/domain/tencent-types.ts';

const IMAGE = {
  MsgType: 'TIMImageElem',
  MsgContent: {
    UUID: 'img-1',
    ImageFormat: 3,
    ImageInfoArray: [
      { Type: 1, Size: 1200, Width: 10, Height: 10, URL: 'https://cos.ap-shanghai.myqcloud.com/a.png' },
      { Type: 3, Size: 0, Width: 2, Height: 2, URL: 'https://cos.ap-shanghai.myqcloud.com/a-t.png' },
    ],
  },
};
const FILE = {
  MsgType: 'TIMFileElem',
  MsgContent: {
    Url: 'https://cos.ap-shanghai.myqcloud.com/f.bin',
    FileSize: 77,
    FileName: 'f.bin',
    UUID: 'f-1',
  },
};

/** Two messages with the same client-chosen `MsgSeq` (it repeats) and different `MsgKey`s. */
function message(key: string, body: unknown[], flagBits = 0): RoamMessage {
  return {
    From_Account: 'bob|x',
    To_Account: 'alice',
    MsgSeq: 3,
    MsgRandom: 9,
    MsgTimeStamp: 1_765_000_000,
    MsgFlagBits: flagBits,
    MsgKey: key,
    MsgBody: body as RoamMessage['MsgBody'],
  };
}
const CTX: C2cRecordContext = { sdkAppId: 1400000000, accounts: ['bob|x', 'alice'], source: 'roam' };

describe('mediaRefsOfC2cRecord', () => {
  it('keys each element by conversation and MsgKey, with the paths and sizes a group message gets', () => {
    // Prepare
    const served = message('3_9_1765000000', [
      { MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } },
      IMAGE,
      FILE,
    ]);
    // Act
    const refs = mediaRefsOfC2cRecord(toC2cRecord(served, CTX), { imageSizes: ['original', 'thumbnail'] });
    // Assess
    const asGroup = mediaRefsOfMessage(
      { ...served, IsPlaceMsg: 0 } as never,
      { sdkAppId: 1400000000, groupId: '["alice","bob|x"]', topicId: null },
      { imageSizes: ['original', 'thumbnail'] },
    );
    expect(refs).toEqual(asGroup.map((r) => ({ ...r, msgKey: '3_9_1765000000' })));
    expect(refs.map((r) => [r.groupId, r.elementPath, r.sizeClass])).toEqual([
      ['["alice","bob|x"]', '1', 'original'],
      ['["alice","bob|x"]', '1', 'thumbnail'],
      ['["alice","bob|x"]', '2', 'file'],
    ]);
  });

  it('tells apart two messages with the same MsgSeq, and a group message of the same place', () => {
    const a = mediaRefsOfC2cRecord(toC2cRecord(message('3_9_1', [IMAGE]), CTX))[0];
    const b = mediaRefsOfC2cRecord(toC2cRecord(message('3_9_2', [IMAGE]), CTX))[0];
    if (a === undefined || b === undefined) throw new Error('no reference');
    const group = {
      groupId: a.groupId,
      topicId: null,
      msgSeq: a.msgSeq,
      elementPath: '0',
      sizeClass: 'original',
    } as const;
    expect(new Set([mediaRefKey(a), mediaRefKey(b), mediaRefKey(group)]).size).toBe(3);
    expect(mediaRefId(a)).not.toBe(mediaRefId(b));
  });

  it('gives none for a recalled message, a quarantined item, or a recall revision; a modified revision its own', () => {
    const recalled = toC2cRecord(message('k', [], 8), CTX);
    const quarantined = toQuarantinedC2cRecord(
      { text: '{"MsgBody":[]}', reason: 'MsgKey: missing', msgSeq: null },
      { ...CTX, fallbackTime: 1_765_000_000 },
    );
    const recallRevision = toC2cRecord(message('k', [], 8), { ...CTX, revision: 1, change: 'recalled' });
    const edited = toC2cRecord(message('k', [FILE]), { ...CTX, revision: 2, change: 'modified' });
    expect(mediaRefsOfC2cRecord(recalled)).toEqual([]);
    expect(mediaRefsOfC2cRecord(quarantined)).toEqual([]);
    expect(mediaRefsOfC2cRecord(recallRevision)).toEqual([]);
    expect(mediaRefsOfC2cRecord(edited).map((r) => [r.revision, r.msgKey, r.sizeClass])).toEqual([
      [2, 'k', 'file'],
    ]);
  });

  it('keeps the MsgKey through the manifest row and back; a group row reads without one', () => {
    const ref = mediaRefsOfC2cRecord(toC2cRecord(message('3_9_1', [FILE]), CTX))[0];
    if (ref === undefined) throw new Error('no reference');
    const row = parseManifestRow(
      serializeManifestRow(manifestRow(ref, { status: 'expired', reason: 'HTTP 404' }, 1, 1)),
    );
    expect(row.msg_key).toBe('3_9_1');
    expect(row.group_id).toBe('["alice","bob|x"]');
    expect(manifestRowId(row)).toBe(mediaRefId(ref));
    // A row written before one-to-one media (no msg_key) is a group row, as before.
    const { msg_key: _dropped, ...older } = { ...row, msg_key: null };
    const parsed = parseManifestRow(JSON.stringify({ ...older, group_id: 'g1' }));
    expect(parsed.msg_key).toBeNull();
    expect(manifestRowId(parsed)).toBe(`1400000000|g1||3|0|file`);
  });
});
