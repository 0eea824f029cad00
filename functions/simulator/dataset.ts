/**
 * The simulator's seeded synthetic dataset: a catalogue of groups (built eagerly, it is small) whose
 * messages are computed lazily from (seed, stream, seq). Pure: the anchor time is passed in.
 */
import { ConfigError } from '../domain/errors.ts';
import type { GroupType } from '../domain/tencent-types.ts';
import { createPrng, hashString, intBetween, mix, type Prng, unit } from './hash.ts';
import type { MediaUrlPlan } from './media-files.ts';
import { type MessageStreamKey, mediaPlanFor } from './messages.ts';

/** Kinds of generated group; `TopicCommunity` is a Community with topics enabled (`@TGS#_` ids). */
export type GeneratedGroupKind =
  | 'Public'
  | 'Private'
  | 'ChatRoom'
  | 'Community'
  | 'TopicCommunity'
  | 'AVChatRoom';

/** A hand-picked group added to the generated ones (e.g. the benchmark's 1,000,000-message group). */
export interface ExtraGroupSpec {
  groupId: string;
  type: GroupType;
  /** Messages in the group-level stream. Must be 0 when `topics` is given (topic groups keep messages per topic). */
  messages: number;
  /** Makes the group a topic-enabled Community; its id must start with `@TGS#_`. */
  topics?: Array<{ topicId: string; messages: number; topicName?: string }>;
  name?: string;
}

/** Shape of the synthetic world. */
export interface DatasetSpec {
  /** Number of generated groups (extra groups come on top). */
  groups: number;
  /** Share of generated groups that have messages; the others are empty. */
  activeFraction: number;
  /** Inclusive range of messages per active group (split across topics for topic communities). */
  messagesPerActiveGroup: readonly [number, number];
  /** Messages are spread over this many days before the simulator's start. */
  historyDays: number;
  /** Relative weights of generated group kinds. Default Public 30, Private 25, ChatRoom 15, Community 10, TopicCommunity 10, AVChatRoom 10. */
  typeWeights?: Partial<Record<GeneratedGroupKind, number>>;
  /** Inclusive range of topics per topic community; default [1, 4]. */
  topicsPerCommunity?: readonly [number, number];
  /** Share of seqs that read as deleted (IsPlaceMsg 1); default 0.005. */
  deletedFraction?: number;
  /** Share of seqs that were recalled (IsPlaceMsg 2); default 0.005. */
  recalledFraction?: number;
  /** Base URL of the fake media links inside message bodies (the simulator sets its media listener). */
  mediaBaseUrl?: string;
  /** Declared media sizes are folded below this many bytes (tests keep files tiny); default 30 MB. */
  mediaMaxBytes?: number;
  extraGroups?: ExtraGroupSpec[];
}

/** A small world with every group kind and every element type; the default for `startSimulator`. */
export const DEMO_DATASET: DatasetSpec = {
  groups: 10,
  // Demo-sized media (up to 300 KB each); benchmarks and tests set their own maximum.
  mediaMaxBytes: 300_000,
  activeFraction: 0.9,
  messagesPerActiveGroup: [40, 160],
  historyDays: 45,
  extraGroups: [
    {
      groupId: '@TGS#_@TGS#cDEMOTOPICS1',
      type: 'Community',
      messages: 0,
      name: 'Demo community with topics',
      topics: [
        {
          topicId: '@TGS#_@TGS#cDEMOTOPICS1@TOPIC#_@TOPIC#cGENERAL01',
          messages: 90,
          topicName: 'General 综合',
        },
        { topicId: '@TGS#_@TGS#cDEMOTOPICS1@TOPIC#_@TOPIC#cRANDOM002', messages: 25, topicName: 'Random 🎲' },
      ],
    },
    { groupId: '@TGS#aDEMOLIVE01', type: 'AVChatRoom', messages: 50, name: 'Demo live room' },
  ],
};

/** One message stream: a group's own history, or one topic's. */
export interface StreamPlan extends MessageStreamKey {
  readonly topicId: string | undefined;
  /** Synthetic messages occupy seqs 1..baseCount. */
  readonly baseCount: number;
  readonly firstTimeSec: number;
  readonly lastTimeSec: number;
}

export interface TopicPlan extends StreamPlan {
  readonly topicId: string;
  readonly topicName: string;
  readonly createTimeSec: number;
}

/** A group of the catalogue. `ordinal` is its stable position (used by the group-list cursor). */
export interface GroupPlan {
  readonly ordinal: number;
  readonly groupId: string;
  readonly type: GroupType;
  readonly name: string;
  readonly createTimeSec: number;
  readonly ownerAccount: string;
  readonly memberNum: number;
  /** A Community with topics enabled: history lives per topic, the group-level stream is empty. */
  readonly topicsEnabled: boolean;
  /** Group-level stream; always empty for topic-enabled communities. */
  readonly main: StreamPlan;
  readonly topics: readonly TopicPlan[];
}

/**
 * Spec after defaults, as used by the simulator. The catalogue is lazy: a generated group's plan is
 * computed from (seed, ordinal) when asked for, so a million mostly idle groups cost no memory.
 */
export interface ResolvedDataset {
  /** Generated groups, then the extra groups. */
  readonly groupCount: number;
  /** The plan of the group at `ordinal` (0 <= ordinal < groupCount); computed, not stored, for generated groups. */
  groupAt(ordinal: number): GroupPlan;
  /** The ordinal of a group id, or undefined when no group has it. */
  ordinalOf(groupId: string): number | undefined;
  readonly deletedFraction: number;
  readonly recalledFraction: number;
  /** How the groups' media URLs and sizes are made (the one-to-one messages' too, with a media listener). */
  readonly media: MediaUrlPlan;
}

/** Every plan of the catalogue, in order (generated one by one: iterate, do not keep them all). */
export function* plansOf(dataset: ResolvedDataset): Generator<GroupPlan> {
  for (let i = 0; i < dataset.groupCount; i++) yield dataset.groupAt(i);
}

const DEFAULT_WEIGHTS: Record<GeneratedGroupKind, number> = {
  Public: 30,
  Private: 25,
  ChatRoom: 15,
  Community: 10,
  TopicCommunity: 10,
  AVChatRoom: 10,
};
const DAY = 86_400;

/**
 * Builds the group catalogue for `spec`. `anchorSec` is "now" at simulator start: history ends
 * shortly before it. Throws ConfigError for inconsistent specs (bad ranges, duplicate ids).
 */
export function buildDataset(
  spec: DatasetSpec,
  seed: number,
  anchorSec: number,
  /** The media listener's disallowed host and its share (set by the simulator). */
  mediaOverrides: Partial<Pick<MediaUrlPlan, 'disallowedBaseUrl' | 'disallowedHostFraction'>> = {},
): ResolvedDataset {
  validateSpec(spec);
  const media: MediaUrlPlan = {
    ...mediaPlanFor(spec.mediaBaseUrl),
    ...(spec.mediaMaxBytes === undefined ? {} : { maxBytes: spec.mediaMaxBytes }),
    ...mediaOverrides,
  };
  const scope: DatasetScope = { spec, seed, anchorSec, media };
  const generated = spec.groups;
  const extras: GroupPlan[] = [];
  const extraOrdinals = new Map<string, number>();
  for (const extra of spec.extraGroups ?? []) {
    const plan = extraGroup(scope, extra, generated + extras.length);
    if (extraOrdinals.has(plan.groupId) || generatedOrdinal(spec, seed, plan.groupId) !== undefined)
      throw new ConfigError(`Duplicate group id ${plan.groupId}`, { field: 'dataset' });
    extraOrdinals.set(plan.groupId, plan.ordinal);
    extras.push(plan);
  }
  return {
    groupCount: generated + extras.length,
    groupAt: (ordinal) => {
      if (ordinal < generated) return generatedGroup(scope, ordinal);
      const extra = extras[ordinal - generated];
      if (extra === undefined) throw new RangeError(`no group at ordinal ${ordinal}`);
      return extra;
    },
    ordinalOf: (groupId) => extraOrdinals.get(groupId) ?? generatedOrdinal(spec, seed, groupId),
    deletedFraction: spec.deletedFraction ?? 0.005,
    recalledFraction: spec.recalledFraction ?? 0.005,
    media,
  };
}

/**
 * Time (epoch seconds) of synthetic seq `seq` (1..baseCount): linear from first to last time,
 * hence non-decreasing with seq and computable in O(1) for any seq.
 */
export function seqTimeSec(
  stream: Pick<StreamPlan, 'baseCount' | 'firstTimeSec' | 'lastTimeSec'>,
  seq: number,
): number {
  if (stream.baseCount <= 1) return stream.lastTimeSec;
  const span = stream.lastTimeSec - stream.firstTimeSec;
  return stream.firstTimeSec + Math.floor(((seq - 1) * span) / (stream.baseCount - 1));
}

function validateSpec(spec: DatasetSpec): void {
  const [min, max] = spec.messagesPerActiveGroup;
  const fail = (message: string, field: string): never => {
    throw new ConfigError(message, { field: `dataset.${field}` });
  };
  if (!Number.isInteger(spec.groups) || spec.groups < 0)
    fail('groups must be a non-negative integer', 'groups');
  if (!(spec.activeFraction >= 0 && spec.activeFraction <= 1))
    fail('activeFraction must be in [0, 1]', 'activeFraction');
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min)
    fail('messagesPerActiveGroup must be [min, max] integers with 0 <= min <= max', 'messagesPerActiveGroup');
  if (!(spec.historyDays > 0)) fail('historyDays must be positive', 'historyDays');
  for (const extra of spec.extraGroups ?? []) {
    if (extra.topics === undefined) continue;
    if (extra.type !== 'Community' || !extra.groupId.startsWith('@TGS#_'))
      fail(`${extra.groupId}: topics need type Community and an id starting with @TGS#_`, 'extraGroups');
    if (extra.messages !== 0)
      fail(`${extra.groupId}: a topic group keeps its messages per topic`, 'extraGroups');
  }
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ID_SPACE = 36 ** 6;

/** `length` characters of the id alphabet encoding `value` (fixed width, so ids stay unique). */
function encodeId(value: number, length: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = (ID_ALPHABET[rest % ID_ALPHABET.length] ?? 'A') + out;
    rest = Math.floor(rest / ID_ALPHABET.length);
  }
  return out;
}

function groupKind(spec: DatasetSpec, random: Prng): GeneratedGroupKind {
  const weights = { ...DEFAULT_WEIGHTS, ...spec.typeWeights };
  const entries = Object.entries(weights) as Array<[GeneratedGroupKind, number]>;
  let roll = random() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [kind, weight] of entries) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'Public';
}

const ID_FACTOR = 1_000_003n;
/** The inverse of {@link ID_FACTOR} modulo 36^6 (extended Euclid), to turn an id back into its index. */
const ID_FACTOR_INVERSE = (() => {
  const m = BigInt(ID_SPACE);
  let [a, b, x0, x1] = [ID_FACTOR % m, m, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b] = [b, a - q * b];
    [x0, x1] = [x1, x0 - q * x1];
  }
  return ((x0 % m) + m) % m;
})();

/** The index of a generated group id (the inverse of {@link generatedGroupId}), or undefined. */
function generatedOrdinal(spec: DatasetSpec, seed: number, groupId: string): number | undefined {
  const match = /^(?:@TGS#_@TGS#c|@TGS#a|@TGS#[123])([0-9A-Z]{10})$/.exec(groupId);
  const body = match?.[1];
  if (body === undefined || body.slice(0, 4) !== encodeId(mix(seed, 0x1d) % 36 ** 4, 4)) return undefined;
  let scrambled = 0;
  for (const ch of [...body.slice(4)].reverse()) scrambled = scrambled * 36 + ID_ALPHABET.indexOf(ch);
  const m = BigInt(ID_SPACE);
  const shifted = (((BigInt(scrambled) - BigInt(mix(seed, 0x2e))) % m) + m) % m;
  const index = Number((shifted * ID_FACTOR_INVERSE) % m);
  if (index >= spec.groups) return undefined;
  // The prefix depends on the group's kind: only the group generated at that index has this id.
  return generatedGroupIdAt(spec, seed, index) === groupId ? index : undefined;
}

/** The id of the generated group at `index`, without building its plan. */
function generatedGroupIdAt(spec: DatasetSpec, seed: number, index: number): string {
  return generatedGroupId(groupKind(spec, createPrng(mix(seed, 0x6e0, index))), seed, index);
}

/** Id shapes follow the real ones: `@TGS#1XXXX…`, AVChatRoom `@TGS#aXXXX…`, topic communities `@TGS#_@TGS#cXXXX…`. */
function generatedGroupId(kind: GeneratedGroupKind, seed: number, index: number): string {
  // 4 seed-derived characters + 6 characters that permute the index (multiplying by a number
  // coprime to 36 is a bijection mod 36^6): random-looking, yet unique for up to 36^6 groups.
  const scrambled = (index * Number(ID_FACTOR) + mix(seed, 0x2e)) % ID_SPACE;
  // Reversed so the fastest-changing digit comes first and neighbouring ids look unrelated.
  const body = encodeId(mix(seed, 0x1d) % 36 ** 4, 4) + [...encodeId(scrambled, 6)].reverse().join('');
  if (kind === 'TopicCommunity') return `@TGS#_@TGS#c${body}`;
  if (kind === 'AVChatRoom') return `@TGS#a${body}`;
  return `@TGS#${(index % 3) + 1}${body}`;
}

/** What every group of a dataset is built from: the spec, the seed, "now" and the media plan. */
interface DatasetScope {
  readonly spec: DatasetSpec;
  readonly seed: number;
  readonly anchorSec: number;
  readonly media: MediaUrlPlan;
}

function generatedGroup(scope: DatasetScope, index: number): GroupPlan {
  const { spec, seed, anchorSec, media } = scope;
  const random = createPrng(mix(seed, 0x6e0, index));
  const kind = groupKind(spec, random);
  const groupId = generatedGroupId(kind, seed, index);
  const active = random() < spec.activeFraction;
  const [min, max] = spec.messagesPerActiveGroup;
  const total = active ? intBetween(random, min, max) : 0;
  const window = activityWindow(random, spec.historyDays, anchorSec);
  const type: GroupType = kind === 'TopicCommunity' ? 'Community' : kind;
  const topicCount =
    kind === 'TopicCommunity' ? intBetween(random, ...(spec.topicsPerCommunity ?? [1, 4])) : 0;
  const topicSpecs = splitTopics(groupId, total, topicCount, random);
  const plan = {
    ordinal: index,
    groupId,
    type,
    name: `${type} group ${index} 群${index}`,
    topicsEnabled: kind === 'TopicCommunity',
    topics: topicSpecs,
    mainMessages: kind === 'TopicCommunity' ? 0 : total,
  };
  return assemble(plan, { seed, window, media, random });
}

function extraGroup(scope: DatasetScope, extra: ExtraGroupSpec, ordinal: number): GroupPlan {
  const { spec, seed, anchorSec, media } = scope;
  const random = createPrng(mix(seed, 0xe87a, hashString(extra.groupId)));
  // Extra groups span the whole history and stay active until a minute before the anchor.
  const window = {
    firstTimeSec: anchorSec - Math.round(spec.historyDays * DAY),
    lastTimeSec: anchorSec - 60,
  };
  const topics = (extra.topics ?? []).map((t) => ({
    topicId: t.topicId,
    messages: t.messages,
    topicName: t.topicName ?? `Topic ${t.topicId.slice(-6)}`,
  }));
  const plan = {
    ordinal,
    groupId: extra.groupId,
    type: extra.type,
    name: extra.name ?? `Group ${extra.groupId}`,
    topicsEnabled: extra.topics !== undefined,
    topics,
    mainMessages: extra.messages,
  };
  return assemble(plan, { seed, window, media, random });
}

interface TimeWindow {
  firstTimeSec: number;
  lastTimeSec: number;
}

/**
 * Most active groups talk until shortly before the anchor; ~10% went quiet long ago, so their
 * newest messages may already be beyond retention (whole pages of placeholders, IsFinished 2).
 */
function activityWindow(random: Prng, historyDays: number, anchorSec: number): TimeWindow {
  const historySec = Math.round(historyDays * DAY);
  const firstTimeSec = anchorSec - Math.round(historySec * (0.3 + 0.7 * random()));
  const dormant = random() < 0.1;
  const lastTimeSec = dormant
    ? anchorSec - Math.round((anchorSec - firstTimeSec) * random() * 0.9)
    : anchorSec - intBetween(random, 60, 3600);
  return { firstTimeSec, lastTimeSec: Math.max(firstTimeSec, lastTimeSec) };
}

function splitTopics(
  groupId: string,
  total: number,
  count: number,
  random: Prng,
): Array<{ topicId: string; messages: number; topicName: string }> {
  const topics = [];
  let left = total;
  for (let i = 0; i < count; i++) {
    const messages = i === count - 1 ? left : Math.floor(left * random());
    left -= messages;
    topics.push({
      topicId: `${groupId}@TOPIC#_@TOPIC#c${encodeId(mix(hashString(groupId), i) % 36 ** 6, 6)}${i}`,
      messages,
      topicName: ['综合 General', 'Announcements 📢', 'Random', '技术讨论'][i % 4] ?? 'Topic',
    });
  }
  return topics;
}

interface GroupDraft {
  ordinal: number;
  groupId: string;
  type: GroupType;
  name: string;
  topicsEnabled: boolean;
  topics: Array<{ topicId: string; messages: number; topicName: string }>;
  mainMessages: number;
}

/** How a group's streams are made: the dataset's seed and media plan, its time window and generator. */
interface AssembleContext {
  readonly seed: number;
  readonly window: TimeWindow;
  readonly media: MediaUrlPlan;
  readonly random: Prng;
}

function assemble(draft: GroupDraft, context: AssembleContext): GroupPlan {
  const { seed, window, media, random } = context;
  const groupHash = hashString(draft.groupId);
  const stream = (topicId: string | undefined, baseCount: number): StreamPlan => ({
    seed,
    groupId: draft.groupId,
    groupHash,
    keyHash: hashString(topicId ?? draft.groupId),
    media,
    topicId,
    baseCount,
    ...window,
  });
  const createTimeSec = window.firstTimeSec - intBetween(random, 3600, 30 * DAY);
  return {
    ordinal: draft.ordinal,
    groupId: draft.groupId,
    type: draft.type,
    name: draft.name,
    createTimeSec,
    ownerAccount: `owner${groupHash % 1000}`,
    memberNum: 3 + Math.floor(unit(mix(groupHash, 7)) * 500),
    topicsEnabled: draft.topicsEnabled,
    main: stream(undefined, draft.mainMessages),
    topics: draft.topics.map((t) => ({
      ...stream(t.topicId, t.messages),
      topicId: t.topicId,
      topicName: t.topicName,
      createTimeSec: createTimeSec + 60,
    })),
  };
}
