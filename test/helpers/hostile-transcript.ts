/**
 * One conversation made of the hostile messages of issue 21, archived the way the engine leaves
 * them (records mapped by `toRecord`, a rejected item by `toQuarantinedRecord`, gzip NDJSON under
 * `messages/`, media bytes and manifest rows under `media/` and `media-manifest/`), for the
 * transcript tests: odd elements, far and invalid times, bidi and zero-width senders and file
 * names, a 5,000-character sender, HTML and script text, terminal escapes, an unreadable item,
 * and PNG and SVG images.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import {
  type GroupMemberRow,
  type GroupNameRow,
  IDENTITY_KINDS,
  type UserNameRow,
} from '../../functions/domain/identity-rows.ts';
import type { MediaRefPlace, SizeClass } from '../../functions/domain/media-refs.ts';
import { dateInZone, messageObjectKey } from '../../functions/domain/partition.ts';
import { type ArchiveRecord, toQuarantinedRecord, toRecord } from '../../functions/domain/record.ts';
import { serializeRecord } from '../../functions/domain/record-codec.ts';
import type { JsonObject, JsonValue, RawMessage } from '../../functions/domain/tencent-types.ts';
import { archivedManifestRow, pngImage } from './media-fixtures.ts';

export const HOSTILE_APP = 1400000021;
export const HOSTILE_GROUP = '@TGS#HOSTILE21';
/** 2026-12-01 09:00:00 UTC. */
export const HOSTILE_T0 = Date.UTC(2026, 11, 1, 9, 0, 0) / 1000;
export const HOSTILE_DT = dateInZone(HOSTILE_T0, 'UTC');

export const BIDI_SENDER = 'alice\u202Egnp.exe';
export const ZERO_WIDTH_SENDER = 'admin\u200b';
export const BIDI_FILE_NAME = 'invoice\u202Efdp.exe';
export const LONG_SENDER = 'x'.repeat(5000);
export const RTL_SENDER = 'מנהל שלום';
export const SCRIPT_TEXT =
  '<img src=x onerror="window.__pwned=1;alert(1)"> <script>window.__pwned=2</script>';
export const TERMINAL_TEXT = '\u001b[2J\u001b]0;pwned\u0007terminal escapes';
export const BENIGN_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" viewBox="0 0 120 80">' +
  '<rect width="120" height="80" fill="#16a34a"/><circle cx="60" cy="40" r="24" fill="#fff"/></svg>';

const text = (t: string): JsonObject => ({ MsgType: 'TIMTextElem', MsgContent: { Text: t } });
const image = (uuid: string): JsonObject => ({
  MsgType: 'TIMImageElem',
  MsgContent: {
    UUID: uuid,
    ImageFormat: 3,
    ImageInfoArray: [{ Type: 1, Size: 400, Width: 120, Height: 80, URL: 'https://evil.example/i' }],
  },
});

/** The readable messages: seq, sender, body, and a time when it is not `HOSTILE_T0 + seq`. */
const MESSAGES: { seq: number; from: string; body: JsonValue; time?: number }[] = [
  { seq: 1, from: BIDI_SENDER, body: [text('hello from alice')] },
  { seq: 2, from: ZERO_WIDTH_SENDER, body: [text('I am the admin')] },
  {
    seq: 3,
    from: 'bob',
    body: [{ MsgType: 'TIMFileElem', MsgContent: { UUID: 'f1', FileName: BIDI_FILE_NAME, FileSize: 8192 } }],
  },
  { seq: 4, from: LONG_SENDER, body: [text(`long unbroken text ${'y'.repeat(3000)}`)] },
  { seq: 5, from: 'mallory', body: [text(SCRIPT_TEXT)] },
  { seq: 6, from: 'mallory', body: [text(TERMINAL_TEXT)] },
  {
    seq: 7,
    from: 'carol',
    body: [
      { MsgType: 'TIMFaceElem', MsgContent: { Index: '7', Data: 'smile' } },
      text('face index as a string'),
    ],
  },
  { seq: 8, from: 'carol', body: [{ ...text('an element with an extra key'), Extra: 1 }] },
  {
    seq: 9,
    from: 'carol',
    body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'upper-case Text', text: 'lower-case text' } }],
  },
  {
    seq: 10,
    from: 'carol',
    body: [
      { MsgType: 'TIMSoundElem', MsgContent: { UUID: 's1', Size: 3000, Second: 3.5 } },
      text('fractional second'),
    ],
  },
  { seq: 11, from: 'carol', body: text('a body that is not a list') },
  {
    seq: 12,
    from: 'dave',
    body: [
      {
        MsgType: 'TIMRelayElem',
        MsgContent: {
          Title: 'Forwarded from the far future',
          MsgNum: 2,
          MsgList: [
            { From_Account: 'future', MsgTimeStamp: 1e20, MsgBody: [text('forwarded far future')] },
            { From_Account: 'past', MsgTimeStamp: -5, MsgBody: [text('forwarded before 1970')] },
          ],
        },
      },
    ],
  },
  { seq: 13, from: 'erin', body: [image('png1'), image('svg1'), text('a PNG and an SVG')] },
  { seq: 14, from: RTL_SENDER, body: [text('right-to-left sender, time and seq stay in order')] },
  { seq: 15, from: 'frank', body: [text('sent after the year 9999')], time: 99_999_999_999_999 },
];

/** The text of every message, as a reader must find it in the page. */
export const HOSTILE_TEXTS = [
  'hello from alice',
  'I am the admin',
  `long unbroken text ${'y'.repeat(3000)}`,
  SCRIPT_TEXT,
  'terminal escapes',
  'face index as a string',
  'an element with an extra key',
  'upper-case Text',
  'lower-case text',
  'fractional second',
  'a body that is not a list',
  'forwarded far future',
  'forwarded before 1970',
  'a PNG and an SVG',
  'right-to-left sender, time and seq stay in order',
  'sent after the year 9999',
  'quarantined <b>not json',
];

/** The exact text of the item the page schema rejected (it is not even JSON). */
export const UNREADABLE_TEXT = '{"MsgSeq":16,"From_Account":"mallory","MsgBody":"quarantined <b>not json';

/**
 * The records of the conversation, as the engine would map them; `seqs` keeps only those messages
 * (the unreadable item is seq 16).
 */
export function hostileRecords(seqs?: readonly number[]): ArchiveRecord[] {
  const ctx = { sdkAppId: HOSTILE_APP, groupId: HOSTILE_GROUP, topicId: null, observedAt: HOSTILE_T0 };
  const kept = seqs === undefined ? MESSAGES : MESSAGES.filter((m) => seqs.includes(m.seq));
  const records = kept.map(({ seq, from, body, time }) =>
    toRecord(
      {
        From_Account: from,
        IsPlaceMsg: 0,
        MsgBody: body,
        MsgRandom: seq,
        MsgSeq: seq,
        MsgTimeStamp: time ?? HOSTILE_T0 + seq,
      } as RawMessage,
      ctx,
    ),
  );
  const rejected = { text: UNREADABLE_TEXT, reason: 'item is not JSON', msgSeq: 16 };
  if (seqs === undefined || seqs.includes(16))
    records.push(toQuarantinedRecord(rejected, { ...ctx, fallbackTime: HOSTILE_T0 + 16 }));
  return records;
}

/**
 * Writes the conversation (or the messages `seqs`) into `store` (one object for the day, whatever
 * a record's own time) and archives its images (`png1` as PNG, `svg1` as SVG) and its file;
 * returns the records.
 */
export async function writeHostileArchive(
  store: LocalFolderStore,
  seqs?: readonly number[],
): Promise<ArchiveRecord[]> {
  const records = hostileRecords(seqs);
  const key = messageObjectKey({ sdkAppId: HOSTILE_APP, dt: HOSTILE_DT, runId: 'hostile', part: 0 });
  await store.put(key, gzipSync(`${records.map(serializeRecord).join('\n')}\n`));
  const ref = (msgSeq: number, element: number, sizeClass: SizeClass): MediaRefPlace => ({
    groupId: HOSTILE_GROUP,
    topicId: null,
    msgSeq,
    elementPath: String(element),
    sizeClass,
  });
  const media: [MediaRefPlace, Buffer, string][] = [
    [ref(13, 0, 'original'), pngImage(120, 80, [37, 99, 235]), 'image/png'],
    [ref(13, 1, 'original'), Buffer.from(BENIGN_SVG), 'image/svg+xml'],
    [ref(3, 0, 'file'), Buffer.from('%PDF-1.4 not really'), 'application/pdf'],
  ];
  const rows: string[] = [];
  for (const [mediaRef, bytes, contentType] of media) {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const objectKey = `media/sha256/${sha256.slice(0, 2)}/${sha256}`;
    await store.put(objectKey, bytes);
    rows.push(JSON.stringify(archivedManifestRow(mediaRef, objectKey, contentType, bytes.length)));
  }
  await store.put(
    `media-manifest/sdkappid=${HOSTILE_APP}/dt=${HOSTILE_DT}/part-hostile-00000.ndjson.gz`,
    gzipSync(`${rows.join('\n')}\n`),
  );
  return records;
}

/** A 5,000-character name without a space (the page clips it to a line and keeps the whole text). */
export const LONG_NAME = 'L'.repeat(4990).concat('-name-end');
/** Names with a bidi override, and with controls (NUL, BEL, a terminal escape). */
export const BIDI_NAME = 'Bob\u202Egnp.exe';
export const CONTROL_NAME = 'Frank\u0000\u0007\u001b[2J';
/** The group's name before and after its rename at seq 10: a path, a bidi override, a NUL, markup. */
export const GROUP_NAME_BEFORE = 'Night shift';
export const GROUP_NAME_AFTER = '../Ops\u202E/night\u0000 <b>';

/**
 * The identity rows of the hostile conversation (docs/names.md), as the capture writes them:
 * carol is renamed from `Carol` to `Carol Chen` between her seq 8 and 9 and is an Admin; bob (an
 * Owner) has a bidi nickname, mallory a 5,000-character one, erin an empty one (shown by account),
 * frank one with controls; dave's account is deleted before his seq 12 (his last known name
 * stays), erin's after her seq 13 (the account has since been deleted); the group is renamed
 * before seq 10 to a name with a path, a bidi override and a NUL.
 */
export function hostileIdentityRows(): {
  users: UserNameRow[];
  groups: GroupNameRow[];
  members: GroupMemberRow[];
} {
  const before = HOSTILE_T0 - 3600;
  const user = (account: string, nick: string | null, at: number): UserNameRow => ({
    sdk_app_id: HOSTILE_APP,
    account,
    nick,
    image: nick === null ? null : '',
    status: nick === null ? 'gone' : 'active',
    result_code: nick === null ? 40006 : null,
    observed_at: at,
  });
  const member = (account: string, role: string): GroupMemberRow => ({
    sdk_app_id: HOSTILE_APP,
    group_id: HOSTILE_GROUP,
    account,
    role,
    name_card: '',
    status: 'member',
    observed_at: before,
  });
  const group = (name: string, at: number): GroupNameRow => ({
    sdk_app_id: HOSTILE_APP,
    group_id: HOSTILE_GROUP,
    name,
    type: 'Public',
    owner_account: 'bob',
    status: 'active',
    error_code: null,
    observed_at: at,
  });
  return {
    users: [
      user('carol', 'Carol', before),
      user('carol', 'Carol Chen', HOSTILE_T0 + 9),
      user('bob', BIDI_NAME, before),
      user('mallory', LONG_NAME, before),
      user('erin', '', before),
      user('frank', CONTROL_NAME, before),
      user('dave', 'Dave', before),
      user('dave', null, HOSTILE_T0 + 5),
      user('erin', null, HOSTILE_T0 + 20),
      // Another app's row for the same account: not this archive's app, never shown.
      { ...user('carol', 'Other app Carol', before), sdk_app_id: HOSTILE_APP + 1 },
    ],
    groups: [group(GROUP_NAME_BEFORE, before), group(GROUP_NAME_AFTER, HOSTILE_T0 + 10)],
    members: [member('carol', 'Admin'), member('bob', 'Owner'), member('erin', 'Member')],
  };
}

/** Writes {@link hostileIdentityRows} under `identities/<kind>/sdkappid=…/dt=…/`, one object per kind. */
export async function writeHostileIdentities(store: LocalFolderStore): Promise<void> {
  const rows = hostileIdentityRows();
  for (const kind of IDENTITY_KINDS) {
    const lines = rows[kind].map((row) => JSON.stringify(row));
    await store.put(
      `identities/${kind}/sdkappid=${HOSTILE_APP}/dt=${HOSTILE_DT}/part-hostile-00000.ndjson.gz`,
      gzipSync(`${lines.join('\n')}\n`),
    );
  }
}
