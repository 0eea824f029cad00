/**
 * Names in transcripts (functions/query/transcript/names.ts): the file name made from the group's
 * name is safe on every file system (no separator, reserved character, control or bidi control,
 * bounded length) and falls back to the group id; without identity rows nothing changes.
 */
import { describe, expect, it } from 'vitest';
import { identityTimeline } from '../../functions/domain/identity-timeline.ts';
import {
  NO_MEDIA,
  type TranscriptGroup,
  type TranscriptMessage,
} from '../../functions/query/transcript/model.ts';
import {
  groupOf,
  transcriptFileName,
  transcriptTitle,
  withNames,
} from '../../functions/query/transcript/names.ts';
import { renderTranscriptHtml } from '../../functions/query/transcript/render-html.ts';

const named = (name: string): TranscriptGroup => ({ names: [{ name, since: null }], dissolvedSince: null });
const G = '@TGS#1144GY2BFPB';

describe('transcriptFileName', () => {
  it('uses the group name, with the topic', () => {
    expect(transcriptFileName(named('Launch team'), G, null)).toBe('Launch team.html');
    expect(transcriptFileName(named('Launch team'), G, '@TGS#_T1')).toBe('Launch team - @TGS#_T1.html');
  });

  it('replaces separators, reserved characters, controls and bidi controls, and trims dots', () => {
    expect(transcriptFileName(named('../a/b\\c:d*e?f"g<h>i|j'), G, null)).toBe('_a_b_c_d_e_f_g_h_i_j.html');
    expect(transcriptFileName(named('evil\u202Egnp.exe'), G, null)).toBe('evil_gnp.exe.html');
    expect(transcriptFileName(named('a\u0000\u0007\u001b[2Jb\u200b'), G, null)).toBe('a_[2Jb_.html');
    expect(transcriptFileName(named('CON'), G, null)).toBe('_CON.html');
  });

  it('bounds the name to 150 UTF-8 bytes, whole characters only', () => {
    const name = transcriptFileName(named('群'.repeat(5000)), G, null);
    expect(name).toBe(`${'群'.repeat(50)}.html`);
    expect(transcriptFileName(named('x'.repeat(5000)), G, null)).toBe(`${'x'.repeat(150)}.html`);
  });

  it('falls back to the group id for an empty or all-unsafe name, then to "transcript"', () => {
    expect(transcriptFileName(named(''), G, null)).toBe(`${G}.html`);
    expect(transcriptFileName(named('\u202E/..'), G, null)).toBe(`${G}.html`);
    expect(transcriptFileName(undefined, G, null)).toBe(`${G}.html`);
    expect(transcriptFileName(undefined, '/', null)).toBe('transcript.html');
  });
});

describe('without identity rows', () => {
  const message: TranscriptMessage = {
    groupId: G,
    topicId: null,
    seq: 1,
    time: 1000,
    sender: 'alice',
    isSystem: false,
    versions: [{ revision: 0, observedAt: null, change: null, isPlace: 0, body: [], cloudCustomData: null }],
  };

  it('leaves messages, title and group as before names', () => {
    const timeline = identityTimeline(G, { users: [], groups: [], members: [] });
    expect(withNames([message], timeline)).toEqual([message]);
    expect(groupOf([message], timeline)).toBeUndefined();
    expect(transcriptTitle(undefined, G, null)).toBe(`Chat ${G}`);
    expect(transcriptTitle(named('  '), G, 'T')).toBe(`Chat ${G} / T`);
  });
});

describe('a dissolved group in the page header', () => {
  it('keeps the last known name and says when the archive first saw it dissolved', () => {
    const row = (name: string | null, at: number, status: 'active' | 'dissolved') => ({
      sdk_app_id: 1,
      group_id: G,
      name,
      type: name === null ? null : 'Public',
      owner_account: name === null ? null : 'o',
      status,
      error_code: status === 'dissolved' ? 10010 : null,
      observed_at: at,
    });
    const timeline = identityTimeline(G, {
      users: [],
      members: [],
      groups: [row('Launch', 100, 'active'), row(null, 5000, 'dissolved')],
    });
    const message: TranscriptMessage = {
      groupId: G,
      topicId: null,
      seq: 1,
      time: 1000,
      sender: 'alice',
      isSystem: false,
      versions: [
        {
          revision: 0,
          observedAt: null,
          change: null,
          isPlace: 0,
          body: [{ type: 'TIMTextElem', content: { Text: 'hi' } }],
          cloudCustomData: null,
        },
      ],
    };
    const group = groupOf([message], timeline);
    expect(group).toEqual({ names: [{ name: 'Launch', since: null }], dissolvedSince: 5000 });
    const html = renderTranscriptHtml({
      title: transcriptTitle(group, G, null),
      source: './archive',
      groupId: G,
      topicId: null,
      from: '1970-01-01',
      to: '1970-01-01',
      timeZone: 'UTC',
      generatedAtMs: 0,
      messages: [message],
      media: NO_MEDIA,
      ...(group === undefined ? {} : { group }),
    });
    expect(html).toContain('<title>Launch</title>');
    expect(html).toContain(
      'Group name: <bdi class="name" title="Launch">Launch</bdi>. Dissolved: first seen dissolved 1970-01-01 01:23:20; the name is the last known one.',
    );
  });
});
