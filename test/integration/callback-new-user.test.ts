/**
 * Issue 25's acceptance exactly as docs/callbacks.md (#try-it-locally) tells a new user to try it,
 * with the real commands as processes in a fresh folder: `npm run simulator -- --callbacks-to <url>`,
 * the `npm run receiver` line it prints, `npm run archive`, then, typed into the simulator's
 * console, new messages in a group, a recall by a moderator and the group dissolved; the next
 * `npm run archive`, and `npm run export` of the `messages_with_source` view and of the
 * `message-revisions` query. The group's new messages come back with `source` 'callback' and
 * unconfirmed, its earlier ones 'pull', and the recall's revision names the moderator and the time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gunzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

const children: ChildProcess[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `npm run <command> -- …` as the npm script runs it (tsx), in `cwd`, stdin open for the console. */
function start(cwd: string, args: readonly string[]) {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'functions/cli/main.ts'), ...args],
    { cwd, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  /** Resolves once `pattern` matches stdout, or else stderr (rejects if the process exits first). */
  const waitFor = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    // A safety net against a hang, far beyond a loaded machine's seconds.
    const giveUp = Date.now() + 120_000;
    for (;;) {
      const match = stdout.match(pattern) ?? stderr.match(pattern);
      if (match) return match;
      if (child.exitCode !== null || Date.now() > giveUp)
        throw new Error(`${args[0]}: no ${pattern} (exit ${child.exitCode}):\n${stdout}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return {
    done,
    waitFor,
    type: (line: string) => child.stdin.write(`${line}\n`),
    output: () => ({ stdout, stderr }),
  };
}

async function run(cwd: string, args: readonly string[]) {
  const child = start(cwd, args);
  const code = await child.done;
  return { code, ...child.output() };
}

/** The events the receiver has recorded in the archive folder so far. */
async function recordedEvents(archive: string): Promise<number> {
  const files = await readdir(join(archive, 'callbacks'), { recursive: true }).catch(() => []);
  let events = 0;
  for (const file of files.filter((f) => f.endsWith('.ndjson.gz'))) {
    events += gunzipNdjson(await readFile(join(archive, 'callbacks', file))).length;
  }
  return events;
}

async function exported(cwd: string, args: readonly string[]): Promise<Record<string, unknown>[]> {
  const out = join(cwd, `export-${Math.random().toString(36).slice(2)}.jsonl`);
  const result = await run(cwd, ['export', ...args, '--config', '.tmp/simulator.config.json', '--out', out]);
  expect(result.code, result.stderr).toBe(0);
  const text = await readFile(out, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('callbacks as a new user tries them (docs/callbacks.md, issue 25 acceptance)', () => {
  it("keeps a dissolved group's last messages (source callback) and who recalled what, when", async () => {
    // Prepare: the simulator with callbacks, then the receiver command it prints.
    const cwd = await mkdtemp(join(tmpdir(), 'callback-new-user-'));
    folders.push(cwd);
    const port = await freePort();
    const simulator = start(cwd, ['simulator', '--callbacks-to', `http://127.0.0.1:${port}/`]);
    const hint = await simulator.waitFor(/to receive them: npm run receiver -- (.*)\n/);
    await simulator.waitFor(/Press Ctrl-C to stop\.\n/);
    const receiver = start(cwd, ['receiver', ...(hint[1] ?? '').split(' ')]);
    await receiver.waitFor(/Receiving callbacks for \d+ on http:\/\/127\.0\.0\.1:(\d+)\//);
    const first = await run(cwd, ['archive', '--config', '.tmp/simulator.config.json']);
    expect(first.code, first.stderr).toBe(0);

    // Act: new messages in a plain group, one recalled by a moderator, the group dissolved.
    simulator.type('groups');
    const listing = await simulator.waitFor(
      / {2}(@\S+) {2}(Public|Private|Work|ChatRoom) {2}last seq ([1-9]\d*)\n/,
    );
    const [, group = '', , lastText = ''] = listing;
    const lastPulled = Number(lastText);
    simulator.type(`send ${group} 3`);
    const sent = await simulator.waitFor(/sent 3 messages to \S+: seq (\d+) to (\d+)\n/);
    const newSeqs = [Number(sent[1]), Number(sent[1]) + 1, Number(sent[2])];
    const beforeRecall = Date.now();
    simulator.type(`recall ${group} ${newSeqs[1]} moderator`);
    await simulator.waitFor(/recalled seq \d+ in \S+ as moderator\n/);
    simulator.type(`dissolve ${group}`);
    await simulator.waitFor(/dissolved \S+\n/);
    // 3 sends, the recall, the dissolution: recorded (acked) before the next run reads them.
    const archive = join(cwd, 'archive-simulator');
    const giveUp = Date.now() + 120_000;
    while ((await recordedEvents(archive)) < 5) {
      if (Date.now() > giveUp) throw new Error(`recorded ${await recordedEvents(archive)} of 5 events`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const second = await run(cwd, ['archive', '--config', '.tmp/simulator.config.json']);
    expect(second.code, second.stderr).toBe(0);

    // Assess: the view gives the new messages as callback-only, the earlier ones as pulled.
    const rows = (
      await exported(cwd, [
        `SELECT msg_seq, source, unconfirmed FROM messages_with_source WHERE group_id = '${group}'`,
      ])
    ).map((r) => [Number(r.msg_seq), r.source, r.unconfirmed]);
    for (const seq of newSeqs) expect(rows, `seq ${seq}`).toContainEqual([seq, 'callback', true]);
    expect(rows.filter((r) => r[1] === 'pull').length).toBeGreaterThan(0);
    expect(rows.every((r) => (r[0] as number) > lastPulled || r[1] === 'pull')).toBe(true);
    expect(new Set(rows.map((r) => r[0])).size).toBe(rows.length);
    const revisions = (
      await exported(cwd, ['message-revisions', '--params', 'from=2000-01-01', 'to=2100-01-01'])
    ).filter((r) => r.group_id === group && r.source === 'callback');
    expect(revisions.map((r) => [Number(r.msg_seq), r.change, r.changed_by])).toEqual([
      [newSeqs[1], 'recalled', 'moderator'],
    ]);
    const changedAt = Number(revisions[0]?.changed_at);
    expect(changedAt).toBeGreaterThanOrEqual(beforeRecall);
    expect(changedAt).toBeLessThanOrEqual(Date.now());
  }, 300_000);
});
