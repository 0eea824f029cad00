/**
 * One message holding lone surrogates (`\ud800` in its text, `\udc00` in its CloudCustomData),
 * archived by the engine from the simulator over real HTTP: every local query over its day still
 * works for every group (DuckDB refused the whole file when a line escaped a lone surrogate), the
 * columns hold U+FFFD, `raw` gives the exact message back, and the transcript shows the lone
 * surrogate as a token (issue 21, point 3).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { dateInZone, runReportKey } from '../../functions/domain/partition.ts';
import { emptyReport, runReportJson } from '../../functions/engine/report.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { captureExportIo } from '../helpers/export.ts';

const GROUP = '@TGS#1SURROGATE';
const SEQ = 12;
const TEXT = 'before \ud800 after';
const CUSTOM = 'custom \udc00 data';

let sim: Simulator;
let dir = '';
let dt = '';

beforeAll(async () => {
  sim = await startEngineSimulator({
    seed: 23,
    retentionDays: 365,
    // Every message on one day, so every group shares the day of the odd message.
    dataset: {
      groups: 3,
      activeFraction: 1,
      messagesPerActiveGroup: [20, 40],
      historyDays: 0.5,
      extraGroups: [{ groupId: GROUP, type: 'Public', messages: 30 }],
    },
  });
  sim.modifyMessage(GROUP, SEQ, {
    body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: TEXT } }],
    cloudCustomData: CUSTOM,
  });
  dir = await mkdtemp(join(tmpdir(), 'lone-surrogate-'));
  const report = await engineRun(sim, new LocalFolderStore(join(dir, 'archive'))).run();
  expect(report.done).toBe(true);
  const served = [...sim.groundTruth(GROUP)].find((m) => m.MsgSeq === SEQ);
  dt = dateInZone(served?.MsgTimeStamp ?? 0, 'UTC');
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function exportTo(out: string, args: readonly string[]): Promise<number> {
  const io = captureExportIo();
  const code = await runExportCommand(
    [...args, '--out', out, '--archive', join(dir, 'archive'), '--time-zone', 'UTC'],
    io.deps,
  );
  expect(code, io.err.join('')).toBe(0);
  return code;
}

describe('a message with lone surrogates', () => {
  it('is archived once, with the rest, and every row of its day reads on DuckDB, the exact message in raw', async () => {
    const rows = await readArchive(new LocalFolderStore(join(dir, 'archive')));
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
    const sameDay = rows.filter((r) => r.dt === dt);
    const groups = new Set(sameDay.map((r) => r.record.group_id));
    expect(groups.size).toBeGreaterThan(1);

    const out = join(dir, 'day.jsonl');
    await exportTo(out, [
      `SELECT group_id, msg_seq, text, cloud_custom_data, raw FROM messages WHERE dt = '${dt}' ORDER BY group_id, msg_seq`,
    ]);
    const exported = (await readFile(out, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { group_id: string; msg_seq: number; text: string; raw: string | null });
    expect(exported).toHaveLength(sameDay.length);
    expect(new Set(exported.map((r) => r.group_id))).toEqual(groups);
    const odd = exported.find((r) => r.group_id === GROUP && r.msg_seq === SEQ);
    expect(odd).toMatchObject({ text: 'before \ufffd after', cloud_custom_data: 'custom \ufffd data' });
    // The exact message: JSON.parse of raw gives the lone surrogates back.
    const message = JSON.parse(odd?.raw ?? 'null');
    expect(message.MsgBody[0].MsgContent.Text).toBe(TEXT);
    expect(message.CloudCustomData).toBe(CUSTOM);
    expect(message.MsgSeq).toBe(SEQ);
    expect(exported.filter((r) => r.raw !== null)).toHaveLength(1);
  });

  it('leaves every group of its day exportable as a conversation, and its transcript shows the token', async () => {
    const rows = await readArchive(new LocalFolderStore(join(dir, 'archive')));
    const groups = [...new Set(rows.filter((r) => r.dt === dt).map((r) => r.record.group_id))];
    for (const [i, groupId] of groups.entries()) {
      const csv = join(dir, `conversation-${i}.csv`);
      await exportTo(csv, ['conversation', '--params', `group_id=${groupId}`, `from=${dt}`, `to=${dt}`]);
      const lines = (await readFile(csv, 'utf8')).split('\r\n').filter((l) => l.length > 0);
      expect(lines.length - 1).toBe(rows.filter((r) => r.dt === dt && r.record.group_id === groupId).length);
    }
    const html = join(dir, 'transcript.html');
    await exportTo(html, ['transcript', '--params', `group_id=${GROUP}`, `from=${dt}`, `to=${dt}`]);
    const page = await readFile(html, 'utf8');
    // Shown as the lone surrogate it is, as a token (render-html.ts), not as U+FFFD.
    expect(page).toContain('before <span class="cc">⟨U+D800⟩</span> after');
    expect(page).toContain('custom <span class="cc">⟨U+DC00⟩</span> data');
    expect(page).not.toContain('\ufffd');
  });

  it('is no change to the rescan: compared again, it is the same message', async () => {
    const report = await engineRun(sim, new LocalFolderStore(join(dir, 'archive')), {
      rescanDays: 30,
      observedAtSec: Math.floor(Date.now() / 1000) + 1,
    }).run();
    expect(report.rescan.checked).toBeGreaterThan(0);
    expect(report.rescan).toMatchObject({ modified: 0, recalled: 0, deleted: 0, restored: 0 });
  });
});

describe('a run report with a lone surrogate (a server error text, a group id)', () => {
  it('keeps the runs table readable on DuckDB, with U+FFFD in its columns and the exact report in raw', async () => {
    const store = new LocalFolderStore(join(dir, 'archive'));
    const report = emptyReport('runlonesurrogate', sim.apps[0]?.sdkAppId ?? 0, Date.now());
    report.errors.push({ groupId: '@TGS#\udc01odd', topicId: null, error: 'server said \ud800 no' });
    const key = runReportKey({
      sdkAppId: report.sdkAppId,
      runId: report.runId,
      startedAtSeconds: Math.floor(report.startedAtMs / 1000),
      timeZone: 'UTC',
    });
    await store.put(key, new TextEncoder().encode(runReportJson(report)), { ifNoneMatch: '*' });

    const out = join(dir, 'runs.jsonl');
    await exportTo(out, ['SELECT run_id, errors FROM runs ORDER BY run_id']);
    const runs = (await readFile(out, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { run_id: string; errors: unknown });
    // The engine's own runs from beforeAll are still there beside it.
    expect(runs.length).toBeGreaterThan(1);
    const odd = runs.find((r) => r.run_id === 'runlonesurrogate');
    const errors = typeof odd?.errors === 'string' ? JSON.parse(odd.errors) : odd?.errors;
    expect(errors).toEqual([{ groupId: '@TGS#\ufffdodd', topicId: null, error: 'server said \ufffd no' }]);

    const kept = JSON.parse(Buffer.from((await store.get(key))?.body ?? []).toString('utf8')) as {
      raw: string;
    };
    expect(JSON.parse(kept.raw)).toEqual(JSON.parse(JSON.stringify(report)));
    expect(JSON.parse(kept.raw).errors[0].error).toBe('server said \ud800 no');
  });

  it('is written as plain JSON, with no raw, when it holds none', () => {
    const report = emptyReport('plain', 1, 0);
    expect(runReportJson(report)).toBe(`${JSON.stringify(report)}\n`);
  });
});
