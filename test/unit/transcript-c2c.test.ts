/**
 * A one-to-one conversation's transcript (issue 26) on hostile content, under the group
 * transcript's rules (functions/query/transcript/render-html.ts): markup and script in a message
 * are text, bidi and invisible characters in accounts and text are shown as tokens inside isolated
 * spans, a `javascript:` URL in an image never becomes a link, a recall revision shows the
 * message as recalled with its history, and an item the archive could not read shows as
 * "unreadable" with its exact text. Messages are one per `MsgKey` whatever their `MsgSeq`.
 */
import { describe, expect, it } from 'vitest';
import { type C2cRecord, toC2cRecord, toQuarantinedC2cRecord } from '../../functions/domain/c2c-record.ts';
import { type C2cPrint, c2cDeletion, c2cPrintOf } from '../../functions/domain/c2c-revision.ts';
import type { RoamMessage } from '../../functions/domain/tencent-types.ts';
import { messagesFromC2cRecords } from '../../functions/query/transcript/c2c.ts';
import { NO_MEDIA } from '../../functions/query/transcript/model.ts';
import { renderTranscriptHtml } from '../../functions/query/transcript/render-html.ts';
import { SCRIPT_TEXT } from '../helpers/hostile-transcript.ts';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0) / 1000;
const MALLORY = 'mallory\u202Egnp.exe';
const ADMIN = 'admin\u200b';
const PAIR = [ADMIN, MALLORY] as const;
const CTX = { sdkAppId: 1400000026, accounts: PAIR, source: 'roam', observedAt: T0 + 100 } as const;

function message(key: string, seq: number, from: string, body: unknown, extra: object = {}): RoamMessage {
  return {
    From_Account: from,
    To_Account: from === ADMIN ? MALLORY : ADMIN,
    MsgKey: key,
    MsgSeq: seq,
    MsgRandom: 1,
    MsgTimeStamp: T0 + seq,
    MsgFlagBits: 0,
    MsgBody: body,
    ...extra,
  } as unknown as RoamMessage;
}

const text = (t: string) => [{ MsgType: 'TIMTextElem', MsgContent: { Text: t } }];

function records(): C2cRecord[] {
  const recalledKey = 'k-recalled';
  const first = toC2cRecord(message(recalledKey, 3, ADMIN, text('soon gone')), CTX);
  return [
    toC2cRecord(message('k-script', 1, MALLORY, text(SCRIPT_TEXT)), CTX),
    // The same MsgSeq as the message before: still two messages (MsgSeq is the client's).
    toC2cRecord(message('k-bidi', 1, MALLORY, text('pay \u202Eexe.fdp now')), CTX),
    toC2cRecord(
      message('k-image', 2, MALLORY, [
        {
          MsgType: 'TIMImageElem',
          MsgContent: {
            UUID: 'u',
            ImageFormat: 1,
            ImageInfoArray: [{ Type: 1, URL: 'javascript:alert(1)' }],
          },
        },
      ]),
      CTX,
    ),
    first,
    toC2cRecord(message(recalledKey, 3, ADMIN, undefined, { MsgFlagBits: 8 }), {
      ...CTX,
      revision: 1,
      change: 'recalled',
      observedAt: T0 + 500,
    }),
    toQuarantinedC2cRecord(
      {
        text: '{"MsgKey":"k-bad","From_Account":"x","MsgBody":"<b>not json',
        reason: 'not JSON',
        msgSeq: null,
      },
      { ...CTX, fallbackTime: T0 + 9 },
    ),
  ];
}

function page(): string {
  return renderTranscriptHtml({
    title: `${ADMIN} and ${MALLORY}`,
    source: './archive',
    groupId: '',
    topicId: null,
    from: '2026-12-01',
    to: '2026-12-01',
    timeZone: 'UTC',
    generatedAtMs: Date.UTC(2026, 11, 2),
    messages: messagesFromC2cRecords(records()),
    media: NO_MEDIA,
    conversation: PAIR,
  });
}

describe('a one-to-one transcript on hostile content', () => {
  it('keeps one message per MsgKey, in time order, with the recall as a version', () => {
    const messages = messagesFromC2cRecords(records());
    expect(messages.map((m) => m.key)).toEqual([
      'k-bidi',
      'k-script',
      'k-image',
      'k-recalled',
      expect.stringMatching(/^unreadable-/),
    ]);
    const recalled = messages.find((m) => m.key === 'k-recalled');
    expect(recalled?.versions.map((v) => [v.revision, v.isPlace, v.change])).toEqual([
      [0, 0, null],
      [1, 2, 'recalled'],
    ]);
  });

  it('escapes markup, shows invisible characters as tokens in isolated spans, links no URL of the content', () => {
    const html = page();
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).not.toContain('javascript:');
    expect(html).toContain('&lt;script&gt;window.__pwned=2&lt;/script&gt;');
    expect(html).not.toMatch(/[\u202E\u200b]/);
    expect(html).toContain(
      'One-to-one conversation of <code><bdi>admin<span class="cc">⟨U+200B⟩</span></bdi></code> and <code><bdi>mallory<span class="cc">⟨U+202E⟩</span>gnp.exe</bdi></code>',
    );
    expect(html).toContain('pay <span class="cc">⟨U+202E⟩</span>exe.fdp now');
    // Each message is anchored by its key; two messages sharing a MsgSeq have distinct anchors.
    expect(html).toContain('id="k-k-script"');
    expect(html).toContain('id="k-k-bidi"');
    expect(html).not.toContain('class="seq"');
  });

  it('shows a recall with its history and an unreadable item with its exact text', () => {
    const html = page();
    expect(html).toMatch(/<article class="msg recalled changed" id="k-k-recalled">/);
    expect(html).toContain('history: 2 versions');
    expect(html).toContain('&lt;b&gt;not json');
    expect(html).toContain('reason: <bdi>not JSON</bdi>');
  });

  it('shows a message neither side shows any more as deleted, with its history', () => {
    const first = toC2cRecord(message('k-deleted', 4, MALLORY, text('said once')), CTX);
    const { row } = c2cDeletion(c2cPrintOf(first) as C2cPrint, { ...CTX, observedAt: T0 + 600 });
    const messages = messagesFromC2cRecords([row, first]);
    expect(messages.map((m) => [m.key, m.sender])).toEqual([['k-deleted', MALLORY]]);
    expect(messages[0]?.versions.map((v) => [v.revision, v.isPlace, v.change])).toEqual([
      [0, 0, null],
      [1, 1, 'deleted'],
    ]);
    const html = renderTranscriptHtml({
      title: 'deleted',
      source: './archive',
      groupId: '',
      topicId: null,
      from: '2026-12-01',
      to: '2026-12-01',
      timeZone: 'UTC',
      generatedAtMs: Date.UTC(2026, 11, 2),
      messages,
      media: NO_MEDIA,
      conversation: PAIR,
    });
    expect(html).toMatch(/<article class="msg deleted changed" id="k-k-deleted">/);
    expect(html).toContain('said once');
  });
});
