import { describe, expect, it } from 'vitest';
import {
  manifestObjectKey,
  manifestRow,
  manifestRowId,
  mediaObjectKey,
  parseManifestRow,
  serializeManifestRow,
} from '../../functions/domain/media-manifest.ts';
import {
  mediaRefId,
  mediaRefKey,
  mediaRefsOfMessage,
  mediaRefsOfRecord,
} from '../../functions/domain/media-refs.ts';
import { toRecord } from '../../functions/domain/record.ts';
import type { JsonObject, RawMessage } from '../../functions/domain/tencent-types.ts';
import { manifestRefKey } from '../../functions/query/media-manifest.ts';
import { mediaRefsOf, messagesFromRecords } from '../../functions/query/transcript/model.ts';

const CONTEXT = { sdkAppId: 1400000000, groupId: '@TGS#1MEDIA', topicId: null };

function message(body: JsonObject[], extra: JsonObject = {}): RawMessage {
  return { MsgSeq: 7, MsgTimeStamp: 1_700_000_000, IsPlaceMsg: 0, MsgBody: body, ...extra };
}

const image: JsonObject = {
  MsgType: 'TIMImageElem',
  MsgContent: {
    UUID: 'img-uuid',
    ImageFormat: 1,
    ImageInfoArray: [
      { Type: 1, Size: 1000, Width: 10, Height: 10, URL: 'https://cos.ap-shanghai.myqcloud.com/b/1.jpg' },
      { Type: 2, Size: 500, Width: 5, Height: 5, URL: 'https://cos.ap-shanghai.myqcloud.com/b/2.jpg' },
      { Type: 3, Size: 50, Width: 1, Height: 1, URL: 'https://cos.ap-shanghai.myqcloud.com/b/3.jpg' },
    ],
  },
};

describe('media references of a message', () => {
  it('takes the original image by default, and the sizes media.imageSizes adds', () => {
    // Act
    const byDefault = mediaRefsOfMessage(message([image]), CONTEXT);
    const all = mediaRefsOfMessage(message([image]), CONTEXT, {
      imageSizes: ['original', 'large', 'thumbnail'],
    });

    // Assess
    expect(byDefault.map((r) => [r.sizeClass, r.url, r.declaredSize])).toEqual([
      ['original', 'https://cos.ap-shanghai.myqcloud.com/b/1.jpg', 1000],
    ]);
    // The SDK documents `size` as valid for the original only: large/thumbnail sizes are not checked.
    expect(all.map((r) => [r.sizeClass, r.declaredSize])).toEqual([
      ['original', 1000],
      ['large', null],
      ['thumbnail', null],
    ]);
    expect(all.every((r) => r.kind === 'image' && r.format === 'jpg' && r.elementPath === '0')).toBe(true);
  });

  it('reads files, both sound layouts and video with its thumbnail', () => {
    // Prepare
    const body: JsonObject[] = [
      {
        MsgType: 'TIMFileElem',
        MsgContent: { Url: 'https://x/f', UUID: 'f', FileSize: 42, FileName: '报告.pdf', Download_Flag: 2 },
      },
      {
        MsgType: 'TIMSoundElem',
        MsgContent: { Url: 'https://x/s', UUID: 's', Size: 9, Second: 3, Download_Flag: 2 },
      },
      { MsgType: 'TIMSoundElem', MsgContent: { UUID: 'old', Size: 9, Second: 3 } },
      {
        MsgType: 'TIMVideoFileElem',
        MsgContent: {
          VideoUrl: 'https://x/v',
          VideoUUID: 'v',
          VideoSize: 100,
          VideoFormat: 'mp4',
          ThumbUrl: 'https://x/t',
          ThumbUUID: 't',
          ThumbSize: 10,
          ThumbFormat: 'JPG',
        },
      },
    ];

    // Act
    const refs = mediaRefsOfMessage(message(body), CONTEXT);

    // Assess
    expect(refs.map((r) => [r.elementPath, r.sizeClass, r.url, r.declaredSize, r.fileName])).toEqual([
      ['0', 'file', 'https://x/f', 42, '报告.pdf'],
      ['1', 'sound', 'https://x/s', 9, null],
      ['2', 'sound', null, 9, null],
      ['3', 'video', 'https://x/v', 100, null],
      ['3', 'video-thumbnail', 'https://x/t', 10, null],
    ]);
  });

  it('records old-SDK elements without URL as references without URL', () => {
    // Prepare
    const body: JsonObject[] = [
      { MsgType: 'TIMFileElem', MsgContent: { UUID: 'f', FileSize: 42, FileName: 'a.txt' } },
      {
        MsgType: 'TIMVideoFileElem',
        MsgContent: { VideoUUID: 'v', VideoSize: 1, ThumbUUID: 't', ThumbSize: 1 },
      },
      { MsgType: 'TIMImageElem', MsgContent: { UUID: 'i', ImageFormat: 3 } },
    ];

    // Act
    const refs = mediaRefsOfMessage(message(body), CONTEXT);

    // Assess
    expect(refs.map((r) => [r.sizeClass, r.url])).toEqual([
      ['file', null],
      ['video', null],
      ['video-thumbnail', null],
      ['original', null],
    ]);
  });

  it('finds media nested in merged forwards, with a path through the MsgList', () => {
    // Prepare
    const relay: JsonObject = {
      MsgType: 'TIMRelayElem',
      MsgContent: {
        Title: 't',
        MsgNum: 2,
        MsgList: [
          { MsgSeq: 1, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }] },
          {
            MsgSeq: 2,
            MsgBody: [
              { MsgType: 'TIMTextElem', MsgContent: { Text: 'look' } },
              image,
              { MsgType: 'TIMRelayElem', MsgContent: { MsgList: [{ MsgBody: [image] }] } },
            ],
          },
        ],
      },
    };

    // Act
    const refs = mediaRefsOfMessage(
      message([{ MsgType: 'TIMTextElem', MsgContent: { Text: 'x' } }, relay]),
      CONTEXT,
    );

    // Assess
    expect(refs.map((r) => r.elementPath)).toEqual(['1.1.1', '1.1.2.0.0']);
    expect(new Set(refs.map((r) => mediaRefId(r))).size).toBe(2);
  });

  it('has none for placeholders and recalled messages, even with a body', () => {
    expect(mediaRefsOfMessage(message([image], { IsPlaceMsg: 1 }), CONTEXT)).toEqual([]);
    expect(mediaRefsOfMessage(message([image], { IsPlaceMsg: 2 }), CONTEXT)).toEqual([]);
    expect(mediaRefsOfMessage(message([], {}), CONTEXT)).toEqual([]);
  });

  it('gives the same references for the archived record as for the API message', () => {
    // Prepare
    const raw = message([image, { MsgType: 'TIMSoundElem', MsgContent: { Url: 'https://x/s', Size: 3 } }]);

    // Act
    const fromRecord = mediaRefsOfRecord(toRecord(raw, CONTEXT));

    // Assess
    expect(fromRecord).toEqual(mediaRefsOfMessage(raw, CONTEXT));
    expect(fromRecord).toHaveLength(2);
  });
});

describe('one reference model for the copier, the transcript, the manifest reader and the audit', () => {
  it('names the same references by the same key from the archived record, the transcript and the manifest', () => {
    // Prepare
    const raw = message([
      image,
      { MsgType: 'TIMFileElem', MsgContent: { Url: 'https://x/f', FileSize: 9, FileName: 'a.pdf' } },
      { MsgType: 'TIMRelayElem', MsgContent: { MsgList: [{ MsgBody: [image] }, { MsgBody: [image] }] } },
      { MsgType: 'TIMVideoFileElem', MsgContent: { VideoUrl: 'https://x/v', ThumbUrl: 'https://x/t' } },
    ]);
    const record = toRecord(raw, CONTEXT);
    const sizes = { imageSizes: ['original', 'large', 'thumbnail'] as const };

    // Act
    const domainRefs = mediaRefsOfRecord(record, sizes);
    const transcriptKeys = messagesFromRecords([record]).flatMap(mediaRefsOf).map(mediaRefKey);
    const manifestKeys = domainRefs.map((ref) =>
      manifestRefKey(manifestRow(ref, { status: 'no_url', reason: 'no url' }, 0, 0)),
    );

    // Assess
    expect(transcriptKeys.sort()).toEqual(domainRefs.map(mediaRefKey).sort());
    expect(manifestKeys).toEqual(domainRefs.map(mediaRefKey));
    expect(transcriptKeys).toContain('@TGS#1MEDIA||7|2.1.0|large');
    expect(domainRefs.map(mediaRefId)).toEqual(domainRefs.map((ref) => `1400000000|${mediaRefKey(ref)}`));
  });
});

describe('media manifest', () => {
  const [ref] = mediaRefsOfMessage(message([image]), CONTEXT);
  if (!ref) throw new Error('no ref');
  const sha = 'ab'.repeat(32);

  it('keys bytes by their SHA-256 under media/sha256/<2 hex>/', () => {
    expect(mediaObjectKey(sha)).toBe(`media/sha256/ab/${sha}`);
    expect(() => mediaObjectKey('AB'.repeat(32))).toThrow(RangeError);
    expect(() => mediaObjectKey('../etc')).toThrow(RangeError);
  });

  it('writes manifest objects into the dt partition of the message', () => {
    expect(manifestObjectKey({ sdkAppId: 1400000000, dt: '2024-03-10', runId: 'r1', part: 3 })).toBe(
      'media-manifest/sdkappid=1400000000/dt=2024-03-10/part-r1-00003.ndjson.gz',
    );
  });

  it('round-trips a row through NDJSON, keys in column order, identity equal to the reference', () => {
    // Prepare
    const row = manifestRow(
      ref,
      { status: 'archived', sha256: sha, bytes: 1000, contentType: 'image/jpeg', reason: null },
      5,
      2,
    );

    // Act
    const line = serializeManifestRow(row);

    // Assess
    expect(parseManifestRow(line)).toEqual(row);
    expect(Object.keys(JSON.parse(line))[0]).toBe('sdk_app_id');
    expect(row.object_key).toBe(mediaObjectKey(sha));
    expect(manifestRowId(row)).toBe(mediaRefId(ref));
    const refused = manifestRow(ref, { status: 'refused', reason: 'host x is not allowed' }, 5, 1);
    expect([refused.sha256, refused.object_key, refused.reason]).toEqual([
      null,
      null,
      'host x is not allowed',
    ]);
    expect(() => parseManifestRow('{"status":"archived"}')).toThrow(TypeError);
  });
});
