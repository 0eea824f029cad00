import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/domain/errors.ts';
import type { JsonValue, RawMessage } from '../../functions/domain/tencent-types.ts';
import {
  buildDataset,
  type DatasetSpec,
  DEMO_DATASET,
  ELEMENT_TYPES,
  generateMessage,
  messageFate,
  plansOf,
  seqTimeSec,
  streamKey,
} from '../../functions/simulator/index.ts';
import { SimWorld } from '../../functions/simulator/world.ts';

const ANCHOR = 1_790_000_000;
const DAY = 86_400;

/** Every synthetic message of the demo dataset, generated directly (no HTTP, no placeholders). */
function demoMessages(seed = 1): RawMessage[] {
  const messages: RawMessage[] = [];
  for (const group of plansOf(buildDataset(DEMO_DATASET, seed, ANCHOR))) {
    for (const stream of [group.main, ...group.topics]) {
      for (let seq = 1; seq <= stream.baseCount; seq++) {
        messages.push(generateMessage(stream, seq, seqTimeSec(stream, seq)));
      }
    }
  }
  return messages;
}

type Element = { MsgType: string; MsgContent: Record<string, JsonValue> };

/** Elements of a body, including those nested in TIMRelayElem.MsgList. */
function elementsOf(body: JsonValue | undefined): Element[] {
  if (!Array.isArray(body)) return [];
  return (body as Element[]).flatMap((element) => {
    const nested = element.MsgContent.MsgList;
    const inner = Array.isArray(nested)
      ? nested.flatMap((item) => elementsOf((item as RawMessage).MsgBody))
      : [];
    return [element, ...inner];
  });
}

describe('simulator dataset catalogue', () => {
  it('is deterministic for a seed and changes with the seed', () => {
    const a = buildDataset(DEMO_DATASET, 7, ANCHOR);
    const b = buildDataset(DEMO_DATASET, 7, ANCHOR);
    const c = buildDataset(DEMO_DATASET, 8, ANCHOR);
    expect([...plansOf(a)]).toEqual([...plansOf(b)]);
    const ids = (d: typeof a) => [...plansOf(d)].map((g) => g.groupId);
    expect(ids(a)).not.toEqual(ids(c));
  });

  it('mixes every group kind with ids in the documented shapes', () => {
    const spec: DatasetSpec = {
      groups: 400,
      activeFraction: 0.5,
      messagesPerActiveGroup: [1, 50],
      historyDays: 40,
    };
    const groups = [...plansOf(buildDataset(spec, 3, ANCHOR))];
    expect(groups).toHaveLength(400);
    expect(new Set(groups.map((g) => g.groupId)).size).toBe(400);
    expect(new Set(groups.map((g) => g.type))).toEqual(
      new Set(['Public', 'Private', 'ChatRoom', 'Community', 'AVChatRoom']),
    );
    const topicGroups = groups.filter((g) => g.topicsEnabled);
    expect(topicGroups.length).toBeGreaterThan(10);
    for (const group of groups) expect(group.groupId).toMatch(/^@TGS#[0-9a-zA-Z_@#]+$/);
    for (const group of topicGroups) {
      expect(group.type).toBe('Community');
      expect(group.groupId.startsWith('@TGS#_')).toBe(true);
      // Topic groups keep their history per topic; the group-level stream is empty.
      expect(group.main.baseCount).toBe(0);
      for (const topic of group.topics)
        expect(topic.topicId.startsWith(`${group.groupId}@TOPIC#_@TOPIC#`)).toBe(true);
    }
    const active = groups.filter((g) => g.main.baseCount + g.topics.reduce((n, t) => n + t.baseCount, 0) > 0);
    expect(active.length).toBeGreaterThan(150);
    expect(active.length).toBeLessThan(250);
  });

  it('honours extra groups exactly', () => {
    const spec: DatasetSpec = {
      groups: 0,
      activeFraction: 1,
      messagesPerActiveGroup: [0, 0],
      historyDays: 10,
      extraGroups: [
        { groupId: '@TGS#1BIG', type: 'Public', messages: 1_000_000 },
        {
          groupId: '@TGS#_@TGS#cT',
          type: 'Community',
          messages: 0,
          topics: [{ topicId: '@TGS#_@TGS#cT@TOPIC#_@TOPIC#x', messages: 5 }],
        },
      ],
    };
    const [big, topicGroup] = plansOf(buildDataset(spec, 1, ANCHOR));
    expect(big?.main.baseCount).toBe(1_000_000);
    expect(big?.main.firstTimeSec).toBe(ANCHOR - 10 * DAY);
    expect(topicGroup?.topicsEnabled).toBe(true);
    expect(topicGroup?.topics.map((t) => [t.topicId, t.baseCount])).toEqual([
      ['@TGS#_@TGS#cT@TOPIC#_@TOPIC#x', 5],
    ]);
  });

  it('rejects inconsistent specs with ConfigError', () => {
    const base: DatasetSpec = {
      groups: 1,
      activeFraction: 1,
      messagesPerActiveGroup: [1, 2],
      historyDays: 1,
    };
    const topics = [{ topicId: 't', messages: 1 }];
    expect(() => buildDataset({ ...base, messagesPerActiveGroup: [5, 1] }, 1, ANCHOR)).toThrow(ConfigError);
    expect(() => buildDataset({ ...base, activeFraction: 2 }, 1, ANCHOR)).toThrow(ConfigError);
    expect(() =>
      buildDataset(
        { ...base, extraGroups: [{ groupId: '@TGS#1X', type: 'Public', messages: 0, topics }] },
        1,
        ANCHOR,
      ),
    ).toThrow(/topics need type Community/);
    const dup = { groupId: '@TGS#1DUP', type: 'Public', messages: 1 };
    expect(() => buildDataset({ ...base, extraGroups: [dup, dup] }, 1, ANCHOR)).toThrow(/Duplicate group id/);
  });
});

describe('simulator message timing and fate', () => {
  it('spreads times non-decreasingly from the first to the last time', () => {
    const stream = { baseCount: 1_000_000, firstTimeSec: ANCHOR - 45 * DAY, lastTimeSec: ANCHOR - 60 };
    expect(seqTimeSec(stream, 1)).toBe(ANCHOR - 45 * DAY);
    expect(seqTimeSec(stream, 1_000_000)).toBe(ANCHOR - 60);
    let previous = 0;
    for (let seq = 1; seq <= 1_000_000; seq += 997) {
      const time = seqTimeSec(stream, seq);
      expect(time).toBeGreaterThanOrEqual(previous);
      previous = time;
    }
    expect(seqTimeSec({ baseCount: 1, firstTimeSec: 5, lastTimeSec: 9 }, 1)).toBe(9);
  });

  it('marks about the configured fractions as deleted and recalled, deterministically', () => {
    const key = streamKey(42, '@TGS#1FATE');
    const counts = { normal: 0, deleted: 0, recalled: 0 };
    for (let seq = 1; seq <= 100_000; seq++) counts[messageFate(key, seq, 0.005, 0.005)]++;
    expect(counts.deleted).toBeGreaterThan(350);
    expect(counts.deleted).toBeLessThan(650);
    expect(counts.recalled).toBeGreaterThan(350);
    expect(counts.recalled).toBeLessThan(650);
    expect(messageFate(key, 1234, 0.5, 0.5)).toBe(messageFate(streamKey(42, '@TGS#1FATE'), 1234, 0.5, 0.5));
  });

  it('generates the same message for the same inputs and different ones across seeds and topics', () => {
    const key = streamKey(1, '@TGS#1SAME');
    expect(generateMessage(key, 17, 1000)).toEqual(generateMessage(streamKey(1, '@TGS#1SAME'), 17, 1000));
    expect(generateMessage(key, 17, 1000)).not.toEqual(generateMessage(streamKey(2, '@TGS#1SAME'), 17, 1000));
    expect(generateMessage(key, 17, 1000)).not.toEqual(
      generateMessage(streamKey(1, '@TGS#1SAME', 'topic'), 17, 1000),
    );
    const message = generateMessage(key, 17, 1000);
    expect(message.MsgSeq).toBe(17);
    expect(message.MsgTimeStamp).toBe(1000);
    expect(message.IsPlaceMsg).toBe(0);
  });
});

describe('simulator demo dataset content', () => {
  const messages = demoMessages();
  const elements = messages.flatMap((m) => elementsOf(m.MsgBody));
  const contents = (type: string) => elements.filter((e) => e.MsgType === type).map((e) => e.MsgContent);

  it('contains every documented element type', () => {
    expect(new Set(elements.map((e) => e.MsgType))).toEqual(new Set(ELEMENT_TYPES));
  });

  it('has CJK and emoji text, control characters in custom data and nested relays', () => {
    const texts = contents('TIMTextElem').map((c) => c.Text as string);
    expect(texts.some((t) => /[\u4e00-\u9fff]/.test(t))).toBe(true);
    expect(texts.some((t) => /\p{Extended_Pictographic}/u.test(t))).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
    expect(contents('TIMCustomElem').some((c) => /[\u0000-\u0008\u0010-\u001f]/.test(c.Data as string))).toBe(
      true,
    );
    const relays = contents('TIMRelayElem');
    expect(relays.some((c) => Array.isArray(c.MsgList) && c.MsgList.length > 0)).toBe(true);
    expect(relays.some((c) => typeof c.JsonMsgKey === 'string')).toBe(true);
    const location = contents('TIMLocationElem')[0];
    expect(typeof location?.Latitude).toBe('number');
  });

  it('has media with and without download URLs (SDK 4.X and legacy shapes)', () => {
    const sounds = contents('TIMSoundElem');
    expect(sounds.some((c) => typeof c.Url === 'string' && c.Download_Flag === 2)).toBe(true);
    const legacy = [...sounds, ...contents('TIMFileElem'), ...contents('TIMVideoFileElem')].filter(
      (c) => c.Url === undefined && c.VideoUrl === undefined,
    );
    expect(legacy.length).toBeGreaterThan(0);
    const image = contents('TIMImageElem')[0];
    const infos = (image?.ImageInfoArray ?? []) as Array<{ Type: number; URL: string }>;
    expect(infos.map((i) => i.Type)).toEqual([1, 2, 3]);
    expect(infos.every((i) => i.URL.startsWith('https://'))).toBe(true);
  });

  it('has multi-element bodies, system messages, CloudCustomData and full-range uint32 MsgRandom', () => {
    expect(messages.some((m) => Array.isArray(m.MsgBody) && m.MsgBody.length > 1)).toBe(true);
    expect(messages.some((m) => m.IsSystemMsg === 1)).toBe(true);
    expect(messages.some((m) => typeof m.CloudCustomData === 'string')).toBe(true);
    expect(messages.some((m) => (m.MsgRandom as number) > 2 ** 31)).toBe(true);
    expect(messages.every((m) => Number.isInteger(m.MsgRandom) && (m.MsgRandom as number) < 2 ** 32)).toBe(
      true,
    );
    expect(new Set(messages.map((m) => m.MsgPriority))).toEqual(new Set([1, 2, 3, 4]));
    for (const m of messages) {
      const customs = (m.MsgBody as Element[]).filter((e) => e.MsgType === 'TIMCustomElem');
      expect(customs.length).toBeLessThanOrEqual(1);
    }
  });
});

describe('lazy catalogue (a million groups)', () => {
  const spec: DatasetSpec = {
    groups: 1_000_000,
    activeFraction: 0.01,
    messagesPerActiveGroup: [1, 10],
    historyDays: 5,
    extraGroups: [{ groupId: '@TGS#2EXTRA0001', type: 'Public', messages: 3 }],
  };

  it('computes any group from (seed, ordinal) and finds its ordinal from its id', () => {
    const dataset = buildDataset(spec, 5, ANCHOR);
    expect(dataset.groupCount).toBe(1_000_001);
    for (const ordinal of [0, 1, 2, 12_345, 500_000, 999_999]) {
      const plan = dataset.groupAt(ordinal);
      expect(plan.ordinal).toBe(ordinal);
      expect(dataset.ordinalOf(plan.groupId)).toBe(ordinal);
      expect(dataset.groupAt(ordinal)).toEqual(plan);
    }
    expect(dataset.ordinalOf('@TGS#2EXTRA0001')).toBe(1_000_000);
    expect(dataset.groupAt(1_000_000).main.baseCount).toBe(3);
    // Another seed's id, an id past the catalogue, and a malformed one are unknown.
    const other = buildDataset(spec, 6, ANCHOR).groupAt(7).groupId;
    expect(dataset.ordinalOf(other)).toBeUndefined();
    expect(buildDataset({ ...spec, groups: 10 }, 5, ANCHOR).ordinalOf(dataset.groupAt(999_999).groupId)).toBe(
      undefined,
    );
    expect(dataset.ordinalOf('@TGS#1NOPE')).toBeUndefined();
  });

  it('rejects an extra group whose id a generated group already has', () => {
    const taken = buildDataset({ ...spec, groups: 100 }, 5, ANCHOR).groupAt(42).groupId;
    expect(() =>
      buildDataset(
        { ...spec, groups: 100, extraGroups: [{ groupId: taken, type: 'Public', messages: 1 }] },
        5,
        ANCHOR,
      ),
    ).toThrow(/Duplicate group id/);
  });
});

describe('lazy world', () => {
  it('keeps only the groups something happened to; the others are computed again when asked for', () => {
    const dataset = buildDataset(
      { groups: 1_000_000, activeFraction: 0, messagesPerActiveGroup: [0, 0], historyDays: 5 },
      5,
      ANCHOR,
    );
    const world = new SimWorld(dataset, () => ANCHOR * 1000, 30);
    const id = dataset.groupAt(777_777).groupId;
    expect(world.group(id)?.main.nextSeq).toBe(1);
    world.appendMessages(id, 4);
    expect(world.group(id)?.main.nextSeq).toBe(5);
    expect(world.groupAt(777_776).main.nextSeq).toBe(1);
    world.deleteGroup(dataset.groupAt(3).groupId);
    expect(world.liveGroupCount).toBe(999_999);
    expect(world.group(dataset.groupAt(3).groupId)?.deleted).toBe(true);
    expect([...world.groundTruth(id)].map((m) => m.MsgSeq)).toEqual([4, 3, 2, 1]);
  });
});
