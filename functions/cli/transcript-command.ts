/**
 * `npm run export -- transcript --params group_id=… from=… to=… [topic_id=…] --out chat.html`
 * `npm run export -- transcript --conversation a,b [--params from=… to=…] --out chat.html`
 *
 * Writes one conversation as an HTML page (see `functions/query/transcript/render-html.ts`) and,
 * when media are archived, a folder beside it (`chat_files/`) with copies of the media the page
 * shows, so the page and its folder can be handed on and read offline. A local archive is queried
 * with DuckDB, `s3://…` with Athena (only the objects that hold the conversation are then read
 * from the bucket). Files appear only when complete (temp name, then rename).
 */
import { statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { terminalSafe, terminalSafeLines } from '../adapters/logging/terminal-safe.ts';
import { openStore } from '../composition.ts';
import { DEFAULT_ARCHIVE_OUT, DEFAULT_TIME_ZONE } from '../config/schema.ts';
import { identityTimeline } from '../domain/identity-timeline.ts';
import { type MediaRefPlace, mediaRefKey } from '../domain/media-refs.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { ALL_DAYS, parseConversationFlag } from '../query/c2c-queries.ts';
import { QueryUsageError } from '../query/errors.ts';
import { archivedCopies } from '../query/media-manifest.ts';
import { type NamedQuery, parseParams } from '../query/named-queries.ts';
import type { QueryRunner } from '../query/port.ts';
import { DEFAULT_DATABASE, DEFAULT_WORKGROUP } from '../query/tables.ts';
import {
  type C2cConversationQuery,
  loadC2cConversation,
  messagesFromC2cRecords,
} from '../query/transcript/c2c.ts';
import { loadConversation } from '../query/transcript/load.ts';
import { loadIdentities } from '../query/transcript/load-identities.ts';
import {
  type ArchivedMedia,
  mediaRefsOf,
  messagesFromRecords,
  relativeHref,
  type TranscriptGroup,
  type TranscriptMessage,
} from '../query/transcript/model.ts';
import { groupOf, transcriptFileName, transcriptTitle, withNames } from '../query/transcript/names.ts';
import { renderTranscriptHtml } from '../query/transcript/render-html.ts';
import { EXIT } from './exit-codes.ts';
import { loadConfigFile } from './load-config.ts';
import { parseCommandArgs, parseParamWords, QUERY_COMMAND_OPTIONS } from './param-words.ts';
import { type ExportDeps, isS3Archive, openArchiveRunner } from './query-runners.ts';

/** The transcript's parameters, validated like a named query's (topic_id is optional). */
const TRANSCRIPT_PARAMS: NamedQuery = {
  name: 'transcript',
  description: 'A conversation as an HTML page',
  params: [
    { name: 'group_id', type: 'string', description: 'the GroupId' },
    { name: 'from', type: 'date', description: 'first dt, YYYY-MM-DD (inclusive)' },
    { name: 'to', type: 'date', description: 'last dt, YYYY-MM-DD (inclusive)' },
  ],
  sql: '',
};

/** A conversation transcript's parameters: only the date range, every day by default. */
const CONVERSATION_PARAMS: NamedQuery = {
  ...TRANSCRIPT_PARAMS,
  params: TRANSCRIPT_PARAMS.params.filter((p) => p.name !== 'group_id'),
};

export const TRANSCRIPT_USAGE = `  npm run export -- transcript --params group_id=<id> from=<YYYY-MM-DD> to=<YYYY-MM-DD> [topic_id=<id>]
  npm run export -- transcript --conversation <a,b | ["a","b"]> [--params from=<YYYY-MM-DD> to=<YYYY-MM-DD>]
                    [--out <chat.html | folder/>] [--archive <dir|s3://bucket/prefix>] [--config <file.json>]
                    [--time-zone <IANA zone>] [--title <text>] [--workgroup <name>] [--database <name>]
                    [--no-names]   senders by account and the title by group id (names as of each
                                   message's time are shown by default, docs/names.md)`;

/**
 * Where the archived copy of a media reference is: its object key in the archive store. By default
 * the archive's media manifests (rows `archived`) say; an archive without a manifest shows every
 * media element as "media not archived" with what the element says about it.
 */
export type MediaSource = (
  ref: MediaRefPlace,
) => { key: string; contentType?: string; bytes?: number } | undefined;

export interface TranscriptDeps extends ExportDeps {
  /** The archive store (default: opened from the archive location). */
  readonly store?: ObjectStore;
  readonly mediaSource?: MediaSource;
}

interface TranscriptArgs {
  /** `--conversation`: a one-to-one conversation's pair, sorted; null for a group's transcript. */
  readonly conversation: readonly [string, string] | null;
  readonly groupId: string;
  readonly topicId: string | null;
  readonly from: string;
  readonly to: string;
  /** The page's path, or a folder (ending in a separator) to hold `<group name>.html`. */
  readonly out: string;
  readonly archive: string | undefined;
  readonly configPath: string | undefined;
  readonly timeZone: string | undefined;
  readonly title: string | undefined;
  readonly workGroup: string;
  readonly database: string;
  /** `--no-names` turns them off: the archive's identity rows are then not read. */
  readonly names: boolean;
}

/** @throws QueryUsageError naming the flag or parameter. */
export function parseTranscriptArgs(argv: readonly string[]): TranscriptArgs {
  const { values, positionals } = parseCommandArgs(argv, {
    ...QUERY_COMMAND_OPTIONS,
    title: { type: 'string' },
    names: { type: 'boolean' },
    'no-names': { type: 'boolean' },
    conversation: { type: 'string' },
  });
  if (values.names === true && values['no-names'] === true)
    throw new QueryUsageError('--names and --no-names: give one of them', { field: '--no-names' });
  const raw = parseParamWords([...(values.params ?? []), ...positionals]);
  const { topic_id: topicId, ...rest } = raw;
  if (topicId === '')
    throw new QueryUsageError('--params topic_id: must not be empty', { field: '--params topic_id' });
  const conversation = values.conversation === undefined ? null : parseConversationFlag(values.conversation);
  if (conversation !== null && (rest.group_id !== undefined || topicId !== undefined)) {
    throw new QueryUsageError('--conversation: a one-to-one conversation has no group_id or topic_id', {
      field: '--conversation',
    });
  }
  const params =
    conversation === null
      ? parseParams(TRANSCRIPT_PARAMS, rest)
      : parseParams(CONVERSATION_PARAMS, {
          from: rest.from ?? ALL_DAYS.from,
          to: rest.to ?? ALL_DAYS.to,
          ...rest,
        });
  const out = outPath(values.out);
  if (!isFolder(out) && !/\.html?$/i.test(out)) {
    throw new QueryUsageError(
      '--out must name an .html file (the transcript is an HTML page) or a folder (then named after the group)',
      { field: '--out' },
    );
  }
  const text = (name: string) => String(params.get(name)?.value ?? '');
  return {
    conversation,
    groupId: text('group_id'),
    topicId: topicId ?? null,
    from: text('from'),
    to: text('to'),
    out,
    archive: values.archive,
    configPath: values.config,
    timeZone: values['time-zone'],
    title: values.title,
    workGroup: values.workgroup ?? DEFAULT_WORKGROUP,
    database: values.database ?? DEFAULT_DATABASE,
    names: values['no-names'] !== true,
  };
}

/** `--out` as given; a folder as `<folder>/` (the current one when absent). */
function outPath(out: string | undefined): string {
  if (out === undefined) return './';
  if (isFolder(out)) return out;
  try {
    return statSync(out).isDirectory() ? `${out}/` : out;
  } catch {
    return out;
  }
}

function isFolder(out: string): boolean {
  return out.endsWith('/') || out.endsWith('\\');
}

/** Runs the command; usage errors print the usage and return 2, other errors propagate. */
export async function runTranscriptCommand(argv: readonly string[], deps: TranscriptDeps): Promise<number> {
  let args: TranscriptArgs;
  try {
    args = parseTranscriptArgs(argv);
  } catch (error) {
    if (!(error instanceof QueryUsageError)) throw error;
    deps.stderr(`${terminalSafe(error.message)}\nUsage:\n${TRANSCRIPT_USAGE}\n`);
    return EXIT.usage;
  }
  const config = args.configPath === undefined ? undefined : await loadConfigFile(args.configPath);
  const archive = args.archive ?? config?.archive.out ?? DEFAULT_ARCHIVE_OUT;
  const timeZone = args.timeZone ?? config?.archive.timeZone ?? DEFAULT_TIME_ZONE;
  const store = deps.store ?? (await openStore(archive));
  const runner = await openArchiveRunner({
    archive,
    timeZone,
    clock: deps.clock,
    workGroup: args.workGroup,
    database: args.database,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.athenaClient ? { athenaClient: deps.athenaClient } : {}),
  });
  let named: { messages: TranscriptMessage[]; group: TranscriptGroup | undefined };
  try {
    if (!isS3Archive(archive)) deps.stderr(`duckdb: reading the local archive ${terminalSafe(archive)}\n`);
    const warn = (line: string) => deps.stderr(terminalSafeLines(line));
    named =
      args.conversation === null
        ? await loadNamedMessages(runner, store, args, warn)
        : await loadConversationMessages(runner, store, { ...args, pair: args.conversation }, warn);
  } finally {
    runner.close();
  }
  const { messages, group } = named;
  const pair = args.conversation;
  const out = isFolder(args.out)
    ? join(
        args.out,
        pair === null
          ? transcriptFileName(group, args.groupId, args.topicId)
          : transcriptFileName(undefined, `${pair[0]} - ${pair[1]}`, null),
      )
    : args.out;
  // One-to-one media are in the same manifest, keyed by conversation and MsgKey (docs/one-to-one.md).
  const source = deps.mediaSource ?? (await manifestSource(store));
  const media = await copyMedia(messages, store, source, out);
  const html = renderTranscriptHtml({
    title:
      args.title ??
      (pair === null
        ? transcriptTitle(group, args.groupId, args.topicId)
        : conversationTitle(messages, pair)),
    source: archive,
    groupId: args.groupId,
    topicId: args.topicId,
    from: args.from,
    to: args.to,
    timeZone,
    generatedAtMs: deps.clock.now(),
    messages,
    media: (ref) => media.map.get(mediaRefKey(ref)),
    ...(group === undefined ? {} : { group }),
    ...(pair === null ? {} : { conversation: pair }),
  });
  const temp = `${out}.partial`;
  try {
    await writeFile(temp, html, 'utf8');
    await rename(temp, out);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  deps.stdout(
    `wrote ${messages.length} messages to ${terminalSafe(out)}` +
      (media.copied > 0 ? ` and ${media.copied} media files to ${terminalSafe(media.folder)}` : '') +
      (media.missing > 0 ? ` (${media.missing} media elements without an archived copy)` : '') +
      '\n',
  );
  return EXIT.done;
}

/**
 * The conversation's messages, each with its sender's name as of its time, and the group's names,
 * from the identity rows of the apps that hold it (docs/names.md); without rows, the messages as
 * before names and no group.
 */
async function loadNamedMessages(
  runner: QueryRunner,
  store: ObjectStore,
  args: TranscriptArgs,
  warn: (line: string) => void,
): Promise<{ messages: TranscriptMessage[]; group: TranscriptGroup | undefined }> {
  const conversation = await loadConversation(runner, store, args, warn);
  const messages = messagesFromRecords(conversation.records);
  if (!args.names) return { messages, group: undefined };
  const accounts = new Set(messages.flatMap((m) => (m.sender === null ? [] : [m.sender])));
  const rows = await loadIdentities(
    store,
    { sdkAppIds: conversation.sdkAppIds, groupId: args.groupId, accounts },
    warn,
  );
  const timeline = identityTimeline(args.groupId, rows);
  return { messages: withNames(messages, timeline), group: groupOf(messages, timeline) };
}

/**
 * A one-to-one conversation's messages, each with its sender's nickname as of its time (the
 * `identities/users/` rows of the apps that hold it; no group, so no name card); without rows, by
 * account.
 */
async function loadConversationMessages(
  runner: QueryRunner,
  store: ObjectStore,
  query: C2cConversationQuery & { readonly names: boolean },
  warn: (line: string) => void,
): Promise<{ messages: TranscriptMessage[]; group: undefined }> {
  const conversation = await loadC2cConversation(runner, store, query, warn);
  const messages = messagesFromC2cRecords(conversation.records);
  if (!query.names) return { messages, group: undefined };
  const rows = await loadIdentities(
    store,
    { sdkAppIds: conversation.sdkAppIds, groupId: null, accounts: new Set(query.pair) },
    warn,
  );
  return { messages: withNames(messages, identityTimeline('', rows)), group: undefined };
}

/** `<name of a> and <name of b>`: each account's name at its last message, else the account. */
function conversationTitle(messages: readonly TranscriptMessage[], pair: readonly [string, string]): string {
  const nameOf = (account: string) =>
    messages.findLast((m) => m.sender === account && m.from !== undefined)?.from?.name ?? account;
  return `${nameOf(pair[0])} and ${nameOf(pair[1])}`;
}

/** The media source of the archive's own media manifests (empty when it has none). */
async function manifestSource(store: ObjectStore): Promise<MediaSource> {
  const copies = await archivedCopies(store);
  return (ref) => copies.get(mediaRefKey(ref));
}

/**
 * The extension a browser needs to show a copied image, voice or video: content-addressed keys have
 * none, and a browser opening files from disk takes an SVG's type from its extension only. Files
 * (`TIMFileElem`) get none: the person who sent it chose its type, and a page opened from the
 * folder should not become an HTML or SVG document because of it.
 */
const MEDIA_EXTENSIONS: Readonly<Record<string, string>> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'image/bmp': '.bmp',
  'image/svg+xml': '.svg',
  'audio/wav': '.wav',
  'audio/x-wav': '.wav',
  'audio/mpeg': '.mp3',
  'audio/mp4': '.m4a',
  'audio/aac': '.aac',
  'audio/ogg': '.ogg',
  'audio/amr': '.amr',
  'video/mp4': '.mp4',
  'video/webm': '.webm',
  'video/quicktime': '.mov',
};

/**
 * A file name from an object key: its last segment, reduced to `[A-Za-z0-9._-]`, with the
 * extension of its content type for media other than files (see {@link MEDIA_EXTENSIONS}).
 */
function fileNameOf(key: string, ref: MediaRefPlace, contentType: string | undefined): string {
  const base = (key.split('/').at(-1) ?? 'media').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  const name = base.length > 0 ? base.slice(0, 120) : 'media';
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const extension = ref.sizeClass === 'file' ? undefined : MEDIA_EXTENSIONS[type];
  return extension === undefined || name.toLowerCase().endsWith(extension) ? name : `${name}${extension}`;
}

/**
 * Copies the archived media the messages reference into `<out name>_files/` and returns the
 * lookup for the renderer (relative links into that folder).
 */
async function copyMedia(
  messages: readonly TranscriptMessage[],
  store: ObjectStore,
  source: MediaSource | undefined,
  out: string,
): Promise<{ map: Map<string, ArchivedMedia>; copied: number; missing: number; folder: string }> {
  const folderName = `${basename(out).replace(/\.html?$/i, '')}_files`;
  const folder = join(dirname(out), folderName);
  const map = new Map<string, ArchivedMedia>();
  const byKey = new Map<string, string>();
  // Media elements none of whose variants has an archived copy.
  const unarchived = new Set<string>();
  const archived = new Set<string>();
  for (const message of messages) {
    for (const ref of mediaRefsOf(message)) {
      const element = mediaRefKey(ref).replace(/\|[^|]*$/, '');
      const found = source?.(ref);
      const object =
        found === undefined
          ? undefined
          : await copyOnce(found.key, fileNameOf(found.key, ref, found.contentType));
      if (found === undefined || object === undefined) {
        unarchived.add(element);
        continue;
      }
      archived.add(element);
      map.set(mediaRefKey(ref), {
        // Percent-encoded: a page named `my chat (1).html` has its media in `my chat (1)_files/`.
        href: relativeHref(folderName, object),
        ...(found.contentType === undefined ? {} : { contentType: found.contentType }),
        ...(found.bytes === undefined ? {} : { bytes: found.bytes }),
      });
    }
  }
  const missing = [...unarchived].filter((e) => !archived.has(e)).length;
  return { map, copied: byKey.size, missing, folder };

  async function copyOnce(key: string, fileName: string): Promise<string | undefined> {
    const done = byKey.get(key);
    if (done !== undefined) return done;
    const object = await store.get(key);
    if (object === undefined) return undefined;
    let name = fileName;
    if ([...byKey.values()].includes(name)) name = `${byKey.size}-${name}`;
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, name), object.body);
    byKey.set(key, name);
    return name;
  }
}
