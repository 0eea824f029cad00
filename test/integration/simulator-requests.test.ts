/**
 * Request bodies are checked against one strict schema per endpoint
 * (functions/simulator/request-schemas.ts): a field of the wrong JSON type fails the whole call with
 * 10004 over HTTP, like Tencent, and every request the real client sends passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { cosSigBatcher } from '../../functions/adapters/tencent/cos-sig-batcher.ts';
import { mediaRefsOfMessage } from '../../functions/domain/media-refs.ts';
import { DEMO_APP, type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { MAX_COS_SIG_URLS, REQUEST_SCHEMAS } from '../../functions/simulator/request-schemas.ts';
import { clientFor, signedDemoQuery } from '../helpers/tencent.ts';

const PLAIN = '@TGS#1STRICT';
const TOPICS = '@TGS#_@TGS#cSTRICT';
const TOPIC = '@TGS#_@TGS#cSTRICT@TOPIC#_@TOPIC#cONE';

let sim: Simulator;
/** The same world at the default (documented) rates, for the real client alone. */
let paced: Simulator;

const DATASET = {
  groups: 4,
  activeFraction: 1,
  messagesPerActiveGroup: [60, 80] as [number, number],
  historyDays: 3,
  mediaMaxBytes: 20_000,
  extraGroups: [
    { groupId: PLAIN, type: 'Public' as const, messages: 45 },
    { groupId: TOPICS, type: 'Community' as const, messages: 0, topics: [{ topicId: TOPIC, messages: 25 }] },
  ],
};

beforeAll(async () => {
  // Raw requests here are not paced: rates high enough that only the schemas refuse anything.
  const unlimited = 100_000;
  sim = await startSimulator({
    seed: 3,
    retentionDays: 3650,
    dataset: DATASET,
    rateLimits: {
      get_appid_group_list: unlimited,
      get_group_info: unlimited,
      group_msg_get_simple: unlimited,
      get_topic: unlimited,
      get_cos_sig: unlimited,
    },
  });
  paced = await startSimulator({ seed: 3, retentionDays: 3650, dataset: DATASET });
});
afterAll(async () => {
  await sim.stop();
  await paced.stop();
});

const PATHS = {
  get_appid_group_list: 'group_open_http_svc/get_appid_group_list',
  get_group_info: 'group_open_http_svc/get_group_info',
  group_msg_get_simple: 'group_open_http_svc/group_msg_get_simple',
  get_topic: 'million_group_open_http_svc/get_topic',
  get_cos_sig: 'im_cos_msg/get_cos_sig',
  // Checked in test/integration/simulator-identities.test.ts.
  portrait_get: 'profile/portrait_get',
  get_group_member_info: 'group_open_http_svc/get_group_member_info',
  get_specified_group_member_info: 'group_open_http_svc/get_specified_group_member_info',
  // Checked in test/integration/simulator-roam.test.ts (its service answers 90001/90003/90008).
  admin_getroammsg: 'openim/admin_getroammsg',
  // Checked in test/integration/simulator-history-files.test.ts (its service answers 1001/1002).
  get_history: 'open_msg_svc/get_history',
} as const;
type Api = keyof typeof PATHS;

/** One signed POST of a JSON text; the answer's envelope and body. */
async function post(api: Api, body: string): Promise<{ ActionStatus: string; ErrorCode: number }> {
  const query = signedDemoQuery('7');
  const response = await fetch(`${sim.url}/v4/${PATHS[api]}?${query}`, { method: 'POST', body });
  expect(response.status).toBe(200);
  return (await response.json()) as { ActionStatus: string; ErrorCode: number };
}

/** Any URL on the media listener: valid as a RawURL whatever its answer item says. */
const rawUrl = (): string => `${sim.mediaUrl}/some/file.jpg`;

/** For each endpoint, a body that is accepted and the same body with one field of the wrong type. */
const CASES: { api: Api; valid: () => object; wrong: () => object; what: string }[] = [
  {
    api: 'get_appid_group_list',
    what: 'Limit as a string',
    valid: () => ({ Limit: 10, Next: 0 }),
    wrong: () => ({ Limit: '10', Next: 0 }),
  },
  {
    api: 'get_group_info',
    what: 'a GroupIdList item as a number',
    valid: () => ({ GroupIdList: [PLAIN] }),
    wrong: () => ({ GroupIdList: [PLAIN, 7] }),
  },
  {
    api: 'group_msg_get_simple',
    what: 'ReqMsgSeq as a string',
    valid: () => ({ GroupId: PLAIN, ReqMsgNumber: 20, ReqMsgSeq: 30 }),
    wrong: () => ({ GroupId: PLAIN, ReqMsgNumber: 20, ReqMsgSeq: '30' }),
  },
  {
    api: 'get_topic',
    what: 'TopicIdList as a string',
    valid: () => ({ GroupId: TOPICS, From_Account: DEMO_APP.adminIdentifier, TopicIdList: [TOPIC] }),
    wrong: () => ({ GroupId: TOPICS, From_Account: DEMO_APP.adminIdentifier, TopicIdList: TOPIC }),
  },
  {
    api: 'get_cos_sig',
    what: 'ResourceID as a string (what the client sent before)',
    valid: () => ({ RawURLs: [{ ResourceID: 0, RawURL: rawUrl() }] }),
    wrong: () => ({ RawURLs: [{ ResourceID: '0', RawURL: rawUrl() }] }),
  },
];

describe('simulator: strict request schemas', () => {
  it('has a schema for every endpoint it serves', () => {
    // Assess
    expect(Object.keys(REQUEST_SCHEMAS).sort()).toEqual(Object.keys(PATHS).sort());
  });

  it.each(CASES)('refuses $api with $what: 10004 for the whole call', async ({ api, valid, wrong }) => {
    // Act
    const accepted = await post(api, JSON.stringify(valid()));
    const refused = await post(api, JSON.stringify(wrong()));
    // Assess: the same body with the right type is answered, so the type alone is refused.
    expect(accepted).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
    expect(refused).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 10004 });
    expect(Object.keys(refused).sort()).toEqual(['ActionStatus', 'ErrorCode', 'ErrorInfo']);
  });

  it.each([
    ['get_cos_sig', 'no RawURLs', { RawURLs: [] }],
    ['get_cos_sig', `more than ${MAX_COS_SIG_URLS} RawURLs`, 'too-many-urls'],
    ['get_cos_sig', 'a RawURL that is not a string', { RawURLs: [{ ResourceID: 0, RawURL: 5 }] }],
    ['get_cos_sig', 'a fractional ResourceID', { RawURLs: [{ ResourceID: 0.5, RawURL: 'x' }] }],
    ['get_cos_sig', 'a ResourceID beyond 32 bits', { RawURLs: [{ ResourceID: 2 ** 31, RawURL: 'x' }] }],
    ['get_group_info', 'more than 50 ids', { GroupIdList: Array.from({ length: 51 }, () => PLAIN) }],
    ['get_appid_group_list', 'Next as a string', { Next: '0' }],
    [
      'group_msg_get_simple',
      'WithRecalledMsg as a boolean',
      { GroupId: PLAIN, ReqMsgNumber: 1, WithRecalledMsg: true },
    ],
    ['get_topic', 'From_Account as a boolean', { GroupId: TOPICS, From_Account: true }],
  ] as const)('refuses %s with %s (10004)', async (api, _what, body) => {
    // Prepare
    const sent =
      body === 'too-many-urls'
        ? {
            RawURLs: Array.from({ length: MAX_COS_SIG_URLS + 1 }, (_, i) => ({
              ResourceID: i,
              RawURL: rawUrl(),
            })),
          }
        : body;
    // Act
    const answer = await post(api, JSON.stringify(sent));
    // Assess
    expect(answer).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 10004 });
  });

  it('keeps a 64-bit Next exact (a bigint after lossless parsing) and refuses one beyond 64 bits', async () => {
    // Act: a cursor beyond 2^53 that was never handed out, then one beyond 2^64.
    const unknownCursor = await post('get_appid_group_list', '{"Next":9007199254740993}');
    const tooBig = await post('get_appid_group_list', '{"Next":18446744073709551616}');
    // Assess: both 10004, the first for its value (not its type), the second for its range.
    expect(unknownCursor.ErrorCode).toBe(10004);
    expect(tooBig.ErrorCode).toBe(10004);
  });
});

describe('client requests against the strict schemas', () => {
  it('passes on every endpoint the client calls, with every option it sends', async () => {
    // Prepare: the real clock, so the client paces in the time the simulator counts in.
    const { client } = clientFor(paced, { clock: systemClock });
    const urls: string[] = [];
    for (const message of paced.groundTruth(PLAIN)) {
      for (const ref of mediaRefsOfMessage(message, { sdkAppId: 1, groupId: PLAIN, topicId: null }, {})) {
        if (ref.url !== null) urls.push(ref.url);
      }
    }
    const sign = cosSigBatcher(client);
    // Act
    const pages = [];
    for await (const page of client.listGroups({ pageSize: 3 })) pages.push(page);
    const infos = await client.getGroupInfo([PLAIN, TOPICS]);
    const first = await client.getHistory({ groupId: PLAIN, reqMsgNumber: 20, withRecalledMsg: true });
    const next = await client.getHistory({
      groupId: PLAIN,
      reqMsgNumber: 20,
      reqMsgSeq: 25,
      withRecalledMsg: false,
    });
    const topicPage = await client.getHistory({
      groupId: TOPICS,
      topicId: TOPIC,
      reqMsgNumber: 20,
      withRecalledMsg: false,
    });
    const topics = await client.getTopics(TOPICS);
    const signed = await Promise.all(
      [...urls, ...urls, `${paced.mediaUrl}/some/file.jpg`].map((url) => sign(url)),
    );
    // Assess: every call answered, nothing refused for its parameters or its rate.
    const stats = paced.stats();
    expect(stats.errorCodes).toEqual({});
    expect(stats.overLimit).toBe(0);
    expect(pages.length).toBeGreaterThan(1);
    expect(infos.every((info) => info.ok)).toBe(true);
    expect(first.messages.length + next.messages.length + topicPage.messages.length).toBeGreaterThan(0);
    expect(topics).toEqual([expect.objectContaining({ ok: true, topicId: TOPIC })]);
    expect(urls.length).toBeGreaterThan(MAX_COS_SIG_URLS / 2);
    expect(signed.every((answer) => answer !== undefined)).toBe(true);
    expect(signed.at(-1)).toMatchObject({ code: 1, status: 2 });
    expect(stats.perApi.get_cos_sig.ok).toBeGreaterThan(0);
  });
});
