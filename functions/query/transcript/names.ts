/**
 * Names in a transcript (issue 24): each message's sender as of its time, the group's names over
 * the transcript, and the title and file name made from the group's name. Pure; the rule is
 * docs/names.md, applied by `functions/domain/identity-timeline.ts`.
 */
import type { IdentityTimeline } from '../../domain/identity-timeline.ts';
import type { TranscriptGroup, TranscriptMessage } from './model.ts';
import { INVISIBLE_CHARS } from './render-html.ts';

/**
 * The messages with their sender as of their time, for every sender the identity rows name (a
 * system message, an unreadable item, and a sender the rows do not name stay as they were).
 */
export function withNames(
  messages: readonly TranscriptMessage[],
  timeline: IdentityTimeline,
): TranscriptMessage[] {
  return messages.map((m) =>
    m.isSystem || m.sender === null || m.unreadable !== undefined || !timeline.knows(m.sender)
      ? m
      : { ...m, from: timeline.senderAt(m.sender, m.time) },
  );
}

/**
 * The group's names valid at the messages, in order (a message whose time is not a number names
 * nothing), and when it was first seen dissolved; undefined when no row names the group.
 */
export function groupOf(
  messages: readonly TranscriptMessage[],
  timeline: IdentityTimeline,
): TranscriptGroup | undefined {
  const latest = timeline.groupAt(Number.POSITIVE_INFINITY);
  if (latest === undefined) return undefined;
  const names: { name: string; since: number | null }[] = [];
  for (const m of messages) {
    if (!Number.isFinite(m.time)) continue;
    const name = timeline.groupAt(m.time)?.name ?? null;
    if (name !== null && name !== names.at(-1)?.name)
      names.push({ name, since: names.length === 0 ? null : m.time });
  }
  if (names.length === 0 && latest.name !== null) names.push({ name: latest.name, since: null });
  return { names, dissolvedSince: latest.dissolvedSince };
}

/** The group's name at the end of the transcript, when it has a non-empty one. */
function lastName(group: TranscriptGroup | undefined): string | undefined {
  const name = group?.names.at(-1)?.name;
  return name === undefined || name.trim() === '' ? undefined : name;
}

/** The page title: the group's name (then ` / <topic>`), else `Chat <group id>` as before names. */
export function transcriptTitle(group: TranscriptGroup | undefined, groupId: string, topicId: string | null) {
  const topic = topicId === null ? '' : ` / ${topicId}`;
  const name = lastName(group);
  return name === undefined ? `Chat ${groupId}${topic}` : `${name}${topic}`;
}

/** Characters no file name may hold on Linux, macOS or Windows: separators and reserved ones. */
const RESERVED = /[/\\:*?"<>|]/u;
const UNSAFE = new RegExp(`(?:${RESERVED.source}|${INVISIBLE_CHARS.source})+`, 'gu');
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?$/i;
/** Bytes (UTF-8) of the name before `.html`: well under the 255 of common file systems. */
const MAX_NAME_BYTES = 150;

/** `name` as a file name's stem: unsafe runs as `_`, no leading or trailing dot or space, bounded. */
function fileStem(name: string): string {
  const cleaned = name.replace(UNSAFE, '_').replace(/^[\s.]+|[\s.]+$/gu, '');
  let stem = '';
  let bytes = 0;
  for (const ch of cleaned) {
    bytes += new TextEncoder().encode(ch).length;
    if (bytes > MAX_NAME_BYTES) break;
    stem += ch;
  }
  stem = stem.replace(/[\s.]+$/u, '');
  if (/^_*$/.test(stem)) return '';
  return WINDOWS_DEVICE.test(stem) ? `_${stem}` : stem;
}

/**
 * The transcript's default file name: `<group name>[ - <topic>].html`, with path separators,
 * reserved characters, controls, bidi and other invisible characters replaced by `_`; the group
 * id when the name leaves nothing, `transcript` when the id does not either.
 */
export function transcriptFileName(
  group: TranscriptGroup | undefined,
  groupId: string,
  topicId: string | null,
): string {
  const topic = topicId === null ? '' : ` - ${topicId}`;
  for (const base of [lastName(group), groupId]) {
    if (base === undefined) continue;
    const stem = fileStem(`${base}${topic}`);
    if (stem !== '') return `${stem}.html`;
  }
  return 'transcript.html';
}
