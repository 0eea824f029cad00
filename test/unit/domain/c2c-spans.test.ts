/**
 * A one-to-one window split into spans paged at once (functions/domain/c2c-pairs.ts `splitSpan`,
 * `applyPage` with `span`): the spans are disjoint and cover what was left, every message is taken
 * once whatever order the spans' pages come in, the window closes when its last span ends, and the
 * spans' cursors go through the shard's text.
 */
import { describe, expect, it } from 'vitest';
import {
  applyPage,
  type C2cPairState,
  type C2cSpan,
  estimatePagesLeft,
  newPairState,
  openWindow,
  parseShard,
  serializeShard,
  splitSpan,
  windowSpans,
} from '../../../functions/domain/c2c-pairs.ts';
import type { RoamMessage, RoamRequest } from '../../../functions/domain/tencent-types.ts';
import { FakeChatApi } from '../../helpers/engine-fakes.ts';

const NOW = 1_800_000_000;

/** `count` messages, `step` seconds apart, ending 100 s before NOW (3 share a second when step is 0). */
function messages(count: number, step: number): RoamMessage[] {
  const start = NOW - 100 - (step === 0 ? Math.floor(count / 3) : count * step);
  return Array.from({ length: count }, (_, i) => ({
    From_Account: i % 2 === 0 ? 'a' : 'b',
    To_Account: i % 2 === 0 ? 'b' : 'a',
    MsgSeq: i,
    MsgRandom: i,
    MsgTimeStamp: start + (step === 0 ? Math.floor(i / 3) : i * step),
    MsgKey: `k${i}`,
    MsgFlagBits: 0,
    MsgBody: [],
  }));
}

function fake(list: RoamMessage[]): FakeChatApi {
  return new FakeChatApi({ c2c: [{ accounts: ['a', 'b'], messages: list }], serverNowMs: () => NOW * 1000 });
}

/** The request of one span's next page (as the pass sends it). */
function request(span: { minTime: number; cursorTime: number; cursorKey: string }) {
  const r: RoamRequest = {
    operatorAccount: 'a',
    peerAccount: 'b',
    maxCnt: 7,
    minTime: span.minTime,
    maxTime: span.cursorTime,
  };
  return span.cursorKey === '' ? r : { ...r, lastMsgKey: span.cursorKey };
}

/** Pages the window to its end, taking the spans' pages round robin (last span first when `reverse`). */
async function pageAll(api: FakeChatApi, start: C2cPairState, split: (s: C2cPairState) => C2cPairState) {
  let state = start;
  const seen = new Set<string>();
  const taken: string[] = [];
  let pages = 0;
  while (state.window !== null) {
    for (const span of [...windowSpans(state.window)].reverse()) {
      if (state.window === null) break;
      const page = await api.getRoamMessages(request(span));
      pages++;
      const spanned = state.window.spans === undefined ? page : { ...page, span: span.maxTime };
      const outcome = applyPage(state, spanned, seen, NOW);
      taken.push(...outcome.fresh.map((m) => m.MsgKey));
      state = outcome.next;
      if (pages === 1) state = split(state);
    }
  }
  return { state, taken, pages };
}

describe('a one-to-one window split into spans', () => {
  it('covers what was left with disjoint spans, the first keeping the cursor', () => {
    const open = openWindow(newPairState(['a', 'b']), NOW, 7);
    const w = open.window as NonNullable<C2cPairState['window']>;
    const paged = { ...open, window: { ...w, cursorTime: NOW - 1_000, cursorKey: 'k9' } };

    const split = splitSpan(paged, w.maxTime, 4);

    const spans = windowSpans(split.window as NonNullable<C2cPairState['window']>);
    expect(spans).toHaveLength(4);
    expect(spans[0]).toMatchObject({ maxTime: w.maxTime, cursorTime: NOW - 1_000, cursorKey: 'k9' });
    expect(spans.at(-1)?.minTime).toBe(w.minTime);
    for (let i = 1; i < spans.length; i++) {
      const [newer, older] = [spans[i - 1], spans[i]] as [C2cSpan, C2cSpan];
      expect(older.maxTime).toBe(newer.minTime - 1);
      expect(older).toMatchObject({ cursorTime: older.maxTime, cursorKey: '' });
    }
    // One second left cannot be split; an unknown span leaves the state as it is.
    const oneSecond = { ...open, window: { ...w, cursorTime: w.minTime } };
    expect(splitSpan(oneSecond, w.maxTime, 4)).toBe(oneSecond);
    expect(splitSpan(paged, 12, 4)).toBe(paged);
  });

  it.each([
    ['one a second', 1, 3],
    ['three a second', 0, 5],
    ['an hour apart, more spans than seconds with messages', 3_600, 16],
  ])('takes every message once, %s, split into %i spans after the first page', async (_name, step, parts) => {
    const list = messages(300, step);
    const api = fake(list);
    const open = openWindow(newPairState(['a', 'b']), NOW, 30);
    const maxTime = (open.window as NonNullable<C2cPairState['window']>).maxTime;

    const { state, taken, pages } = await pageAll(api, open, (s) => splitSpan(s, maxTime, parts));

    expect(taken).toHaveLength(300);
    expect(new Set(taken).size).toBe(300);
    expect(state.archivedTime).toBe(list.at(-1)?.MsgTimeStamp);
    // At most one partial page a span more than paging it whole (ceil(300 / 7) = 43).
    expect(pages).toBeLessThanOrEqual(43 + parts);
  });

  it('keeps the spans and their cursors through the shard text, and reads a window without spans', () => {
    const open = openWindow(newPairState(['a', 'b']), NOW, 7);
    const w = open.window as NonNullable<C2cPairState['window']>;
    const split = splitSpan(
      { ...open, window: { ...w, cursorTime: NOW - 50, cursorKey: 'x' } },
      w.maxTime,
      3,
    );

    const [back] = parseShard(serializeShard([split]));

    expect(back).toEqual(split);
    expect(parseShard(serializeShard([open]))[0]?.window?.spans).toBeUndefined();
    expect(() => parseShard('["a","b",null,[],null,null,[1,2,"a",2,"",null,[],[]],null]\n')).toThrow(
      TypeError,
    );
  });

  it('estimates the pages left from the seconds the pages read so far covered', () => {
    const open = openWindow(newPairState(['a', 'b']), NOW, 7);
    const w = open.window as NonNullable<C2cPairState['window']>;
    // The newest message 1,000 s ago, one page read down to 100 s below it, 10,000 s left.
    const paged = { ...w, newestTime: NOW - 1_000, cursorTime: NOW - 1_099, minTime: NOW - 11_098 };

    expect(estimatePagesLeft(paged, windowSpans(paged)[0] as never, 1)).toBe(100);
  });
});
