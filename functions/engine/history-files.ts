/**
 * Tencent's hourly `get_history` files (docs/tencent-api.md, get_history) kept as a second witness
 * (issue 26, deliverable 3; docs/one-to-one.md, Witnesses): one hour of one chat type fetched,
 * each file checked against the sizes and MD5s the answer states (functions/domain/history-file.ts),
 * kept raw once under `history-files/`, and its message identities written once under
 * `history-file-messages/` (one object per file); then, for the hour, one row under
 * `history-file-hours/` saying the files cover it. Every key is the file's or the hour's and every
 * write create-only, so a run killed anywhere and run again writes each object once: the hour's
 * row is written last, and an hour without it is fetched again (a kept file is found kept, its
 * index written if missing).
 *
 * Used by the one-to-one discovery for `C2C` (functions/engine/c2c-discovery.ts, whose cursor also
 * names the fetched hours) and by {@link fetchGroupHistoryFiles} for `Group` (the hour rows are
 * its cursor).
 */
import { once } from 'node:events';
import { PreconditionFailedError } from '../domain/errors.ts';
import {
  beijingHourStart,
  eachHistoryMessage,
  fetchableHours,
  HISTORY_FILE_EMPTY_AFTER_SEC,
  type HistoryChatType,
  type HistoryFilesApi,
  type HistoryHourRow,
  historyFileKey,
  historyHourDatePrefix,
  historyHourKey,
  historyIndexKey,
  historyIndexRow,
  hourOfHourKey,
  verifyHistoryFile,
} from '../domain/history-file.ts';
import { gzipSink, gzipText } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';

/** Writes an object create-only; throws PreconditionFailedError when it exists. */
export type CreateOnly = (key: string, body: Uint8Array, contentType: string) => Promise<void>;

/** One hour of one chat type to fetch. */
export interface HistoryHourJob {
  readonly sdkAppId: number;
  readonly chatType: HistoryChatType;
  readonly hour: string;
  readonly timeZone: string;
}

/** What fetching one hour did. */
export interface HourOutcome {
  /** `kept`: every file passed and is kept and indexed; `none`: Tencent has no file; `rejected`: a file failed. */
  readonly status: 'kept' | 'none' | 'rejected';
  /** Files of the hour (as the answer lists them). */
  readonly files: number;
  /** Raw files this call wrote (a file an earlier, killed run kept is not counted). */
  readonly filesKept: number;
  /** Index objects this call wrote. */
  readonly indexesWritten: number;
  /** Message rows of the hour's files (written now or by an earlier run). */
  readonly messages: number;
  /** Lines that named no message of the chat type (not indexed). */
  readonly unreadableLines: number;
}

/**
 * Fetches one hour: each file downloaded, checked, kept raw once and indexed once; `onLine` sees each
 * message line of a file that passed (the C2C discovery takes pairs from them).
 */
export async function fetchHistoryHour(
  deps: { api: HistoryFilesApi; create: CreateOnly; logger: Logger; signal: AbortSignal },
  job: HistoryHourJob,
  onLine?: (line: Record<string, unknown>) => void,
): Promise<HourOutcome> {
  const entries = await deps.api.getHistoryFiles(job.chatType, job.hour, deps.signal);
  const outcome = { files: 0, filesKept: 0, indexesWritten: 0, messages: 0, unreadableLines: 0 };
  if (entries === null) return { status: 'none', ...outcome };
  outcome.files = entries.length;
  const dtOf = (sec: number) => dateInZone(sec, job.timeZone);
  for (const [index, entry] of entries.entries()) {
    let bytes: Uint8Array;
    try {
      bytes = await deps.api.download(entry.url, deps.signal);
    } catch (error) {
      if (deps.signal.aborted) throw error;
      // The URL is not logged: a download link may carry a signature.
      deps.logger.warn('an hourly history file could not be downloaded; its hour is fetched again next run', {
        chatType: job.chatType,
        hour: job.hour,
        index,
        reason: error instanceof Error ? error.message : String(error),
      });
      return { status: 'rejected', ...outcome };
    }
    const checked = verifyHistoryFile(entry, bytes);
    if (!checked.ok) {
      deps.logger.warn(
        'an hourly history file does not match its answer; its hour is fetched again next run',
        {
          chatType: job.chatType,
          hour: job.hour,
          index,
          reason: checked.reason,
        },
      );
      return { status: 'rejected', ...outcome };
    }
    const file = { ...job, index, gzipMd5: entry.gzipMd5 };
    const fileKey = historyFileKey(file);
    if (await createOnce(deps.create, fileKey, bytes, 'application/gzip')) outcome.filesKept++;
    // One message at a time into the gzip stream: a busy hour's file is never held as objects.
    const sink = gzipSink();
    let rows = 0;
    for (const line of eachHistoryMessage(checked.text)) {
      const row = line === null ? null : historyIndexRow(line, { ...job, fileKey }, dtOf);
      if (line !== null) onLine?.(line);
      if (row === null) {
        outcome.unreadableLines++;
        continue;
      }
      rows++;
      if (!sink.stream.write(`${JSON.stringify(row)}\n`, 'utf8')) await once(sink.stream, 'drain');
    }
    sink.stream.end();
    await sink.done;
    outcome.messages += rows;
    const body = new Uint8Array(sink.body());
    if (await createOnce(deps.create, historyIndexKey(file), body, 'application/gzip')) {
      outcome.indexesWritten++;
    }
  }
  return { status: 'kept', ...outcome };
}

/** The row saying the files cover an hour, written once (false: an earlier run wrote it). */
export async function writeHourRow(
  create: CreateOnly,
  job: HistoryHourJob,
  row: { files: number; messages: number; runId: string },
): Promise<boolean> {
  const start = beijingHourStart(job.hour);
  const hourRow: HistoryHourRow = {
    sdk_app_id: job.sdkAppId,
    chat: job.chatType === 'C2C' ? 'c2c' : 'group',
    hour: job.hour,
    hour_start: start,
    hour_end: start + 3_599,
    files: row.files,
    messages: row.messages,
    run_id: row.runId,
  };
  const body = await gzipText(`${JSON.stringify(hourRow)}\n`);
  return createOnce(create, historyHourKey(job), body, 'application/gzip');
}

/** An hour Tencent still has no file for this long after it ended holds no message. */
export function hourIsEmpty(hour: string, nowSec: number): boolean {
  return beijingHourStart(hour) + 3_600 + HISTORY_FILE_EMPTY_AFTER_SEC <= nowSec;
}

async function createOnce(create: CreateOnly, key: string, body: Uint8Array, type: string): Promise<boolean> {
  try {
    await create(key, body, type);
    return true;
  } catch (error) {
    if (error instanceof PreconditionFailedError) return false;
    throw error;
  }
}

/** The group files' part of the run report (`historyFiles`, absent when `historyFiles.groups` is off). */
export interface HistoryFilesReport {
  /** Hours fetched (files kept and indexed, or taken as empty) this run. */
  hours: number;
  /** Hours of the window still to fetch when the run stopped (the deadline, Ctrl-C). */
  hoursLeft: number;
  /** Raw files this run wrote. */
  filesKept: number;
  /** Files not downloaded or not matching the answer: their hour is fetched again next run. */
  filesRejected: number;
  /** Message identities indexed this run. */
  messagesIndexed: number;
  /** Lines of the files that named no group message. */
  unreadableLines: number;
  /** Every hour of the window that can be fetched now was tried. */
  done: boolean;
}

/** The run report with its `historyFiles` section. */
export function withHistoryFiles<R extends object>(report: R): R & { historyFiles?: HistoryFilesReport } {
  return report as R & { historyFiles?: HistoryFilesReport };
}

/**
 * The group files of every hour of the window not fetched yet (`historyFiles.groups`), oldest
 * first, each hour's row written once its files are kept and indexed (or once it is taken as
 * empty). Stops between hours at `stop` or the deadline (the rest next run).
 */
export async function fetchGroupHistoryFiles(
  deps: { api: HistoryFilesApi; store: ObjectStore; clock: Clock; logger: Logger },
  options: { sdkAppId: number; runId: string; timeZone: string; deadlineMs: number | null },
  run: { fence: () => Promise<void>; signal: AbortSignal; stop?: AbortSignal | undefined },
): Promise<HistoryFilesReport> {
  const report: HistoryFilesReport = {
    hours: 0,
    hoursLeft: 0,
    filesKept: 0,
    filesRejected: 0,
    messagesIndexed: 0,
    unreadableLines: 0,
    done: true,
  };
  const nowSec = Math.floor(deps.clock.now() / 1000);
  const fetched = await fetchedHours(deps.store, options, fetchableHours(nowSec));
  const todo = fetchableHours(nowSec).filter((h) => !fetched.has(h));
  const create: CreateOnly = async (key, body, contentType) => {
    await run.fence();
    await deps.store.put(key, body, { ifNoneMatch: '*', contentType });
  };
  for (const [i, hour] of todo.entries()) {
    const late = options.deadlineMs !== null && deps.clock.now() >= options.deadlineMs;
    if (run.stop?.aborted || late) {
      report.hoursLeft = todo.length - i;
      report.done = false;
      break;
    }
    run.signal.throwIfAborted();
    const job = { sdkAppId: options.sdkAppId, chatType: 'Group' as const, hour, timeZone: options.timeZone };
    const got = await fetchHistoryHour({ ...deps, create, signal: run.signal }, job);
    report.filesKept += got.filesKept;
    report.unreadableLines += got.unreadableLines;
    if (got.status === 'rejected') {
      report.filesRejected++;
      continue;
    }
    if (got.status === 'none' && !hourIsEmpty(hour, nowSec)) continue;
    report.messagesIndexed += got.messages;
    await writeHourRow(create, job, { files: got.files, messages: got.messages, runId: options.runId });
    report.hours++;
  }
  return report;
}

/** The hours of `hours` whose group row exists (listed by date: a few listings a run). */
async function fetchedHours(
  store: ObjectStore,
  options: { sdkAppId: number; timeZone: string },
  hours: readonly string[],
): Promise<Set<string>> {
  const dates = new Set(hours.map((h) => dateInZone(beijingHourStart(h), options.timeZone)));
  const fetched = new Set<string>();
  for (const dt of dates) {
    for await (const key of store.list(historyHourDatePrefix(options.sdkAppId, dt))) {
      const named = hourOfHourKey(key);
      if (named?.chat === 'group') fetched.add(named.hour);
    }
  }
  return fetched;
}
