/**
 * The HTML transcript renderer, pure: every element type, placeholders, revisions, media from the
 * lookup (and refused when the lookup hands back anything but a plain relative path), escaping of
 * hostile content, and a CSP that allows no script.
 */
import { describe, expect, it } from 'vitest';
import { mediaRefKey } from '../../functions/domain/media-refs.ts';
import type { JsonObject } from '../../functions/domain/tencent-types.ts';
import {
  type MediaLookup,
  mediaRefsOf,
  messagesFromRecords,
  NO_MEDIA,
  type TranscriptInput,
  type TranscriptMessage,
  type TranscriptRecord,
} from '../../functions/query/transcript/model.ts';
import {
  contentSecurityPolicy,
  escapeHtml,
  renderTranscriptHtml,
  safeHref,
} from '../../functions/query/transcript/render-html.ts';

const T0 = Date.UTC(2026, 10, 30, 15, 59, 0) / 1000; // 23:59 in Shanghai, 15:59 UTC

function record(
  seq: number,
  body: [string, JsonObject][],
  extra: Partial<TranscriptRecord> = {},
): TranscriptRecord {
  return {
    group_id: '@TGS#G',
    topic_id: null,
    msg_seq: seq,
    msg_time: T0 + seq * 60,
    from_account: `user${seq}`,
    is_place_msg: 0,
    is_system_msg: 0,
    msg_body: body.map(([msg_type, msg_content]) => ({ msg_type, msg_content })),
    cloud_custom_data: null,
    ...extra,
  };
}

const IMAGE = {
  UUID: 'u1',
  ImageFormat: 1,
  ImageInfoArray: [
    { Type: 1, Size: 2_000_000, Width: 800, Height: 600, URL: 'https://evil.example/x.jpg' },
    { Type: 2, Size: 500_000, Width: 400, Height: 300, URL: 'javascript:alert(1)' },
    { Type: 3, Size: 9_000, Width: 80, Height: 60, URL: 'https://evil.example/t.jpg' },
  ],
};

const RECORDS: TranscriptRecord[] = [
  record(1, [['TIMTextElem', { Text: '你好 👋\nsecond line' }]]),
  record(2, [['TIMFaceElem', { Index: 7, Data: '[微笑]' }]]),
  record(3, [['TIMLocationElem', { Desc: '深圳 <b>', Latitude: 22.5, Longitude: 113.9 }]]),
  record(4, [['TIMCustomElem', { Data: '\u0001\u0008{"k":1}', Desc: 'd', Ext: '', Sound: '' }]]),
  record(5, [['TIMImageElem', IMAGE]]),
  record(6, [
    ['TIMFileElem', { Url: 'javascript:alert(1)', UUID: 'f', FileSize: 1234, FileName: 'a"b<c>.pdf' }],
  ]),
  record(7, [['TIMSoundElem', { Url: 'https://evil.example/s.m4a', UUID: 's', Size: 3000, Second: 4 }]]),
  record(8, [
    [
      'TIMVideoFileElem',
      {
        VideoUrl: 'https://evil.example/v.mp4',
        VideoSize: 99_000,
        VideoSecond: 12,
        ThumbWidth: 320,
        ThumbHeight: 180,
      },
    ],
  ]),
  record(9, [
    [
      'TIMRelayElem',
      {
        Title: 'Chat history',
        MsgNum: 2,
        MsgList: [
          {
            From_Account: 'alice',
            MsgTimeStamp: T0,
            MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'nested <i>' } }],
          },
          {
            From_Account: 'bob',
            MsgTimeStamp: T0,
            MsgBody: [{ MsgType: 'TIMImageElem', MsgContent: IMAGE }],
          },
        ],
      },
    ],
  ]),
  record(10, [['TIMCustomElem', { Data: '{"type":"group_tips"}' }]], {
    is_system_msg: 1,
    from_account: 'administrator',
  }),
  record(11, [], { is_place_msg: 1 }),
  record(12, [['TIMTextElem', { Text: 'soon recalled' }]]),
  record(12, [], { is_place_msg: 2, revision: 1, change: 'recalled', observed_at: T0 + 86_400 }),
  record(13, [['TIMTextElem', { Text: 'before edit' }]]),
  record(13, [['TIMTextElem', { Text: 'after edit' }]], {
    revision: 1,
    change: 'modified',
    observed_at: T0 + 3600,
  }),
  record(14, [['TIMNewFutureElem', { Anything: [1, 2] }]]),
  record(15, [['TIMTextElem', { Text: '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&' }]]),
];

function input(messages: TranscriptMessage[], media: MediaLookup = NO_MEDIA): TranscriptInput {
  return {
    title: 'Test <chat>',
    source: './archive',
    groupId: '@TGS#G',
    topicId: null,
    from: '2026-11-30',
    to: '2026-12-01',
    timeZone: 'Asia/Shanghai',
    generatedAtMs: Date.UTC(2026, 11, 1),
    messages,
    media,
  };
}

/** Text between tags (a rough innerText), entities decoded. */
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

describe('messagesFromRecords', () => {
  it('folds revisions into versions and orders by time, topic and seq', () => {
    const messages = messagesFromRecords([...RECORDS].reverse());
    expect(messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const edited = messages.find((m) => m.seq === 13);
    expect(edited?.versions.map((v) => [v.revision, v.change])).toEqual([
      [0, null],
      [1, 'modified'],
    ]);
  });

  it('lists every media reference once, nested ones included', () => {
    const messages = messagesFromRecords(RECORDS);
    const refs = messages.flatMap(mediaRefsOf).map(mediaRefKey);
    expect(refs).toContain('@TGS#G||5|0|large');
    expect(refs).toContain('@TGS#G||9|0.1.0|original');
    expect(refs).toContain('@TGS#G||8|0|video-thumbnail');
    expect(new Set(refs).size).toBe(refs.length);
  });
});

describe('renderTranscriptHtml', () => {
  const messages = messagesFromRecords(RECORDS);
  const html = renderTranscriptHtml(input(messages));
  const text = visible(html);

  it('shows every element type, system messages, placeholders and edits with their history', () => {
    expect(text).toContain('你好 👋\nsecond line');
    expect(text).toContain('face 7');
    expect(text).toContain('深圳 <b>');
    expect(text).toContain('22.500000, 113.900000');
    expect(text).toContain('⟨U+0001⟩⟨U+0008⟩{"k":1}');
    expect(text).toContain('image: media not archived (800×600, 2.0 MB, uuid u1)');
    expect(text).toContain('a"b<c>.pdf');
    expect(text).toContain('voice, 4 s');
    expect(text).toContain('video, 12 s, 99 KB');
    expect(text).toContain('Chat history (2 messages)');
    expect(text).toContain('nested <i>');
    expect(html).toMatch(/<article class="msg system"[^>]*>[\s\S]*?group_tips/);
    expect(text).toContain('deleted or expired');
    expect(html).toMatch(/class="msg recalled changed"[\s\S]*?recalled[\s\S]*?soon recalled/);
    expect(html).toMatch(
      /class="msg changed"[\s\S]*?edited[\s\S]*?after edit[\s\S]*?history: 2 versions[\s\S]*?before edit/,
    );
    expect(text).toContain('TIMNewFutureElem');
  });

  it('puts times in the archive zone with a separator per local day', () => {
    // seq 1 is 16:00 UTC on 2026-11-30 = 00:00 on 2026-12-01 in Shanghai.
    expect(text).toMatch(/Tuesday, 2026-12-01[\s\S]*user1\s+00:00:00/);
    expect(html.match(/<h2 class="day"/g)).toHaveLength(1);
    const utc = visible(renderTranscriptHtml({ ...input(messages), timeZone: 'UTC' }));
    expect(utc).toMatch(/Monday, 2026-11-30[\s\S]*user1\s+16:00:00/);
  });

  it('escapes hostile content and never writes a URL from message content', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toMatch(/<img[^>]*onerror/);
    expect(html).toContain(
      '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;',
    );
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('evil.example');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<title>Test &lt;chat&gt;</title>');
  });

  it('carries a CSP meta tag that allows no script and nothing remote', () => {
    const csp = contentSecurityPolicy();
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src|unsafe-inline|https?:/);
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
  });

  it('shows archived media from the lookup as <img>, <audio>, <video> and download links', () => {
    const lookup: MediaLookup = (ref) => ({
      href: `chat_files/${ref.msgSeq}-${ref.elementPath.replaceAll('.', '_')}-${ref.sizeClass}.bin`,
    });
    const page = renderTranscriptHtml(input(messages, lookup));
    expect(page).toContain('<img src="chat_files/5-0-large.bin"');
    expect(page).toContain('<a href="chat_files/5-0-original.bin">');
    expect(page).toContain('<img src="chat_files/9-0_1_0-large.bin"');
    expect(page).toContain(
      '<a class="file" href="chat_files/6-0-file.bin" download="a&quot;b&lt;c&gt;.pdf">',
    );
    expect(page).toMatch(/<audio controls[^>]*><source src="chat_files\/7-0-sound.bin"/);
    expect(page).toMatch(
      /<video controls[^>]*poster="chat_files\/8-0-video-thumbnail.bin"[^>]*><source src="chat_files\/8-0-video.bin"/,
    );
    expect(page).not.toContain('media not archived');
  });

  it('refuses a lookup href that is not a plain relative path', () => {
    for (const href of [
      'javascript:alert(1)',
      'https://evil.example/x',
      '/etc/passwd',
      '../x',
      'a/../../b',
      '//host/x',
      'a b',
    ]) {
      expect(safeHref(href)).toBeUndefined();
      const page = renderTranscriptHtml(input(messages, () => ({ href })));
      expect(page).not.toContain(href.includes('<') ? href : `"${href}"`);
      expect(page).toContain('media not archived');
    }
    expect(safeHref('chat_files/ab12.jpg')).toBe('chat_files/ab12.jpg');
  });

  it('shows lone surrogates as tokens and reads CR as a line feed', () => {
    expect(escapeHtml('a\r\nb\rc\ud800d')).toBe('a\nb\nc⟨U+D800⟩d');
  });
});
