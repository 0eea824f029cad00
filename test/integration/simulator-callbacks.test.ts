import { afterEach, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../functions/adapters/callbacks/receiver-server.ts';
import type { CallbackEventRow } from '../../functions/domain/callback-event.ts';
import { CallbackSender, recallEvent, sendMsgEvent } from '../../functions/simulator/callbacks.ts';
import { startSimulator } from '../../functions/simulator/index.ts';
import { startTestReceiver, storedCallbackRows } from '../helpers/callbacks.ts';
import { MemoryStore } from '../helpers/engine-fakes.ts';

const APP = 1400000001;
const TOKEN = 'sim-callback-token';
let running: RunningReceiver | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setup(app = APP) {
  const store = new MemoryStore();
  const test = await startTestReceiver({ store, sdkAppId: app, token: TOKEN });
  running = test.running;
  const sender = new CallbackSender({ url: test.url, token: TOKEN, sdkAppId: APP, now: Date.now });
  return { sender, receiver: test.receiver, rows: () => storedCallbackRows(store), url: test.url };
}

const group = { groupId: '@TGS#1', type: 'Public' };
const message = (seq: number) => ({
  MsgSeq: seq,
  MsgTimeStamp: 1_800_000_000 + seq,
  MsgRandom: seq * 7,
  From_Account: `user_${seq}`,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `hello ${seq}` } }],
});
const seqOf = (row: CallbackEventRow) => (JSON.parse(row.body) as { MsgSeq: number }).MsgSeq;

describe("the simulator's callbacks, received by the project's receiver", () => {
  it('sends signed events the receiver accepts, each with its command and EventTime', async () => {
    const { sender, rows } = await setup();
    sender.emit('Group.CallbackAfterSendMsg', sendMsgEvent(group, message(1)));
    sender.emit('Group.CallbackAfterRecallMsg', recallEvent(group, { seqs: [1], operator: 'admin' }));
    await sender.flush();
    expect(sender.stats()).toEqual({ emitted: 2, sent: 2, acked: 2, failed: 0, dropped: 0 });
    const [sent, recall] = await rows();
    expect(JSON.parse(sent?.body as string)).toMatchObject({
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      GroupId: '@TGS#1',
      From_Account: 'user_1',
      MsgSeq: 1,
      Random: 7,
    });
    expect(JSON.parse(recall?.body as string)).toMatchObject({
      Operator_Account: 'admin',
      MsgSeqList: [{ MsgSeq: 1 }],
    });
    expect(sent?.event_time).toEqual(expect.any(Number));
  });

  it('drops, duplicates, delays, sends stale and wrongly signed, and replays with a changed body, as injected', async () => {
    const { sender, receiver, rows } = await setup();
    sender.inject(
      { kind: 'drop' },
      { kind: 'duplicate' },
      { kind: 'stale' },
      { kind: 'wrong-sign' },
      {
        kind: 'replay-changed',
        change: { MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'forged' } }] },
      },
      { kind: 'reorder' },
    );
    for (let seq = 1; seq <= 7; seq++)
      sender.emit('Group.CallbackAfterSendMsg', sendMsgEvent(group, message(seq)));
    await sender.flush();
    expect(sender.stats()).toEqual({ emitted: 7, sent: 8, acked: 6, failed: 2, dropped: 1 });
    expect(receiver.stats.refused).toMatchObject({ stale: 1, forged: 1 });
    const stored = await rows();
    // 1 dropped; 2 twice; 3 stale and 4 forged refused; 5 and its forged replay; 6 held until 7 was answered.
    expect(stored.map(seqOf).sort()).toEqual([2, 2, 5, 5, 6, 7]);
    const at = (seq: number) => Math.min(...stored.filter((r) => seqOf(r) === seq).map((r) => r.received_at));
    expect(at(6)).toBeGreaterThanOrEqual(at(7)); // 6 was held until 7 was answered
    const [a, b] = stored.filter((r) => seqOf(r) === 2);
    expect([a?.event_key, a?.body_sha256]).toEqual([b?.event_key, b?.body_sha256]);
    const [c, d] = stored.filter((r) => seqOf(r) === 5);
    expect(c?.event_key).toBe(d?.event_key);
    expect(c?.body_sha256).not.toBe(d?.body_sha256);
  });
});

describe('startSimulator({ callbacks }): every change it makes reaches the receiver', () => {
  it('appended, recalled and edited messages and a dissolved group are recorded as rows, as the API serves them', async () => {
    const probe = await startSimulator({ media: false });
    const sdkAppId = probe.apps[0]?.sdkAppId as number;
    await probe.stop();
    const { rows, receiver, url } = await setup(sdkAppId);
    const sim = await startSimulator({ media: false, callbacks: { url, token: TOKEN } });
    try {
      const [chat, other] = sim.groups().filter((g) => !g.deleted && !g.topicsEnabled && g.nextMsgSeq > 1);
      if (chat === undefined || other === undefined) throw new Error('the dataset has no two plain groups');
      sim.appendMessages(chat.groupId, 3);
      const [third, second, first] = [...sim.groundTruth(chat.groupId)].slice(0, 3);
      sim.recallMessage(chat.groupId, first?.MsgSeq as number);
      sim.recallMessage(chat.groupId, second?.MsgSeq as number, { operator: 'moderator' });
      const body = [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'edited text' } }];
      sim.modifyMessage(chat.groupId, third?.MsgSeq as number, { body });
      const members = sim.identities.members(other.groupId).map((m) => m.account);
      const name = sim.identities.groupName(other.groupId);
      sim.deleteGroup(other.groupId);
      await sim.callbacks?.flush();
      expect(sim.callbacks?.stats()).toEqual({ emitted: 7, sent: 7, acked: 7, failed: 0, dropped: 0 });
      expect(receiver.stats.accepted).toBe(7);
      const events = (await rows()).map((r) => JSON.parse(r.body));
      const byCommand = (command: string) => events.filter((e) => e.CallbackCommand === command);
      const sent = byCommand('Group.CallbackAfterSendMsg');
      expect(sent.map((e) => [e.GroupId, e.MsgSeq, e.From_Account, e.Random, e.MsgTime, e.MsgBody])).toEqual(
        [first, second, third].map((m) => [
          chat.groupId,
          m?.MsgSeq,
          m?.From_Account,
          m?.MsgRandom,
          m?.MsgTimeStamp,
          m?.MsgBody,
        ]),
      );
      expect(
        byCommand('Group.CallbackAfterRecallMsg').map((e) => [e.Operator_Account, e.MsgSeqList]),
      ).toEqual([
        [first?.From_Account, [{ MsgSeq: first?.MsgSeq }]],
        ['moderator', [{ MsgSeq: second?.MsgSeq }]],
      ]);
      expect(byCommand('Group.CallbackAfterModifyMsg')).toEqual([
        expect.objectContaining({ GroupId: chat.groupId, MsgSeq: third?.MsgSeq, MsgBody: body }),
      ]);
      const [destroyed] = byCommand('Group.CallbackAfterGroupDestroyed');
      expect(destroyed).toMatchObject({ GroupId: other.groupId, Type: other.type, Name: name });
      expect(destroyed.Owner_Account).toBe(members[0]);
      expect(destroyed.MemberList.map((m: { Member_Account: string }) => m.Member_Account)).toEqual(members);
      expect(members.length).toBeGreaterThan(0);
    } finally {
      await sim.stop();
    }
  });
});
