/**
 * Where things live in the archive store: Hive-style partition keys for Athena, the per-app
 * continuation state and the run reports. Every key is relative to the store root and built by
 * pure, deterministic functions, so the writer, the Athena projection and the tests agree on one
 * layout.
 *
 * The `dt` partition is the calendar date of a message in a configured IANA time zone (a team in
 * Shanghai wants "yesterday" to mean its own yesterday, not UTC's).
 */
import { ConfigError } from './errors.ts';

/** The config field a bad time zone is reported against. */
const TIME_ZONE_FIELD = 'archive.timeZone';

/**
 * Athena partition projection `storage.location.template` suffix (after the store root). Kept next
 * to the key builders so a test can prove `messagePartitionPrefix` fills it in exactly.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
export const MESSAGE_LOCATION_TEMPLATE = 'messages/sdkappid=${sdkappid}/dt=${dt}/';

/** Digits of the part counter in object names; fixed width keeps lexicographic = numeric order. */
export const PART_DIGITS = 5;
const MAX_PART = 10 ** PART_DIGITS - 1;

const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Instants we accept, in epoch seconds: 1970-01-01 up to 9999-12-30 UTC. Keeping a day of margin
 * below year 10000 means no zone offset can push the local date to a five-digit year.
 */
const MIN_EPOCH_SECONDS = 0;
export const MAX_EPOCH_SECONDS = Date.UTC(9999, 11, 30) / 1000;

/** Whether a record can be filed under this time: {@link dateInZone} accepts it. */
export function isFileableTime(epochSeconds: number): boolean {
  return (
    Number.isFinite(epochSeconds) && epochSeconds >= MIN_EPOCH_SECONDS && epochSeconds <= MAX_EPOCH_SECONDS
  );
}

/** Time zones are few; the cap only guards against a caller feeding unbounded distinct strings. */
const MAX_CACHED_ZONES = 64;
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * A cached formatter for the zone. Building an `Intl.DateTimeFormat` is comparatively slow and
 * `dateInZone` runs once per archived message, hence the cache.
 */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  const cached = formatters.get(timeZone);
  if (cached !== undefined) return cached;
  const formatter = createFormatter(timeZone);
  if (formatters.size >= MAX_CACHED_ZONES) formatters.clear();
  formatters.set(timeZone, formatter);
  return formatter;
}

function createFormatter(timeZone: string): Intl.DateTimeFormat {
  try {
    // Calendar and numbering system are pinned so the parts are Gregorian ASCII digits whatever
    // the host's default locale is.
    return new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      calendar: 'gregory',
      numberingSystem: 'latn',
    });
  } catch (error) {
    throw new ConfigError(
      `${TIME_ZONE_FIELD} ${JSON.stringify(timeZone)} is not a valid IANA time zone; ` +
        'use a zone name such as "Asia/Shanghai", "Europe/Berlin" or "UTC"',
      { field: TIME_ZONE_FIELD, cause: error },
    );
  }
}

/**
 * Checks that `tz` is a time zone this runtime knows.
 *
 * @throws ConfigError (field `archive.timeZone`) when it is not.
 */
export function assertTimeZone(tz: string): void {
  formatterFor(tz);
}

/** Whether `tz` is a time zone this runtime knows: the same test {@link dateInZone} applies. */
export function isTimeZone(tz: string): boolean {
  try {
    formatterFor(tz);
    return true;
  } catch {
    return false;
  }
}

/**
 * The calendar date (`YYYY-MM-DD`) of an instant as seen in an IANA time zone.
 *
 * @param epochSeconds - the instant, seconds since 1970-01-01T00:00:00Z (e.g. `MsgTimeStamp`).
 * @param timeZone - an IANA zone such as `Asia/Shanghai`.
 * @throws ConfigError (field `archive.timeZone`) for an unknown zone.
 * @throws RangeError when `epochSeconds` is not a finite number between 1970 and 9999.
 */
export function dateInZone(epochSeconds: number, timeZone: string): string {
  const formatter = formatterFor(timeZone);
  if (!isFileableTime(epochSeconds)) {
    throw new RangeError(
      `epoch seconds must be a finite number from 0 to ${MAX_EPOCH_SECONDS}, got ${epochSeconds}`,
    );
  }
  // Pick the parts by type: the literal separators and their order depend on the locale.
  const parts = formatter.formatToParts(new Date(epochSeconds * 1000));
  const part = (type: 'year' | 'month' | 'day'): string => {
    const found = parts.find((p) => p.type === type);
    if (found === undefined) throw new RangeError(`time zone formatter produced no ${type}`);
    return found.value;
  };
  return `${part('year').padStart(4, '0')}-${part('month')}-${part('day')}`;
}

/**
 * The folder holding one day of one app's messages, e.g. `messages/sdkappid=1400000000/dt=2024-03-10/`.
 * Equals {@link MESSAGE_LOCATION_TEMPLATE} with its placeholders filled.
 *
 * @throws RangeError for a non-positive or non-integer `sdkAppId`, or a `dt` that is not a real date.
 */
export function messagePartitionPrefix(sdkAppId: number, dt: string): string {
  assertSdkAppId(sdkAppId);
  assertPartitionDate(dt);
  return `messages/sdkappid=${sdkAppId}/dt=${dt}/`;
}

/** Input of {@link messageObjectKey}. */
export interface MessageObjectKeyInput {
  sdkAppId: number;
  /** `YYYY-MM-DD`, normally from {@link dateInZone}. */
  dt: string;
  runId: string;
  /** 0-based counter of the objects one run writes into one partition. */
  part: number;
}

/**
 * The key of one gzip NDJSON object, e.g.
 * `messages/sdkappid=1400000000/dt=2024-03-10/part-run42-00007.ndjson.gz`. The run id in the name
 * keeps concurrent or repeated runs from overwriting each other's objects.
 *
 * @throws RangeError for an invalid `sdkAppId`, `dt`, `runId` (`[A-Za-z0-9_-]{1,64}`) or `part`
 *   (an integer from 0 to 99999).
 */
export function messageObjectKey(input: MessageObjectKeyInput): string {
  assertRunId(input.runId);
  assertPart(input.part);
  const prefix = messagePartitionPrefix(input.sdkAppId, input.dt);
  return `${prefix}part-${input.runId}-${String(input.part).padStart(PART_DIGITS, '0')}.ndjson.gz`;
}

/**
 * The folder of one day's fingerprint logs (the sidecars the rescan compares against), e.g.
 * `fingerprints/sdkappid=1400000000/dt=2024-03-10/`. Outside `messages/`, so Athena never reads them.
 *
 * @throws RangeError for a non-positive or non-integer `sdkAppId`, or a `dt` that is not a real date.
 */
export function fingerprintPartitionPrefix(sdkAppId: number, dt: string): string {
  assertSdkAppId(sdkAppId);
  assertPartitionDate(dt);
  return `fingerprints/sdkappid=${sdkAppId}/dt=${dt}/`;
}

/**
 * The fingerprint log beside one message object: same day, run and part, e.g.
 * `fingerprints/sdkappid=1400000000/dt=2024-03-10/part-run42-00007.fp.gz`.
 *
 * @throws RangeError as {@link messageObjectKey}.
 */
export function fingerprintObjectKey(input: MessageObjectKeyInput): string {
  assertRunId(input.runId);
  assertPart(input.part);
  const prefix = fingerprintPartitionPrefix(input.sdkAppId, input.dt);
  return `${prefix}part-${input.runId}-${String(input.part).padStart(PART_DIGITS, '0')}.fp.gz`;
}

/**
 * How far the rescan of one app got: `rescan/sdkappid=<id>/progress.json`. Kept apart from the
 * continuation state: it only saves calls, correctness rests on the fingerprint logs.
 *
 * @throws RangeError for a non-positive or non-integer `sdkAppId`.
 */
export function rescanProgressKey(sdkAppId: number): string {
  assertSdkAppId(sdkAppId);
  return `rescan/sdkappid=${sdkAppId}/progress.json`;
}

/**
 * The continuation state of one app: `state/sdkappid=<id>/state.json`.
 *
 * @throws RangeError for a non-positive or non-integer `sdkAppId`.
 */
export function stateKey(sdkAppId: number): string {
  assertSdkAppId(sdkAppId);
  return `state/sdkappid=${sdkAppId}/state.json`;
}

/**
 * The audit's running totals of one app (docs/audit.md): `audits/totals/sdkappid=<id>/totals.json.gz`.
 *
 * @throws RangeError for a non-positive or non-integer `sdkAppId`.
 */
export function auditTotalsKey(sdkAppId: number): string {
  assertSdkAppId(sdkAppId);
  return `audits/totals/sdkappid=${sdkAppId}/totals.json.gz`;
}

/**
 * Where one audit's Athena `UNLOAD` writes a large result: `audits/unload/<runId>/` (empty before
 * the query, as UNLOAD requires).
 *
 * @throws RangeError for an invalid `runId`.
 */
export function auditUnloadPrefix(runId: string): string {
  assertRunId(runId);
  return `audits/unload/${runId}/`;
}

/** Input of {@link runReportKey}. */
export interface RunReportKeyInput {
  sdkAppId: number;
  runId: string;
  /** When the run started, epoch seconds; decides the `dt` folder. */
  startedAtSeconds: number;
  /** The archive's IANA zone, the same one that partitions the messages. */
  timeZone: string;
}

/**
 * The key of one run report: `runs/sdkappid=<id>/dt=<start date in zone>/<runId>.json`.
 *
 * @throws ConfigError (field `archive.timeZone`) for an unknown zone.
 * @throws RangeError for an invalid `sdkAppId`, `runId` or start time.
 */
export function runReportKey(input: RunReportKeyInput): string {
  assertSdkAppId(input.sdkAppId);
  assertRunId(input.runId);
  const dt = dateInZone(input.startedAtSeconds, input.timeZone);
  return `runs/sdkappid=${input.sdkAppId}/dt=${dt}/${input.runId}.json`;
}

function assertSdkAppId(sdkAppId: number): void {
  if (!Number.isSafeInteger(sdkAppId) || sdkAppId <= 0) {
    throw new RangeError(`sdkAppId must be a positive integer, got ${sdkAppId}`);
  }
}

function assertRunId(runId: string): void {
  // The run id becomes part of an object key: no `/`, no `.`, nothing that needs URL escaping.
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new RangeError(`runId must match ${RUN_ID_PATTERN.source}, got ${JSON.stringify(runId)}`);
  }
}

function assertPart(part: number): void {
  if (!Number.isSafeInteger(part) || part < 0 || part > MAX_PART) {
    throw new RangeError(`part must be an integer from 0 to ${MAX_PART}, got ${part}`);
  }
}

/** `YYYY-MM-DD` naming a day that exists (rejects `2024-02-30`, which Athena projection would never list). */
function assertPartitionDate(dt: string): void {
  const match = DATE_PATTERN.exec(dt);
  const [year, month, day] = match === null ? [] : [Number(match[1]), Number(match[2]), Number(match[3])];
  const valid =
    year !== undefined && month !== undefined && day !== undefined && isRealDate(year, month, day);
  if (!valid) throw new RangeError(`dt must be a real date formatted YYYY-MM-DD, got ${JSON.stringify(dt)}`);
}

function isRealDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC maps years 0-99 to 1900-1999; those are not archive dates anyway.
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
