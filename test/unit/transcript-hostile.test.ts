/**
 * The transcript renderer on the hostile content of issue 21: a body with one odd element shows
 * every element (the odd one as data) instead of "(no content)"; a forwarded or top-level time
 * outside the calendar reads "invalid time" instead of stopping the page; bidi controls and
 * invisible characters are shown as tokens inside isolated spans, so they can neither reorder the
 * metadata nor hide; an item the archive could not read shows as "unreadable" with its exact text.
 */
import { describe, expect, it } from 'vitest';
import { toQuarantinedRecord, toRecord } from '../../functions/domain/record.ts';
import type { JsonObject, JsonValue, RawMessage } from '../../functions/domain/tencent-types.ts';
import { unreadableLine } from '../../functions/query/transcript/load.ts';
import {
  messagesFromRecords,
  NO_MEDIA,
  relativeHref,
  type TranscriptRecord,
} from '../../functions/query/transcript/model.ts';
import { renderTranscriptHtml, safeHref } from '../../functions/query/transcript/render-html.ts';
import {
  BIDI_FILE_NAME,
  BIDI_SENDER,
  HOSTILE_GROUP,
  HOSTILE_TEXTS,
  hostileRecords,
  UNREADABLE_TEXT,
  ZERO_WIDTH_SENDER,
} from '../helpers/hostile-transcript.ts';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0) / 1000;
const CTX = { sdkAppId: 1400000000, groupId: '@TGS#G', topicId: null };

/** The archive record of one API message (so odd bodies land where the archive puts them). */
function archived(seq: number, body: JsonValue, extra: JsonObject = {}): TranscriptRecord {
  return toRecord(
    { From_Account: 'carol', MsgBody: body, MsgSeq: seq, MsgTimeStamp: T0 + seq, ...extra } as RawMessage,
    CTX,
  );
}

function page(records: readonly TranscriptRecord[]): string {
  return renderTranscriptHtml({
    title: 'Hostile',
    source: './archive',
    groupId: '@TGS#G',
    topicId: null,
    from: '2026-12-01',
    to: '2026-12-01',
    timeZone: 'UTC',
    generatedAtMs: Date.UTC(2026, 11, 2),
    messages: messagesFromRecords(records),
    media: NO_MEDIA,
  });
}

/** What a person reads: tags removed (inline ones without a gap), entities decoded. */
function visible(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/, '')
    .replace(/<\/?(?:bdi|span)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

const text = (t: string): JsonObject => ({ MsgType: 'TIMTextElem', MsgContent: { Text: t } });

describe('a body with one odd element (issue 21, point 2)', () => {
  const cases: [string, JsonValue, string[]][] = [
    [
      'a face Index as a string',
      [{ MsgType: 'TIMFaceElem', MsgContent: { Index: '7' } }, text('after the face')],
      ['after the face', '"7"'],
    ],
    ['an extra key in an element', [{ ...text('extra key text'), Extra: 1 }], ['extra key text', 'Extra']],
    [
      'Text and text together',
      [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'upper', text: 'lower' } }],
      ['upper', '"lower"'],
    ],
    [
      'Second: 3.5',
      [{ MsgType: 'TIMSoundElem', MsgContent: { UUID: 's', Second: 3.5 } }, text('voice note')],
      ['voice note', 'voice, 3.5 s', '3.5'],
    ],
    ['a MsgBody that is not a list', text('not a list'), ['not a list', 'TIMTextElem']],
    [
      'an element that is not an object',
      ['just a string', text('then text')],
      ['just a string', 'then text'],
    ],
  ];
  for (const [name, body, shown] of cases) {
    it(`shows every element of a body with ${name}, the odd one as data`, () => {
      const record = archived(1, body);
      // The archive keeps such a body verbatim in `extra`: the column is empty.
      expect(record.msg_body).toEqual([]);
      const html = page([record]);
      expect(html).not.toContain('(no content)');
      expect(html).toContain('element not in the expected shape, shown as data');
      const seen = visible(html);
      for (const s of shown) expect(seen).toContain(s);
    });
  }

  it('shows an odd element inside a forwarded message as data, keeping the others', () => {
    const relay = {
      MsgType: 'TIMRelayElem',
      MsgContent: {
        Title: 't',
        MsgList: [
          { From_Account: 'x', MsgTimeStamp: T0, MsgBody: [{ ...text('nested odd'), K: 2 }, text('ok')] },
        ],
      },
    };
    const seen = visible(page([archived(1, [relay])]));
    expect(seen).toContain('nested odd');
    expect(seen).toContain('ok');
    expect(seen).toContain('element not in the expected shape');
  });
});

describe('times outside the calendar (issue 21, point 4)', () => {
  const relay = (time: JsonValue): JsonObject => ({
    MsgType: 'TIMRelayElem',
    MsgContent: {
      Title: 'fwd',
      MsgList: [{ From_Account: 'x', MsgTimeStamp: time, MsgBody: [text(`nested at ${String(time)}`)] }],
    },
  });

  for (const time of [1e20, Number.NaN, -5, '1700000000', 10n ** 20n, Number.POSITIVE_INFINITY]) {
    it(`shows a forwarded MsgTimeStamp of ${String(time)} as "invalid time"`, () => {
      const record = archived(1, [relay(time)]);
      const html = page([
        {
          ...record,
          msg_body: [{ msg_type: 'TIMRelayElem', msg_content: relay(time).MsgContent as JsonObject }],
          extra: null,
        },
      ]);
      expect(html).toContain(`<time>invalid time</time>`);
      expect(visible(html)).toContain(`nested at ${String(time)}`);
    });
  }

  it('shows a message time after the year 275760 as "invalid time", with its day heading', () => {
    const html = page([archived(1, [text('far future')], { MsgTimeStamp: 99_999_999_999_999 })]);
    expect(html).toContain('<time>invalid time</time>');
    expect(html).toMatch(/<h2 class="day"[^>]*><span>invalid time<\/span>/);
    expect(visible(html)).toContain('far future');
  });
});

describe('bidi controls and invisible characters (issue 21, point 5)', () => {
  // Without the far and invalid times (seqs 12 and 15, point 4), so these tests stand alone.
  const seqs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 16];
  const html = page(hostileRecords(seqs));

  it('leaves no invisible or reordering character raw in the page', () => {
    const body = html.replace(/<style>[\s\S]*?<\/style>/, '');
    expect(body).not.toMatch(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/,
    );
  });

  it('isolates the sender and shows its bidi override and zero-width space as marked tokens', () => {
    expect(BIDI_SENDER).toContain('\u202E');
    expect(html).toContain('<bdi class="sender">alice<span class="cc">⟨U+202E⟩</span>gnp.exe</bdi> <time>');
    expect(ZERO_WIDTH_SENDER).toContain('\u200b');
    expect(html).toContain('<bdi class="sender">admin<span class="cc">⟨U+200B⟩</span></bdi> <time>');
  });

  it('isolates a file name and marks its override, in the text and in the download name', () => {
    expect(BIDI_FILE_NAME).toContain('\u202E');
    expect(html).toContain('📄 <bdi>invoice<span class="cc">⟨U+202E⟩</span>fdp.exe</bdi>');
  });

  it('keeps the metadata line left to right: sender, time, seq', () => {
    expect(html).toMatch(
      /<div class="meta" dir="ltr"><bdi class="sender">[^<]*(?:<span class="cc">[^<]*<\/span>[^<]*)*<\/bdi> <time>09:00:01<\/time> <span class="seq">#1<\/span>/,
    );
  });

  it('shows blank letters that pass for nothing as tokens too', () => {
    const seen = visible(page([archived(1, [text('x')], { From_Account: 'admin\u3164\u115f\u2060\u034f' })]));
    expect(seen).toContain('admin⟨U+3164⟩⟨U+115F⟩⟨U+2060⟩⟨U+034F⟩');
  });

  it('shows terminal escapes and lone surrogates as tokens, keeping the text around them', () => {
    const seen = visible(
      page([archived(1, [text('\u001b[2J\u001b]0;t\u0007 bell'), text('lone \ud800 and \udc00')])]),
    );
    expect(seen).toContain('⟨U+001B⟩[2J⟨U+001B⟩]0;t⟨U+0007⟩ bell');
    expect(seen).toContain('lone ⟨U+D800⟩ and ⟨U+DC00⟩');
  });

  it('keeps emoji sequences whole in message text (their joiner is part of the picture)', () => {
    const html2 = page([archived(1, [text('coder 👩‍💻, flag 🏴󠁧󠁢󠁳󠁣󠁴󠁿, stray a\u200db')])]);
    expect(html2).toContain('coder 👩‍💻, flag 🏴󠁧󠁢󠁳󠁣󠁴󠁿, stray a<span class="cc">⟨U+200D⟩</span>b');
  });

  it('shows every text of the whole hostile conversation', () => {
    const all = page(hostileRecords());
    const seen = visible(all);
    for (const t of HOSTILE_TEXTS) expect(seen).toContain(t);
    expect(all).not.toMatch(/<script|<img[^>]*onerror/i);
  });
});

describe('unreadable items', () => {
  it('shows a quarantined item as unreadable with its exact text, even two at an unknown seq', () => {
    const ctx = { ...CTX, fallbackTime: T0 };
    const a = toQuarantinedRecord({ text: '{"bad": <one>', reason: 'not JSON', msgSeq: null }, ctx);
    const b = toQuarantinedRecord({ text: '[2, "two"]', reason: 'not an object', msgSeq: null }, ctx);
    const html = page([a, b, archived(1, [text('readable')])]);
    expect(html.match(/<article class="msg unreadable"/g)).toHaveLength(2);
    const seen = visible(html);
    expect(seen).toContain('{"bad": <one>');
    expect(seen).toContain('[2, "two"]');
    expect(seen).toContain('reason: not JSON');
    expect(seen).toContain('seq unknown');
    expect(seen).toContain('readable');
  });

  it('shows the quarantined item of the hostile conversation', () => {
    const records = hostileRecords().filter((r) => r.quarantined);
    expect(records).toHaveLength(1);
    expect(records[0]?.group_id).toBe(HOSTILE_GROUP);
    expect(visible(page(records))).toContain(UNREADABLE_TEXT);
  });
});

describe('stored lines that are not records', () => {
  it('are kept as unreadable when they name a group, with their exact text and why', () => {
    const line = '{"group_id":"@TGS#G","msg_seq":3,"msg_time":"soon","from_account":"eve","x":1}';
    const record = unreadableLine(line, new TypeError('msg_time: expected an integer'));
    expect(record).toMatchObject({ group_id: '@TGS#G', msg_seq: 3, quarantined: true, raw: line });
    const html = page(record === undefined ? [] : [record]);
    expect(html).toContain('<time>invalid time</time>');
    const seen = visible(html);
    expect(seen).toContain(line);
    expect(seen).toContain('reason: msg_time: expected an integer');
    expect(seen).toContain('eve');
  });

  it("are left out when they name no group (they may be another conversation's)", () => {
    expect(unreadableLine('{"group_id":"@TGS#G", truncated', new SyntaxError('x'))).toBeUndefined();
    expect(unreadableLine('[1,2]', new TypeError('x'))).toBeUndefined();
    expect(unreadableLine('{"msg_seq":1}', new TypeError('x'))).toBeUndefined();
  });
});

describe('relative links to copied media (issue 21, point 12)', () => {
  it('percent-encodes a folder name with a space and parentheses, and the renderer accepts it', () => {
    const href = relativeHref('my chat (1)_files', 'ab.png');
    expect(href).toBe('my%20chat%20%281%29_files/ab.png');
    expect(safeHref(href)).toBe(href);
    expect(relativeHref('聊天_files', 'a b')).toBe('%E8%81%8A%E5%A4%A9_files/a%20b');
  });

  it('still refuses escaped dot segments, slashes and NUL', () => {
    for (const href of ['%2e%2e/x', '%2E%2E/x', 'a/%2E/b', 'a%2Fb', 'a%5Cb', 'a%00b', 'a%zzb', '%2e%2E']) {
      expect(safeHref(href), href).toBeUndefined();
    }
  });
});
