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
 * Memory: the table keeps ~29 bytes per message in typed arrays shared by every target of the day
 * (1,000,000 messages a day is about 29 MB, twice that while merging) and ~150 bytes per target,
 * one day at a time. Pure.
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

/** Lines joined into one flat block of text at a time (a block per ~1,000 entries). */
const BLOCK_LINES = 1024;

/**
 * Collects the entries of one object's records and renders the log text. The text is kept as it
 * is built, in flat blocks (~60 bytes per entry), with a target header line wherever the target
 * changes from the line before (a page's records come together; the reader merges a target's
 * sections), not as a list of lines per target.
 */
export class FingerprintLogBuilder {
  readonly #blocks: string[] = [];
  #lines: string[] = [MAGIC];
  #lastId: string | undefined;
  #count = 0;

  public get count(): number {
    return this.#count;
  }

  /** Adds a record filed under `filedAt` (default its `msg_time`; see {@link printEntryOf}). */
  public add(record: ArchiveRecord, filedAt = record.msg_time): void {
    const entry = printEntryOf(record, filedAt);
    if (entry === undefined) return;
    this.addEntry(
      { groupId: record.group_id, topicId: record.topic_id, generation: record.generation },
      entry,
    );
  }

  /** Adds one entry of `target` (a record's is {@link printEntryOf} it). */
  public addEntry(target: PrintTarget, entry: PrintEntry): void {
    const id = targetId(target);
    if (id !== this.#lastId) {
      this.#lines.push(`T ${id}`);
      this.#lastId = id;
    }
    this.#lines.push(
      `${entry.seq} ${entry.revision} ${entry.place} ${entry.fingerprint} ${entry.msgTime} ${entry.observedAt ?? '-'}`,
    );
    this.#count++;
    if (this.#lines.length >= BLOCK_LINES) this.#seal();
  }

  public build(): string {
    return this.blocks().join('');
  }

  /** The log text as built so far, in blocks (to compress without joining them first). */
  public blocks(): readonly string[] {
    this.#seal();
    return this.#blocks;
  }

  #seal(): void {
    if (this.#lines.length === 0) return;
    this.#blocks.push(`${this.#lines.join('\n')}\n`);
    this.#lines = [];
  }
}

const UINT32_MAX = 0xffff_ffff;

/**
 * Growable columns of a day's entries: every target's in one set, so the table costs ~29 bytes per
 * entry and a few objects per target, not seven typed arrays per target (which cost ~1.8 KB each
 * for a target of five messages: 53 MB for a day of 30,000 targets).
 */
class Columns {
  public length = 0;
  /** The entry's target, an index into the table's targets. */
  public tgt: Uint32Array;
  public seq: Uint32Array;
  public rev: Uint32Array;
  public place: Uint8Array;
  public fpHi: Uint32Array;
  public fpLo: Uint32Array;
  /** Epoch seconds, clamped to uint32 (year 2106). */
  public time: Uint32Array;
  /** Epoch seconds + 1, so 0 means "unknown". */
  public obs: Uint32Array;

  public constructor(capacity = 1024) {
    this.tgt = new Uint32Array(capacity);
    this.seq = new Uint32Array(capacity);
    this.rev = new Uint32Array(capacity);
    this.place = new Uint8Array(capacity);
    this.fpHi = new Uint32Array(capacity);
    this.fpLo = new Uint32Array(capacity);
    this.time = new Uint32Array(capacity);
    this.obs = new Uint32Array(capacity);
  }

  public push(target: number, e: PrintEntry): void {
    if (this.length === this.seq.length) this.resize(Math.ceil(this.length * 1.5) + 16);
    const i = this.length++;
    this.tgt[i] = target;
    this.seq[i] = e.seq;
    this.rev[i] = e.revision;
    this.place[i] = e.place;
    this.fpHi[i] = Number.parseInt(e.fingerprint.slice(0, 8), 16);
    this.fpLo[i] = Number.parseInt(e.fingerprint.slice(8, 16), 16);
    this.time[i] = Math.min(UINT32_MAX, Math.max(0, e.msgTime));
    this.obs[i] = e.observedAt === null ? 0 : Math.min(UINT32_MAX, e.observedAt + 1);
  }

  /** Appends row `i` of `from` (capacity must allow it). */
  public copyRow(from: Columns, i: number): void {
    const k = this.length++;
    this.tgt[k] = from.tgt[i] as number;
    this.seq[k] = from.seq[i] as number;
    this.rev[k] = from.rev[i] as number;
    this.place[k] = from.place[i] as number;
    this.fpHi[k] = from.fpHi[i] as number;
    this.fpLo[k] = from.fpLo[i] as number;
    this.time[k] = from.time[i] as number;
    this.obs[k] = from.obs[i] as number;
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

  private resize(capacity: number): void {
    const grow = <T extends Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old.subarray(0, this.length));
      return next;
    };
    this.tgt = grow(this.tgt, (n) => new Uint32Array(n));
    this.seq = grow(this.seq, (n) => new Uint32Array(n));
    this.rev = grow(this.rev, (n) => new Uint32Array(n));
    this.place = grow(this.place, (n) => new Uint8Array(n));
    this.fpHi = grow(this.fpHi, (n) => new Uint32Array(n));
    this.fpLo = grow(this.fpLo, (n) => new Uint32Array(n));
    this.time = grow(this.time, (n) => new Uint32Array(n));
    this.obs = grow(this.obs, (n) => new Uint32Array(n));
  }
}

/** The latest revision of every message of one target, sorted by seq: a slice of the day's columns. */
export class TargetPrints {
  public constructor(
    public readonly target: PrintTarget,
    private readonly columns: Columns,
    private readonly start: number,
    private readonly end: number,
  ) {}

  public get size(): number {
    return this.end - this.start;
  }

  /** The i-th entry in seq order. */
  public at(i: number): PrintEntry {
    if (i < 0 || i >= this.size) throw new RangeError(`index ${i} out of range`);
    return this.columns.entry(this.start + i);
  }

  /** The latest entry for `seq`, if the archive holds it. */
  public find(seq: number): PrintEntry | undefined {
    let lo = this.start;
    let hi = this.end - 1;
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
  /** Target index by its id (a log names a target in a header line, again in each log). */
  readonly #ids = new Map<string, number>();
  #targets: PrintTarget[] = [];
  #columns = new Columns();
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
    let current: number | undefined;
    let lineNo = 0;
    const fail = (why: string): never => {
      throw new FingerprintLogError(
        `Fingerprint log ${source} line ${lineNo}: ${why}. The rescan of its day stops; restore the object or delete it to rescan that day without it.`,
      );
    };
    // Line by line, without splitting the whole text into an array first.
    for (let from = 0; from < text.length || lineNo === 0; ) {
      const newline = text.indexOf('\n', from);
      const to = newline === -1 ? text.length : newline;
      const line = text.slice(from, to);
      from = to + 1;
      lineNo++;
      if (lineNo === 1) {
        if (line !== MAGIC) fail(`expected "${MAGIC}"`);
        continue;
      }
      if (line === '') continue;
      if (line.startsWith('T ')) {
        current = this.#index(parseTarget(line.slice(2)) ?? fail('bad target header'));
        continue;
      }
      if (current === undefined) fail('entry before any target header');
      this.#columns.push(current as number, parseEntry(line) ?? fail('bad entry'));
      this.#entries++;
    }
  }

  /**
   * Merges the loaded entries (sorted by target, then seq; only the highest revision of each seq
   * kept); the table is then read with the targets returned, and starts empty again.
   */
  public targets(): TargetPrints[] {
    const loaded = this.#columns;
    const targets = this.#targets;
    const byTarget = targets
      .map((_, i) => i)
      .sort((a, b) => compareTargets(targets[a] as PrintTarget, targets[b] as PrintTarget));
    const rank = new Uint32Array(targets.length);
    byTarget.forEach((t, r) => {
      rank[t] = r;
    });
    const order = new Uint32Array(loaded.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort(
      (a, b) =>
        (rank[loaded.tgt[a] as number] as number) - (rank[loaded.tgt[b] as number] as number) ||
        (loaded.seq[a] as number) - (loaded.seq[b] as number) ||
        (loaded.rev[a] as number) - (loaded.rev[b] as number),
    );
    const last = (k: number): boolean => {
      const i = order[k] as number;
      const next = order[k + 1];
      return next === undefined || loaded.seq[next] !== loaded.seq[i] || loaded.tgt[next] !== loaded.tgt[i];
    };
    let keep = 0;
    for (let k = 0; k < order.length; k++) if (last(k)) keep++;
    const merged = new Columns(Math.max(1, keep));
    for (let k = 0; k < order.length; k++) if (last(k)) merged.copyRow(loaded, order[k] as number);
    const out: TargetPrints[] = [];
    for (let start = 0; start < merged.length; ) {
      const t = merged.tgt[start] as number;
      let end = start + 1;
      while (end < merged.length && merged.tgt[end] === t) end++;
      out.push(new TargetPrints(targets[t] as PrintTarget, merged, start, end));
      start = end;
    }
    this.#ids.clear();
    this.#targets = [];
    this.#columns = new Columns();
    return out;
  }

  #index(target: PrintTarget): number {
    const id = targetId(target);
    let index = this.#ids.get(id);
    if (index === undefined) {
      index = this.#targets.length;
      this.#targets.push(target);
      this.#ids.set(id, index);
    }
    return index;
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
