/**
 * `npm run export -- --conversation a,b` and `npm run export -- transcript --conversation a,b`
 * (issue 26) on a local archive written by the real one-to-one pass over the simulator, one
 * account holding a bidi override, a quote, markup and a comma: the pair in either order gives the
 * same file with every message once; the nickname valid at each message's time (identity rows
 * written as the capture writes them) names the sender; the transcript page shows each message
 * once, isolates and escapes the accounts, and its file name carries none of the hostile characters.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import { identityRowsKey } from '../../functions/domain/identity-capture.ts';
import type { UserNameRow } from '../../functions/domain/identity-rows.ts';
import type { RoamMessage } from '../../functions/domain/tencent-types.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { c2cEngine, startC2cSimulator } from '../helpers/c2c.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const ALICE = 'alice.c2c';
const BOB = 'bob\u202e"<b>,x';
const CAROL = 'carol.c2c';

let sim: Simulator;
let dir = '';
let archive = '';
let served: RoamMessage[] = [];
let renameAt = 0;

beforeAll(async () => {
  sim = await startC2cSimulator({
    seed: 2606,
    c2c: {
      recalledFraction: 0.05,
      conversations: [
        { accounts: [BOB, ALICE], messages: 80 },
        { accounts: [ALICE, CAROL], messages: 12 },
      ],
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'c2c-export-'));
  archive = join(dir, 'archive');
  const store = new LocalFolderStore(archive);
  const engine = c2cEngine(sim, store);
  const report = await engine.run({
    timeZone: 'UTC',
    c2c: {
      pairs: configPairs({
        pairs: [
          [BOB, ALICE],
          [ALICE, CAROL],
        ],
      }),
      concurrency: 2,
    },
  });
  expect(report.done).toBe(true);
  served = sim.c2c.visible(ALICE, BOB);
  // Alice is "Alice" from the start, "Alice Chen" from the middle message's time on.
  renameAt = (served[Math.floor(served.length / 2)] as RoamMessage).MsgTimeStamp;
  const user = (nick: string, observedAt: number): UserNameRow => ({
    sdk_app_id: engine.sdkAppId,
    account: ALICE,
    nick,
    image: '',
    status: 'active',
    result_code: null,
    observed_at: observedAt,
  });
  const rows = [user('Alice', (served[0] as RoamMessage).MsgTimeStamp - 10), user('Alice Chen', renameAt)];
  await store.put(
    identityRowsKey('users', engine.sdkAppId, '2026-01-01', 1),
    gzipSync(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`),
  );
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function exportOf(args: readonly string[], out: string) {
  const io = captureExportIo({ clock: new FakeClock(Date.UTC(2026, 11, 7)) });
  const code = await runExportCommand(
    [...args, '--archive', archive, '--time-zone', 'UTC', '--out', out],
    io.deps,
  );
  return { code, out: io.out.join(''), err: io.err.join('') };
}

describe('npm run export -- --conversation', () => {
  it('writes one conversation, every message once, the pair in either order', async () => {
    const forward = join(dir, 'forward.jsonl');
    const backward = join(dir, 'backward.jsonl');
    const a = await exportOf(['--conversation', JSON.stringify([ALICE, BOB])], forward);
    expect(a.code, a.err).toBe(0);
    const b = await exportOf(['--conversation', JSON.stringify([BOB, ALICE])], backward);
    expect(b.code, b.err).toBe(0);
    expect(await readFile(backward, 'utf8')).toBe(await readFile(forward, 'utf8'));
    const rows = (await readFile(forward, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => r.msg_key)).toEqual(served.map((m) => m.MsgKey));
    expect(rows.filter((r) => r.is_recalled === true).map((r) => r.msg_key)).toEqual(
      served.filter((m) => m.MsgFlagBits === 8).map((m) => m.MsgKey),
    );
    // The nickname valid at each message's time; Bob has no rows, so his account.
    for (const [i, row] of rows.entries()) {
      const m = served[i] as RoamMessage;
      const expected = m.From_Account === ALICE ? (m.MsgTimeStamp < renameAt ? 'Alice' : 'Alice Chen') : BOB;
      expect(row.from_name, String(m.MsgKey)).toBe(expected);
    }
  });

  it('takes a,b, narrows to --params from/to, and refuses an ambiguous pair', async () => {
    const out = join(dir, 'carol.csv');
    const all = await exportOf(['--conversation', `${CAROL},${ALICE}`, '--no-names'], out);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toContain(`wrote ${sim.c2c.visible(ALICE, CAROL).length} rows`);
    const none = await exportOf(
      ['--conversation', `${ALICE},${CAROL}`, '--params', 'from=2000-01-01', 'to=2000-01-02'],
      out,
    );
    expect(none.out).toContain('wrote 0 rows');
    const ambiguous = await exportOf(['--conversation', `${ALICE},${BOB}`], out);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.err).toContain('--conversation');
  });
});

describe('npm run export -- transcript --conversation', () => {
  it('writes the conversation as a page: each message once, accounts isolated and escaped, names as of time', async () => {
    const folder = join(dir, 'pages');
    await import('node:fs/promises').then((fs) => fs.mkdir(folder));
    const result = await exportOf(
      ['transcript', '--conversation', JSON.stringify([BOB, ALICE])],
      `${folder}/`,
    );
    expect(result.code, result.err).toBe(0);
    const written = /wrote (\d+) messages to (.*?\.html)/.exec(result.out);
    expect(Number(written?.[1])).toBe(served.length);
    const path = written?.[2] as string;
    // The file name: no bidi control, no quote or markup.
    expect(path.slice(folder.length)).not.toMatch(/[\u202e"<>]/);
    const html = await readFile(path, 'utf8');
    expect(html).toContain('One-to-one conversation of');
    expect(html.match(/<article /g)?.length).toBe(served.length);
    expect(html).not.toContain('\u202e');
    expect(html).not.toContain('<b>');
    expect(html).toContain('bob<span class="cc">⟨U+202E⟩</span>&quot;&lt;b&gt;,x');
    expect(html).toContain('Alice Chen');
    expect(html).toContain('<title>Alice Chen and bob⟨U+202E⟩&quot;&lt;b&gt;,x</title>');
    const recalled = served.filter((m) => m.MsgFlagBits === 8).length;
    expect(html).toContain(`${served.length} messages (${recalled} deleted or recalled`);
  });
});
