/**
 * The fingerprint log: a compact sidecar object written beside each message object, in the same
 * checkpoint (so it commits or rolls back with the records it describes), holding one line per
 * record: its seq, revision, `IsPlaceMsg`, content fingerprint, time and observation time. The
 * rescan reads a day's logs back into a {@link FingerprintTable} to know, per message, the latest
 * revision the archive holds, without reading the message objects themselves.
 *
 * Text format (gzip-compressed by the writer), one header per target:
 *
 *     fp1
 *     T ["<groupId>",<topicId or null>,<generation>]
 *     <seq> <revision> <isPlaceMsg> <fingerprint> <msgTime> <observedAt or ->
 *
 * `msgTime` is the time the record is filed under (its `dt`): the served `MsgTimeStamp`, or for a
 * zeroed placeholder the time the archive knows (placeholder-time.ts). The rescan decides by it.
 *
 * Memory: the table keeps ~25 bytes per message in typed arrays (1,000,000 messages a day is about
 * 25 MB), one day at a time. Pure.
 */
import { FingerprintLogError } from './errors.ts';
import type { ArchiveRecord } from './record.ts';
import { contentFingerprint, FINGERPRINT_HEX_LENGTH } from './revisions.ts';

const MAGIC = 'fp1';

/** Which message stream a log section belongs to. */
export interface PrintTarget {
  readonly groupId: string;
  readonly topicId: string | null;
  readonly generation: number;
}

/** One record as the log keeps it. */
export interface PrintEntry {
  readonly seq: number;
  readonly revision: number;
  readonly place: number;
  readonly fingerprint: string;
  readonly msgTime: number;
  readonly observedAt: number | null;
}

const targetId = (t: PrintTarget): string => JSON.stringify([t.groupId, t.topicId, t.generation]);

/**
 * The log entry of a record (quarantined records are not compared, so they have none). `filedAt`
 * is the time the record is filed under: its `msg_time`, except for a zeroed placeholder (see
 * placeholder-time.ts), whose entry keeps the time the archive knows instead of the served 0.
 */
export function printEntryOf(record: ArchiveRecord, filedAt = record.msg_time): PrintEntry | undefined {
  if (record.quarantined) return undefined;
  return {
    seq: record.msg_seq,
    revision: record.revision,
    place: record.is_place_msg,
    fingerprint: contentFingerprint(record),
    msgTime: filedAt,
    observedAt: record.observed_at,
  };
}

/** Collects the entries of one object's records and renders the log text. */
export class FingerprintLogBuilder {
  readonly #sections = new Map<string, string[]>();
  #count = 0;

  public get count(): number {
    return this.#count;
  }

  /** Adds a record filed under `filedAt` (default its `msg_time`; see {@link printEntryOf}). */
  public add(record: ArchiveRecord, filedAt = record.msg_time): void {
    const entry = printEntryOf(record, filedAt);
    if (entry === undefined) return;
    const id = targetId({
      groupId: record.group_id,
      topicId: record.topic_id,
      generation: record.generation,
    });
    const lines = this.#sections.get(id) ?? [];
    lines.push(
      `${entry.seq} ${entry.revision} ${entry.place} ${entry.fingerprint} ${entry.msgTime} ${entry.observedAt ?? '-'}`,
    );
    this.#sections.set(id, lines);
    this.#count++;
  }

  public build(): string {
    const out = [MAGIC];
    for (const [id, lines] of this.#sections) out.push(`T ${id}`, ...lines);
    return `${out.join('\n')}\n`;
  }
}

const UINT32_MAX = 0xffff_ffff;

/** Growable columns of one target's entries. */
class Columns {
  public length = 0;
  public seq: Uint32Array;
  public rev: Uint32Array;
  public place: Uint8Array;
  public fpHi: Uint32Array;
  public fpLo: Uint32Array;
  /** Epoch seconds, clamped to uint32 (year 2106). */
  public time: Uint32Array;
  /** Epoch seconds + 1, so 0 means "unknown". */
  public obs: Uint32Array;

  public constructor(capacity = 16) {
    this.seq = new Uint32Array(capacity);
    this.rev = new Uint32Array(capacity);
    this.place = new Uint8Array(capacity);
    this.fpHi = new Uint32Array(capacity);
    this.fpLo = new Uint32Array(capacity);
    this.time = new Uint32Array(capacity);
    this.obs = new Uint32Array(capacity);
  }

  public push(e: PrintEntry): void {
    if (this.length === this.seq.length) this.resize(Math.ceil(this.length * 1.5) + 16);
    const i = this.length++;
    this.seq[i] = e.seq;
    this.rev[i] = e.revision;
    this.place[i] = e.place;
    this.fpHi[i] = Number.parseInt(e.fingerprint.slice(0, 8), 16);
    this.fpLo[i] = Number.parseInt(e.fingerprint.slice(8, 16), 16);
    this.time[i] = Math.min(UINT32_MAX, Math.max(0, e.msgTime));
    this.obs[i] = e.observedAt === null ? 0 : Math.min(UINT32_MAX, e.observedAt + 1);
  }

  public entry(i: number): PrintEntry {
    const obs = this.obs[i] as number;
    return {
      seq: this.seq[i] as number,
      revision: this.rev[i] as number,
      place: this.place[i] as number,
      fingerprint:
        (this.fpHi[i] as number).toString(16).padStart(8, '0') +
        (this.fpLo[i] as number).toString(16).padStart(8, '0'),
      msgTime: this.time[i] as number,
      observedAt: obs === 0 ? null : obs - 1,
    };
  }

  /** Sort by seq, keep only the highest revision of each seq, and trim the arrays. */
  public compact(): Columns {
    const order = Array.from({ length: this.length }, (_, i) => i);
    order.sort(
      (a, b) =>
        (this.seq[a] as number) - (this.seq[b] as number) ||
        (this.rev[a] as number) - (this.rev[b] as number),
    );
    const keep: number[] = [];
    for (let k = 0; k < order.length; k++) {
      const i = order[k] as number;
      const next = order[k + 1];
      if (next === undefined || this.seq[next] !== this.seq[i]) keep.push(i);
    }
    const out = new Columns(Math.max(1, keep.length));
    for (const i of keep) out.push(this.entry(i));
    return out;
  }

  private resize(capacity: number): void {
    const grow = <T extends Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old.subarray(0, this.length));
      return next;
    };
    this.seq = grow(this.seq, (n) => new Uint32Array(n));
    this.rev = grow(this.rev, (n) => new Uint32Array(n));
    this.place = grow(this.place, (n) => new Uint8Array(n));
    this.fpHi = grow(this.fpHi, (n) => new Uint32Array(n));
    this.fpLo = grow(this.fpLo, (n) => new Uint32Array(n));
    this.time = grow(this.time, (n) => new Uint32Array(n));
    this.obs = grow(this.obs, (n) => new Uint32Array(n));
  }
}

/** The latest revision of every message of one target, sorted by seq. */
export class TargetPrints {
  public constructor(
    public readonly target: PrintTarget,
    private readonly columns: Columns,
  ) {}

  public get size(): number {
    return this.columns.length;
  }

  /** The i-th entry in seq order. */
  public at(i: number): PrintEntry {
    if (i < 0 || i >= this.columns.length) throw new RangeError(`index ${i} out of range`);
    return this.columns.entry(i);
  }

  /** The latest entry for `seq`, if the archive holds it. */
  public find(seq: number): PrintEntry | undefined {
    let lo = 0;
    let hi = this.columns.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = this.columns.seq[mid] as number;
      if (value === seq) return this.columns.entry(mid);
      if (value < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/** A day's fingerprint logs merged: per target, the latest revision of each message. */
export class FingerprintTable {
  readonly #loading = new Map<string, { target: PrintTarget; columns: Columns }>();
  #entries = 0;

  /** Entries read so far (every revision, before merging). */
  public get entries(): number {
    return this.#entries;
  }

  /**
   * Adds one log object's text.
   * @throws FingerprintLogError naming the object and line when the text is not a fingerprint log.
   */
  public addLog(text: string, source: string): void {
    let current: { target: PrintTarget; columns: Columns } | undefined;
    let lineNo = 0;
    const fail = (why: string): never => {
      throw new FingerprintLogError(
        `Fingerprint log ${source} line ${lineNo}: ${why}. The rescan of its day stops; restore the object or delete it to rescan that day without it.`,
      );
    };
    for (const line of text.split('\n')) {
      lineNo++;
      if (lineNo === 1) {
        if (line !== MAGIC) fail(`expected "${MAGIC}"`);
        continue;
      }
      if (line === '') continue;
      if (line.startsWith('T ')) {
        current = this.#section(parseTarget(line.slice(2)) ?? fail('bad target header'));
        continue;
      }
      if (current === undefined) fail('entry before any target header');
      (current as { columns: Columns }).columns.push(parseEntry(line) ?? fail('bad entry'));
      this.#entries++;
    }
  }

  /** Merges the loaded entries; the table is then read with {@link targets}. */
  public targets(): TargetPrints[] {
    const out = [...this.#loading.values()].map((s) => new TargetPrints(s.target, s.columns.compact()));
    this.#loading.clear();
    return out.sort((a, b) => compareTargets(a.target, b.target));
  }

  #section(target: PrintTarget): { target: PrintTarget; columns: Columns } {
    const id = targetId(target);
    let section = this.#loading.get(id);
    if (section === undefined) {
      section = { target, columns: new Columns() };
      this.#loading.set(id, section);
    }
    return section;
  }
}

/** A stable order of targets (group, then topic, then generation). */
export function compareTargets(a: PrintTarget, b: PrintTarget): number {
  if (a.groupId !== b.groupId) return a.groupId < b.groupId ? -1 : 1;
  const ta = a.topicId ?? '';
  const tb = b.topicId ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.generation - b.generation;
}

function parseTarget(text: string): PrintTarget | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [groupId, topicId, generation] = value as unknown[];
  if (typeof groupId !== 'string' || (topicId !== null && typeof topicId !== 'string')) return undefined;
  if (!Number.isSafeInteger(generation) || (generation as number) < 0) return undefined;
  return { groupId, topicId: topicId as string | null, generation: generation as number };
}

const ENTRY = new RegExp(`^(\\d+) (\\d+) (\\d+) ([0-9a-f]{${FINGERPRINT_HEX_LENGTH}}) (-?\\d+) (\\d+|-)$`);

function parseEntry(line: string): PrintEntry | undefined {
  const m = ENTRY.exec(line);
  if (m === null) return undefined;
  const seq = Number(m[1]);
  if (seq > UINT32_MAX) return undefined;
  return {
    seq,
    revision: Number(m[2]),
    place: Number(m[3]),
    fingerprint: m[4] as string,
    msgTime: Number(m[5]),
    observedAt: m[6] === '-' ? null : Number(m[6]),
  };
}
