/**
 * The command line as people and schedulers use it: real `node` processes, real exit codes and
 * messages, against the simulator started here. Also: no output of the CLI or file of the archive
 * ever contains the secret key or a UserSig.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { userSigFromKey } from '../../functions/adapters/tencent/user-sig.ts';
import { emptyState, serializeState } from '../../functions/domain/continuation.ts';
import { stateKey } from '../../functions/domain/partition.ts';
import { DEMO_APP, type Simulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { type CliResult, killStrayChildren, runCli, writeSimulatorConfig } from '../helpers/cli.ts';
import { startSimulatorForClient } from '../helpers/tencent.ts';

const FAST_APP = {
  planRateLimit: 1_000,
  rateLimits: { groupMsgGetSimple: 1_000, getGroupInfo: 200, getAppidGroupList: 1, getTopic: 200 },
};

let sim: Simulator;
let root: string;
let counter = 0;

beforeAll(async () => {
  // The simulator allows what the fastest config here asks for; the others ask for less.
  sim = await startSimulatorForClient(FAST_APP.rateLimits, {
    seed: 5,
    retentionDays: 365,
    dataset: {
      groups: 8,
      activeFraction: 0.9,
      messagesPerActiveGroup: [20, 120],
      historyDays: 4,
      mediaMaxBytes: 20_000,
    },
  });
  root = await mkdtemp(join(tmpdir(), 'cli-'));
});
afterAll(async () => {
  await sim?.stop();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => killStrayChildren());

/** A fresh folder for one test. */
async function folder(): Promise<string> {
  const dir = join(root, `t${counter++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Everything the processes printed, and every file under `dir` (gzip objects decompressed). */
async function everythingWritten(results: CliResult[], dir: string): Promise<string> {
  const parts = results.flatMap((r) => [r.stdout, r.stderr]);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const body = await readFile(join(entry.parentPath, entry.name));
    parts.push(entry.name.endsWith('.gz') ? gunzipSync(body).toString('utf8') : body.toString('utf8'));
  }
  return parts.join('\n');
}

/**
 * The secret key never appears, and no UserSig either: no `usersig=` with a value other than `***`,
 * and no sig-shaped token (a UserSig is base64url of zlib data: `eJ` and 100+ more characters).
 */
function secretsIn(text: string, secretKey: string): string[] {
  const found: string[] = [];
  for (const needle of [secretKey, secretKey.slice(0, 16), secretKey.slice(-16)]) {
    const at = text.indexOf(needle);
    if (at >= 0) found.push(`secret key at ${at}: …${text.slice(Math.max(0, at - 60), at + 20)}…`);
  }
  for (const m of text.matchAll(/usersig=(?!\*\*\*(?:[&\s"']|$))[^&\s"']*/gi)) found.push(m[0]);
  for (const m of text.matchAll(/eJ[A-Za-z0-9*_\-.]{100,}/g)) found.push(m[0]);
  return found;
}

it('the leak detector finds the key, a UserSig in a URL and a bare UserSig', () => {
  const sig = userSigFromKey({
    sdkAppId: DEMO_APP.sdkAppId,
    key: DEMO_APP.secretKey,
    identifier: DEMO_APP.adminIdentifier,
    clock: { now: Date.now, sleep: async () => undefined },
  }).current();
  expect(secretsIn(`key=${DEMO_APP.secretKey}`, DEMO_APP.secretKey)).toHaveLength(3);
  expect(secretsIn(`GET /v4/x?usersig=${sig}&identifier=a`, DEMO_APP.secretKey).length).toBeGreaterThan(0);
  expect(secretsIn(`{"sig":"${sig}"}`, DEMO_APP.secretKey)).toEqual([sig]);
  expect(secretsIn('GET /v4/x?sdkappid=1&usersig=***&identifier=a', DEMO_APP.secretKey)).toEqual([]);
});

describe('CLI usage and configuration errors', () => {
  it('prints the usage and exits 2 without a command', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('Usage:');
    expect(result.stdout).toContain('npm run archive -- --config <file.json>');
  });

  it('prints the usage and exits 0 for --help', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage:');
  });

  it('exits 2 for an unknown command or option', async () => {
    const command = await runCli(['archiv']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('Unknown command "archiv"');
    expect(command.stderr).toContain('Usage:');
    const option = await runCli(['archive', '--confg', 'x.json']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/--confg/);
  });

  it('exits 78 naming --config when it is missing', async () => {
    const result = await runCli(['archive']);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/^ConfigError: --config <file\.json> is required/m);
  });

  it('exits 78 when the config file does not exist, naming the file', async () => {
    const missing = join(root, 'missing.json');
    const result = await runCli(['archive', '--config', missing]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`Cannot read config file ${missing}: ENOENT`);
  });

  it('exits 78 when the config file is not JSON', async () => {
    const dir = await folder();
    const file = join(dir, 'config.json');
    await writeFile(file, '{ "apps": [ ');
    const result = await runCli(['archive', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`Config file ${file} is not valid JSON`);
  });

  it('exits 78 naming the invalid field and the fix', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, { app: { region: 'mars' } });
    const result = await runCli(['archive', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`Invalid config file ${file}:`);
    expect(result.stderr).toMatch(/apps\.0\.region: must be one of china, singapore/);
  });

  it('exits 78 for a deadline that is not a number', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir);
    const result = await runCli(['archive', '--config', file, '--deadline', 'abc']);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('--deadline must be a positive number of seconds, got "abc"');
  });

  it('exits 78 naming apps.0.endpoint for a file: or javascript: URL, without a request', async () => {
    for (const endpoint of ['file:///etc/passwd', 'javascript:alert(1)']) {
      const dir = await folder();
      const file = await writeSimulatorConfig(sim, dir, { app: { endpoint } });
      const result = await runCli(['archive', '--config', file]);
      expect(result.code, result.stderr).toBe(78);
      expect(result.stderr).toMatch(/apps\.0\.endpoint: must be an https:\/\/ URL/);
    }
  });

  it('exits 78 naming the field and the bound for a checkpoint interval a timer cannot hold', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, {
      run: { checkpointSeconds: 3_000_000, leaseSeconds: 9_000_000 },
    });
    const result = await runCli(['archive', '--config', file]);
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toMatch(/run\.checkpointSeconds: must be at most 3600 seconds/);
    expect(result.stderr).toMatch(/run\.leaseSeconds: must be at most 86400 seconds/);
  });

  it('exits 2 naming the folder when export --out points into a folder that does not exist', async () => {
    const dir = await folder();
    const out = join(dir, 'no-such-folder', 'volume.csv');
    const result = await runCli(['export', 'SELECT 1 AS x', '--out', out, '--archive', dir]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      `--out ${out}: the folder ${join(dir, 'no-such-folder')} does not exist; create it first`,
    );
    expect(result.stderr).not.toContain('ENOENT');
  });

  it('exits 78 naming the field when the secret file is missing', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, {
      app: { secretKey: { file: join(dir, 'nope.key') } },
    });
    const result = await runCli(['archive', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/apps\.0\.secretKey: cannot read .*nope\.key \(ENOENT\)/);
  });
});

describe('CLI archive runs', () => {
  it('archives everything (exit 0, report on stdout), then finds nothing new', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, { app: FAST_APP });
    // Retries and a UserSig renewal put URLs and sigs near the logs; --verbose prints the most.
    sim.injectFaults(
      { api: 'group_msg_get_simple', kind: 'http-status', status: 502, times: 2 },
      { api: 'group_msg_get_simple', kind: 'error-code', code: 70001 },
    );
    const result = await runCli(['archive', '--config', file, '--verbose']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^run \S+ \(app 1400000000\): done in \d+\.\d s$/m);
    expect(result.stdout).toMatch(/^ {2}messages: \d+ \(/m);
    expect(result.stdout).toContain(`archive: ${join(dir, 'archive')}`);
    expect(result.stderr).toContain('UserSig refused; regenerating it once');
    const store = new LocalFolderStore(join(dir, 'archive'));
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);

    const again = await runCli(['archive', '--config', file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/messages: 0 \(/);
    const written = await everythingWritten([result, again], join(dir, 'archive'));
    expect(written).toContain('"msg_seq":'); // the archive itself was read
    expect(secretsIn(written, DEMO_APP.secretKey)).toEqual([]);
  });

  it('exits 3 when the deadline comes first, and the next run finishes the job', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, { app: FAST_APP });
    const result = await runCli(['archive', '--config', file, '--deadline', '0.001']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/: NOT done, run again to continue in /);
    const next = await runCli(['archive', '--config', file]);
    expect(next.code, next.stderr).toBe(0);
    const store = new LocalFolderStore(join(dir, 'archive'));
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('exits 1, not 3 (the deadline code), when a group fails and no deadline is set', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, { app: FAST_APP });
    // One history page answers "invalid parameter for this group" (10004): that group fails, the others go on.
    sim.injectFaults({ api: 'group_msg_get_simple', kind: 'error-code', code: 10004 });
    try {
      const result = await runCli(['archive', '--config', file]);
      expect(result.stdout).toMatch(/^ {2}error: /m);
      expect(result.code, result.stdout).toBe(1);
    } finally {
      sim.clearFaults();
    }
  });

  it('exits 75 naming the holder while another run holds the lease, writing nothing', async () => {
    const dir = await folder();
    const file = await writeSimulatorConfig(sim, dir, { app: FAST_APP });
    const store = new LocalFolderStore(join(dir, 'archive'));
    const expiresAtMs = Date.now() + 10 * 60_000;
    const state = {
      ...emptyState(DEMO_APP.sdkAppId),
      lease: { owner: 'nightly-20261125-abc123', expiresAtMs, holder: null },
    };
    await store.put(stateKey(DEMO_APP.sdkAppId), new TextEncoder().encode(serializeState(state)));
    const result = await runCli(['archive', '--config', file]);
    expect(result.code).toBe(75);
    expect(result.stderr).toContain(
      `LeaseHeldError: Another run (nightly-20261125-abc123) is archiving this app and holds the lease until ${new Date(expiresAtMs).toISOString()}`,
    );
    expect(await readArchive(store)).toEqual([]);
  });

  it('exits 78 with the fix when the secret key is wrong, and never prints either key', async () => {
    const dir = await folder();
    const wrongKey = 'c0ffee'.repeat(10);
    const file = await writeSimulatorConfig(sim, dir, { app: FAST_APP });
    await writeFile(join(dir, 'secret.key'), wrongKey);
    const result = await runCli(['archive', '--config', file, '--verbose']);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/wrong secret key for this SDKAppID \(70009\)/);
    expect(result.stderr).toContain('Check that the secret key belongs to this SDKAppID');
    const written = await everythingWritten([result], join(dir, 'archive'));
    expect(secretsIn(written, DEMO_APP.secretKey)).toEqual([]);
    expect(secretsIn(written, wrongKey)).toEqual([]);
  });
});

describe('npm start (the demo)', () => {
  it('archives three times into --out, prints the reports, the tree and names as of message time (transcript, export), and leaks no secret', async () => {
    const dir = await folder();
    const out = join(dir, 'archive');
    // Safety nets only (nothing here is timed): the demo pages the simulator's whole history at the
    // documented 200 calls/s, which a machine with both cores busy stretches well past 30 s.
    const result = await runCli(['demo', '--out', out], { timeoutMs: 170_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Run 1: everything the simulator retains.');
    expect(result.stdout).toContain('Run 2: only what is new');
    expect(result.stdout).toContain('Run 3: the new messages, under the name run 2 recorded.');
    expect(result.stdout.match(/^run \S+ \(app 1400000000\): done in /gm)).toHaveLength(3);
    expect(result.stdout).toMatch(/^ {2}messages: 32 \(/m);
    expect(result.stdout).toContain(`The archive (${out}):`);
    expect(result.stdout).toContain('state/sdkappid=1400000000/');
    expect((await readArchive(new LocalFolderStore(out))).length).toBeGreaterThan(100);
    const written = await everythingWritten([result], out);
    expect(written).toContain('"msg_seq":');
    expect(secretsIn(written, DEMO_APP.secretKey)).toEqual([]);

    // Names as of message time (issue 24): the renamed member's first message under the old name,
    // the one after run 2 recorded the rename under the new one, in the renamed group's transcript.
    const also =
      /^Also: (\S+), shown as "(.+)" in (\S+), took the name card "(.+)", and the group was renamed from "(.+)" to "(.+)"\.$/m.exec(
        result.stdout,
      );
    expect(also, result.stdout).not.toBeNull();
    const [, account, before, , after, groupBefore, groupAfter] = also ?? [];
    const named = [...result.stdout.matchAll(/^ {2}#\d+ at \S+: "(.+)" \((\w+), [^)]*\) in "(.+)"$/gm)];
    expect(named.map((m) => [m[1], m[3]])).toEqual([
      [before, groupBefore],
      [after, groupAfter],
    ]);
    expect(named[1]?.[2]).toBe('name_card');
    const pages = await readdir(`${out}-transcripts`);
    expect(pages).toContain(`${groupAfter}.html`);
    const page = await readFile(join(`${out}-transcripts`, `${groupAfter}.html`), 'utf8');
    expect(page).toContain(`<title>${groupAfter}</title>`);
    expect(page).toContain(`title="${before}">${before}</bdi> <span class="account">(<bdi>${account}</bdi>)`);
    expect(page).toContain(`title="${after}">${after}</bdi> <span class="account">(<bdi>${account}</bdi>)`);
    expect(page).toMatch(/<div class="renamed" dir="ltr">name changed: /);
    // The export with names: the table of the member's first and last rows, and the CSV file.
    const table = result.stdout.split('The export "conversation" with names')[1]?.split('\n\n')[1] ?? '';
    const fromNames = table
      .split('\n')
      .slice(2)
      .map((line) =>
        line.includes(after ?? '\u0000') ? after : line.includes(before ?? '\u0000') ? before : line,
      );
    expect(fromNames).toEqual([before, after]);
    const csv = await readFile(join(`${out}-transcripts`, 'conversation.csv'), 'utf8');
    expect(csv.split('\n')[0]).toMatch(/from_name,from_role,.*group_name/);
    expect(csv).toContain(`,${after},`);

    // One-to-one (issue 26): every run pulls the conversations; run 2 the 6 new messages (one
    // recalled); the conversation's transcript holds each message once, as the export does.
    const pulled = [
      ...result.stdout.matchAll(/^ {2}one-to-one: (\d+) pairs known.*?; (\d+) messages \((\d+) recalled/gm),
    ];
    expect(pulled).toHaveLength(3);
    expect(Number(pulled[0]?.[2])).toBeGreaterThan(0);
    expect(pulled.slice(1).map((m) => [Number(m[2]), Number(m[3])])).toEqual([
      [6, 1],
      [0, 0],
    ]);
    const store = new LocalFolderStore(out);
    let c2cRows = 0;
    for await (const key of store.list('c2c/')) {
      const body = (await store.get(key))?.body as Uint8Array;
      c2cRows += gunzipSync(body)
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '').length;
    }
    expect(c2cRows).toBe(pulled.reduce((n, m) => n + Number(m[2]), 0));
    expect(result.stdout).toMatch(
      /^And 6 new one-to-one messages between (.+) and (.+), one of them recalled\.$/m,
    );
    const transcript = /^Conversation transcript: wrote (\d+) messages to (.+\.html)/m.exec(result.stdout);
    expect(transcript, result.stdout).not.toBeNull();
    const excerpt = /^Its last 5 of (\d+) messages/m.exec(result.stdout);
    expect(Number(excerpt?.[1])).toBe(Number(transcript?.[1]));
    expect(Number(excerpt?.[1])).toBeGreaterThan(6);
    const conversationPage = await readFile(transcript?.[2] as string, 'utf8');
    expect(conversationPage).toContain('One-to-one conversation of');
    expect(conversationPage.match(/<article /g)).toHaveLength(Number(transcript?.[1]));
  }, 180_000);
});
