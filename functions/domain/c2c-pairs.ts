/**
 * The one-to-one pass's pure logic (issue 26; docs/one-to-one.md): the pairs the config names, the
 * state kept per pair (a pair stored once, in sorted order), which pairs need a pull, the window of
 * a pull and its continuation, the dedup of the window's inclusive lower second, and the compact
 * text of the state's shards. No I/O, clock or environment: times come in as arguments.
 */
import { c2cIdentity, compareCodePoints, conversationOf } from './c2c-record.ts';
import { type C2cPrint, parsePrints, type SerializedPrint, serializePrints } from './c2c-revision.ts';
import { isJsonObject, isSafeInt, isString } from './json-guards.ts';
import type { RoamMessage } from './tencent-types.ts';

/** The `c2c` section of an app's config as the pass reads it. */
export interface C2cPairsConfig {
  readonly accounts?: readonly string[] | undefined;
  readonly pairs?: readonly (readonly [string, string])[] | undefined;
}

/** Two accounts in code-point order (the order of `conversationOf`). */
export type SortedPair = readonly [string, string];

/** `a` and `b` in code-point order. */
export function sortPair(a: string, b: string): SortedPair {
  return compareCodePoints(a, b) <= 0 ? [a, b] : [b, a];
}

/**
 * Every pair the config names, once each, sorted: all pairs among `accounts` and every listed
 * pair (either order). A pair of an account with itself is dropped (the schema refuses it).
 */
export function configPairs(config: C2cPairsConfig | undefined): SortedPair[] {
  const byConversation = new Map<string, SortedPair>();
  const add = (a: string, b: string): void => {
    if (a === b || a === '' || b === '') return;
    const pair = sortPair(a, b);
    byConversation.set(conversationOf(pair[0], pair[1]), pair);
  };
  const accounts = [...new Set(config?.accounts ?? [])];
  for (let i = 0; i < accounts.length; i++) {
    for (let j = i + 1; j < accounts.length; j++) add(accounts[i] as string, accounts[j] as string);
  }
  for (const [a, b] of config?.pairs ?? []) add(a, b);
  return [...byConversation.entries()].sort((x, y) => compareCodePoints(x[0], y[0])).map(([, p]) => p);
}

/**
 * Which shard of `shards` holds a conversation: FNV-1a of its UTF-16 units with MurmurHash3's
 * finaliser (FNV's low bits alone follow the characters' parity: half the shards stayed empty),
 * stable across runs.
 */
export function pairShard(conversation: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < conversation.length; i++) {
    hash ^= conversation.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % shards;
}

/**
 * A pull under way: the window `[minTime, maxTime]` (epoch seconds, both inclusive) read from
 * `operator`'s side, and the continuation of the last committed page (`cursorKey` empty before
 * the first page). `newestTime`/`newestKeys` are the newest second archived in the window so far
 * and the `MsgKey`s of that second (they become the pair's `archivedTime`/`edgeKeys` when it closes).
 */
export interface C2cWindow {
  readonly minTime: number;
  readonly maxTime: number;
  readonly operator: string;
  readonly cursorTime: number;
  readonly cursorKey: string;
  readonly newestTime: number | null;
  readonly newestKeys: readonly string[];
  /**
   * The parts of the window still to read once it was split ({@link splitSpan}), each paged on its
   * own; absent while the window is one span (`[minTime, maxTime]` at `cursorTime`/`cursorKey`).
   */
  readonly spans?: readonly C2cSpan[] | undefined;
}

/**
 * A part of a window paged on its own: the seconds `[minTime, maxTime]` (both inclusive, disjoint
 * from every other span of the window), read backwards from `cursorTime` (after `cursorKey`, empty
 * before its first page). `maxTime` names the span: it never changes while the span is read.
 */
export interface C2cSpan {
  readonly minTime: number;
  readonly maxTime: number;
  readonly cursorTime: number;
  readonly cursorKey: string;
}

/** The spans of a window still to read: its `spans`, or the window itself as one span. */
export function windowSpans(window: C2cWindow): readonly C2cSpan[] {
  if (window.spans !== undefined) return window.spans;
  const { minTime, maxTime, cursorTime, cursorKey } = window;
  return [{ minTime, maxTime, cursorTime, cursorKey }];
}

/** What the state keeps per pair. */
export interface C2cPairState {
  /** The pair, sorted (`a` ≤ `b` by code point). */
  readonly a: string;
  readonly b: string;
  /** The newest message time archived (the next window's inclusive lower bound); null before any. */
  readonly archivedTime: number | null;
  /** The `MsgKey`s archived at `archivedTime`: dropped when that second is served again. */
  readonly edgeKeys: readonly string[];
  /** The newest message time a witness reported (callbacks, hourly files); null when none did. */
  readonly knownTime: number | null;
  /** When the last window of this pair closed (epoch seconds); null before the first. */
  readonly pulledAt: number | null;
  readonly window: C2cWindow | null;
  /** Why the pair is no longer pulled (an account gone: 90003/90008), or null. */
  readonly skipped: string | null;
  /**
   * The prints of the pair's messages archived inside the rescan window (functions/domain/c2c-revision.ts),
   * what a rescan compares the re-paged window with; absent or empty when none.
   */
  readonly prints?: readonly C2cPrint[] | undefined;
}

/** A pair the state has not seen yet. */
export function newPairState(pair: SortedPair): C2cPairState {
  return {
    a: pair[0],
    b: pair[1],
    archivedTime: null,
    edgeKeys: [],
    knownTime: null,
    pulledAt: null,
    window: null,
    skipped: null,
  };
}

/** The pair's conversation (`conversationOf`). */
export function pairConversation(state: Pick<C2cPairState, 'a' | 'b'>): string {
  return conversationOf(state.a, state.b);
}

/**
 * Whether a run pulls this pair: a window left open, a pair never pulled, a pair the config names
 * (no witness says whether it talked: one call tells), or one a witness saw talk since the newest
 * archived message. A skipped pair is not pulled.
 */
export function needsPull(state: C2cPairState, inConfig: boolean): boolean {
  if (state.skipped !== null) return false;
  if (state.window !== null || state.pulledAt === null || inConfig) return true;
  return state.knownTime !== null && state.knownTime > (state.archivedTime ?? -1);
}

/**
 * Seconds the window reaches past the estimated server now: the estimate of the server's clock
 * (functions/domain/server-clock.ts) may lag it by up to about half a second, and a message of the
 * server's current second must not fall outside the window (the next window starts at the newest
 * archived second anyway, so reaching ahead never skips or repeats a message).
 */
export const WINDOW_AHEAD_SEC = 2;

/**
 * Opens the pair's window at `nowSec` (the server's time, estimated): from the newest archived
 * second (inclusive, so that second's later messages come too) or the retention's start, to now
 * and {@link WINDOW_AHEAD_SEC}; read from the pair's first account's side.
 */
export function openWindow(state: C2cPairState, nowSec: number, retentionDays: number): C2cPairState {
  if (state.window !== null) return state;
  const floor = Math.max(0, nowSec - retentionDays * 86_400);
  const minTime = Math.min(nowSec, Math.max(floor, state.archivedTime ?? floor));
  const maxTime = nowSec + WINDOW_AHEAD_SEC;
  return {
    ...state,
    window: {
      minTime,
      maxTime,
      operator: state.a,
      cursorTime: maxTime,
      cursorKey: '',
      newestTime: null,
      newestKeys: [],
    },
  };
}

/** What one page adds: the messages not archived yet, and the pair's next state. */
export interface PageOutcome {
  readonly fresh: RoamMessage[];
  readonly duplicates: number;
  readonly next: C2cPairState;
}

/**
 * Applies one page of the open window's span named by `page.span` (the span's `maxTime`; the
 * window's only span when absent): drops messages already archived (the inclusive lower second's `edgeKeys`, and any
 * `MsgKey` in `seen`, the identities this run archived for the pair, which it extends), moves the
 * span's cursor to the page's continuation point (a complete page ends the span), and closes the
 * window at `nowSec` when its last span ends.
 */
export function applyPage(
  state: C2cPairState,
  page: {
    complete: boolean;
    lastMsgTime: number;
    lastMsgKey: string;
    messages: readonly RoamMessage[];
    span?: number | undefined;
  },
  seen: Set<string>,
  nowSec: number,
): PageOutcome {
  const spanMaxTime = page.span;
  const window = state.window;
  if (window === null) throw new RangeError('applyPage needs an open window');
  const spans = windowSpans(window);
  const span = spanMaxTime === undefined ? spans[0] : spans.find((s) => s.maxTime === spanMaxTime);
  if (span === undefined || (spanMaxTime === undefined && spans.length > 1)) {
    throw new RangeError('applyPage names no span of the window');
  }
  const conversation = pairConversation(state);
  const edge = new Set(window.minTime === state.archivedTime ? state.edgeKeys : []);
  const fresh: RoamMessage[] = [];
  let duplicates = 0;
  let newestTime = window.newestTime;
  let newestKeys = [...window.newestKeys];
  for (const m of page.messages) {
    const identity = c2cIdentity(conversation, m.MsgKey);
    if ((m.MsgTimeStamp === window.minTime && edge.has(m.MsgKey)) || seen.has(identity)) {
      duplicates++;
      continue;
    }
    seen.add(identity);
    fresh.push(m);
    if (newestTime === null || m.MsgTimeStamp > newestTime) {
      newestTime = m.MsgTimeStamp;
      newestKeys = [m.MsgKey];
    } else if (m.MsgTimeStamp === newestTime) newestKeys.push(m.MsgKey);
  }
  const left = spans.filter((s) => s !== span);
  if (page.complete && left.length === 0) {
    return { fresh, duplicates, next: closeWindow(state, newestTime, newestKeys, nowSec) };
  }
  const cursor = { cursorTime: page.lastMsgTime, cursorKey: page.lastMsgKey };
  if (window.spans === undefined) {
    return {
      fresh,
      duplicates,
      next: { ...state, window: { ...window, ...cursor, newestTime, newestKeys } },
    };
  }
  const nextSpans = page.complete ? left : spans.map((s) => (s === span ? { ...s, ...cursor } : s));
  return {
    fresh,
    duplicates,
    next: { ...state, window: { ...window, spans: nextSpans, newestTime, newestKeys } },
  };
}

/**
 * Splits what is left of the window's span `spanMaxTime` into `parts` spans by time, so that they
 * can be paged at once: the first keeps the span's cursor and its newest seconds, each other one
 * is a whole range of older seconds read from its top without a `LastMsgKey`. The spans stay
 * disjoint, so no message is served by two of them. Fewer parts when the span has fewer seconds
 * left; the state unchanged when it cannot be split (1 part, or 1 second left).
 * Only a span with no request in flight may be split: the answer of one sent before would
 * belong to a range that no longer exists.
 */
export function splitSpan(state: C2cPairState, spanMaxTime: number, parts: number): C2cPairState {
  const window = state.window;
  if (window === null) return state;
  const spans = windowSpans(window);
  const span = spans.find((s) => s.maxTime === spanMaxTime);
  if (span === undefined) return state;
  const seconds = span.cursorTime - span.minTime + 1;
  const n = Math.min(Math.floor(parts), seconds);
  if (n < 2) return state;
  const pieces: C2cSpan[] = [];
  let hi = span.cursorTime;
  for (let i = 0; i < n; i++) {
    const size = Math.floor(seconds / n) + (i < seconds % n ? 1 : 0);
    const lo = hi - size + 1;
    pieces.push(
      i === 0 ? { ...span, minTime: lo } : { minTime: lo, maxTime: hi, cursorTime: hi, cursorKey: '' },
    );
    hi = lo - 1;
  }
  const nextSpans = spans.flatMap((s) => (s === span ? pieces : [s]));
  return { ...state, window: { ...window, spans: nextSpans } };
}

/**
 * The pages a span still needs, estimated from the pages read in it so far (`pagesRead`, at least
 * one) and the seconds they covered (from the span's top, or the window's newest message when
 * newer messages are not there yet: a quiet stretch before the first message is no page).
 */
export function estimatePagesLeft(window: C2cWindow, span: C2cSpan, pagesRead: number): number {
  const top = Math.min(span.maxTime, window.newestTime ?? span.maxTime);
  const covered = Math.max(1, top - span.cursorTime + 1);
  const left = span.cursorTime - span.minTime + 1;
  return (left / covered) * Math.max(1, pagesRead);
}

function closeWindow(
  state: C2cPairState,
  newestTime: number | null,
  newestKeys: readonly string[],
  nowSec: number,
): C2cPairState {
  if (newestTime === null || (state.archivedTime !== null && newestTime < state.archivedTime)) {
    return { ...state, window: null, pulledAt: nowSec };
  }
  const keys =
    newestTime === state.archivedTime ? [...new Set([...state.edgeKeys, ...newestKeys])] : [...newestKeys];
  return { ...state, archivedTime: newestTime, edgeKeys: keys, window: null, pulledAt: nowSec };
}

// ---------------------------------------------------------------------------------------------
// The state's text: one shard object is one JSON line per pair (compact arrays)
// ---------------------------------------------------------------------------------------------

type SpanTuple = [number, number, number, string];
type WindowTuple = [number, number, string, number, string, number | null, string[], SpanTuple[]?];
type PairTuple = [
  string,
  string,
  number | null,
  string[],
  number | null,
  number | null,
  WindowTuple | null,
  string | null,
  SerializedPrint[]?,
];

/** One shard's pairs as text: a JSON array per line, in the order given. */
export function serializeShard(states: Iterable<C2cPairState>): string {
  const lines: string[] = [];
  for (const s of states) {
    const w = s.window;
    const tuple: PairTuple = [
      s.a,
      s.b,
      s.archivedTime,
      [...s.edgeKeys],
      s.knownTime,
      s.pulledAt,
      w === null ? null : windowTuple(w),
      s.skipped,
    ];
    if (s.prints !== undefined && s.prints.length > 0) tuple.push(serializePrints(s.prints));
    lines.push(JSON.stringify(tuple));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function windowTuple(w: C2cWindow): WindowTuple {
  const tuple: WindowTuple = [
    w.minTime,
    w.maxTime,
    w.operator,
    w.cursorTime,
    w.cursorKey,
    w.newestTime,
    [...w.newestKeys],
  ];
  if (w.spans !== undefined)
    tuple.push(w.spans.map((s): SpanTuple => [s.minTime, s.maxTime, s.cursorTime, s.cursorKey]));
  return tuple;
}

const intOrNull = (v: unknown): v is number | null => v === null || isSafeInt(v);
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function parseWindow(v: unknown): C2cWindow | null {
  if (v === null) return null;
  if (!Array.isArray(v) || (v.length !== 7 && v.length !== 8)) {
    throw new TypeError('a c2c window must be an array of 7 or 8');
  }
  const [minTime, maxTime, operator, cursorTime, cursorKey, newestTime, newestKeys, spans] = v as unknown[];
  if (
    !isSafeInt(minTime) ||
    !isSafeInt(maxTime) ||
    !isString(operator) ||
    !isSafeInt(cursorTime) ||
    !isString(cursorKey) ||
    !intOrNull(newestTime) ||
    !strings(newestKeys)
  ) {
    throw new TypeError('a c2c window has a field of the wrong type');
  }
  const window = { minTime, maxTime, operator, cursorTime, cursorKey, newestTime, newestKeys };
  return spans === undefined ? window : { ...window, spans: parseSpans(spans) };
}

function parseSpans(v: unknown): C2cSpan[] {
  if (!Array.isArray(v) || v.length === 0)
    throw new TypeError("a c2c window's spans must be a non-empty array");
  return v.map((t: unknown) => {
    if (!Array.isArray(t) || t.length !== 4) throw new TypeError('a c2c span must be an array of 4');
    const [minTime, maxTime, cursorTime, cursorKey] = t as unknown[];
    if (!isSafeInt(minTime) || !isSafeInt(maxTime) || !isSafeInt(cursorTime) || !isString(cursorKey)) {
      throw new TypeError('a c2c span has a field of the wrong type');
    }
    return { minTime, maxTime, cursorTime, cursorKey };
  });
}

/**
 * The pairs of a shard's text ({@link serializeShard}).
 * @throws TypeError when a line is not a pair's state
 */
export function parseShard(text: string): C2cPairState[] {
  const out: C2cPairState[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const v: unknown = JSON.parse(line);
    if (!Array.isArray(v) || (v.length !== 8 && v.length !== 9) || isJsonObject(v)) {
      throw new TypeError('a c2c pair state must be an array of 8 or 9');
    }
    const [a, b, archivedTime, edgeKeys, knownTime, pulledAt, window, skipped, prints] = v as unknown[];
    if (
      !isString(a) ||
      !isString(b) ||
      !intOrNull(archivedTime) ||
      !strings(edgeKeys) ||
      !intOrNull(knownTime) ||
      !intOrNull(pulledAt) ||
      !(skipped === null || isString(skipped)) ||
      compareCodePoints(a, b) >= 0
    ) {
      throw new TypeError('a c2c pair state has a field of the wrong type, or its pair is not sorted');
    }
    const state = { a, b, archivedTime, edgeKeys, knownTime, pulledAt, window: parseWindow(window), skipped };
    out.push(prints === undefined ? state : { ...state, prints: parsePrints(prints) });
  }
  return out;
}
