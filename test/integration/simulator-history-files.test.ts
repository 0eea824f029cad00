/**
 * The simulator's `get_history` over HTTP (functions/simulator/api-history-files.ts,
 * docs/tencent-api.md, get_history): an hour's one-to-one messages in downloadable files whose
 * sizes and MD5s the answer states, in the documented layout, several files for a busy hour; strict
 * readings of the request (1001, 1002), hours not made yet or without messages (1004), expired
 * ones (1005); its own 10/s budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  beijingHour,
  sightingOfHistoryLine,
  verifyHistoryFile,
} from '../../functions/domain/history-file.ts';
import { LINES_PER_FILE } from '../../functions/simulator/api-history-files.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { historyFileMessages } from '../helpers/history-files.ts';
import { signedDemoQuery } from '../helpers/tencent.ts';

const ALICE = 'alice.hf';
const BOB = 'bob "hf"';
const CAROL = 'carol.hf';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({
    seed: 264,
    media: false,
    // No group message: a Group hour has no file (1004); group files are tested in
    // test/integration/history-files-reconcile.test.ts.
    dataset: { groups: 1, activeFraction: 0, messagesPerActiveGroup: [1, 1], historyDays: 1 },
    c2c: {
      generated: 0,
      recalledFraction: 0,
      spanDays: 1,
      conversations: [
        { accounts: [ALICE, BOB], messages: 6_000 },
        { accounts: [CAROL, ALICE], messages: 500 },
      ],
    },
  });
});
afterAll(async () => {
  await sim.stop();
});

interface FileEntry {
  URL: string;
  ExpireTime: string;
  FileSize: number;
  FileMD5: string;
  GzipSize: number;
  GzipMD5: string;
}

async function getHistory(
  body: unknown,
): Promise<{ ErrorCode: number; ActionStatus: string; File?: FileEntry[] }> {
  const response = await fetch(`${sim.url}/v4/open_msg_svc/get_history?${signedDemoQuery('27')}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  return (await response.json()) as { ErrorCode: number; ActionStatus: string; File?: FileEntry[] };
}

const nowSec = () => Math.floor(Date.now() / 1000);

/** {@link getHistory}, asked again while the 10/s budget refuses it (10006). */
async function getHistoryPaced(body: unknown): ReturnType<typeof getHistory> {
  for (;;) {
    const answer = await getHistory(body);
    if (answer.ErrorCode !== 10006) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("the simulator's hourly files", () => {
  it("serves an hour's one-to-one messages in files that match the answer, in the documented layout", async () => {
    // The busiest hour whose file is made (ended at least an hour ago): several files.
    const all = [...sim.c2c.visible(ALICE, BOB), ...sim.c2c.visible(ALICE, CAROL)];
    const perHour = new Map<string, number>();
    for (const m of all) {
      if (m.MsgTimeStamp < nowSec() - 3 * 3_600) {
        const h = beijingHour(m.MsgTimeStamp);
        perHour.set(h, (perHour.get(h) ?? 0) + 1);
      }
    }
    const hour = [...perHour.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] as string;
    const expected = all.filter((m) => beijingHour(m.MsgTimeStamp) === hour);
    expect(expected.length).toBeGreaterThan(LINES_PER_FILE);

    const answer = await getHistoryPaced({ ChatType: 'C2C', MsgTime: hour });
    expect(answer).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
    const files = answer.File ?? [];
    expect(files.length).toBe(Math.ceil(expected.length / LINES_PER_FILE));
    const keys: string[] = [];
    for (const file of files) {
      expect(file.ExpireTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      const bytes = new Uint8Array(await (await fetch(file.URL)).arrayBuffer());
      const checked = verifyHistoryFile(
        {
          url: file.URL,
          gzipSize: file.GzipSize,
          gzipMd5: file.GzipMD5,
          fileSize: file.FileSize,
          fileMd5: file.FileMD5,
        },
        bytes,
      );
      if (!checked.ok) throw new Error(checked.reason);
      const lines = checked.text.split('\n');
      expect(lines[0]).toMatch(/"MsgList":\[$/);
      expect(lines.at(-1)).toBe(']}');
      const { messages, unreadable } = historyFileMessages(checked.text);
      expect(unreadable).toBe(0);
      for (const line of messages) {
        expect(sightingOfHistoryLine(line)).not.toBeNull();
        keys.push(line.MsgKey as string);
      }
    }
    expect(keys.sort()).toEqual(expected.map((m) => m.MsgKey).sort());

    // Asked again, the same files (a snapshot).
    const again = await getHistoryPaced({ ChatType: 'C2C', MsgTime: hour });
    expect(again.File?.map((f) => f.GzipMD5)).toEqual(files.map((f) => f.GzipMD5));
  });

  it('refuses bad requests, and answers 1004 for hours not made or without messages and 1005 for expired ones', async () => {
    const hourAgo = (h: number) => beijingHour(nowSec() - h * 3_600);
    const cases: [unknown, number][] = [
      [{ ChatType: 'C2C' }, 1001],
      [{ ChatType: 'C2C', MsgTime: 2026010100 }, 1001],
      [{ ChatType: 'c2c', MsgTime: hourAgo(5) }, 1002],
      [{ ChatType: 'C2C', MsgTime: '2026023100' }, 1002],
      [{ ChatType: 'C2C', MsgTime: hourAgo(0) }, 1004],
      // Made at the end of the next hour: a file of the last hour does not exist yet.
      [{ ChatType: 'C2C', MsgTime: hourAgo(1) }, 1004],
      // Six days back: before the messages (spanDays 1).
      [{ ChatType: 'C2C', MsgTime: hourAgo(6 * 24) }, 1004],
      [{ ChatType: 'C2C', MsgTime: hourAgo(8 * 24) }, 1005],
      [{ ChatType: 'Group', MsgTime: hourAgo(5) }, 1004],
    ];
    for (const [body, code] of cases) {
      expect((await getHistoryPaced(body)).ErrorCode, JSON.stringify(body)).toBe(code);
    }
    expect((await fetch(`${sim.url}/history-files/2026010100/0`)).status).toBe(404);
  });

  it('accepts at most 10 calls a second', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        getHistory({ ChatType: 'Group', MsgTime: beijingHour(nowSec() - 5 * 3_600) }),
      ),
    );
    const seconds = Math.ceil((Date.now() - started) / 1_000) + 1;
    const accepted = answers.filter((a) => a.ErrorCode === 1004).length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(10 * seconds);
    // Every other answer is the rate refusal.
    expect(answers.filter((a) => a.ErrorCode === 10006).length).toBe(40 - accepted);
  });
});
