/**
 * Bench section `receiver` (issue 25, deliverable 6): the callback receiver as a process
 * (`npm run receiver`, recording into a local folder) under load from a generator in another
 * process (this file run alone: `tsx bench/receiver.ts --load <json>`), with signed requests over
 * kept-alive connections. Three phases:
 *
 * 1. saturation, `BENCH_RECEIVER_SECONDS` (default 60 s) with `BENCH_RECEIVER_CONCURRENCY`
 *    (default 32) requests in flight: events/s sustained, ack latency p50/p99;
 * 2. and 3. a fixed rate (`BENCH_RECEIVER_RATE`, default 500/s) for a third of that, without and
 *    with forward mode (a local app server that answers at once, in this process): the latency
 *    forward mode adds, p50 and p99. The forward phase sends a "before" callback
 *    (`Group.CallbackBeforeSendMsg`, no seq yet: the app's answer decides whether the message is
 *    sent), the kind whose added latency the issue bounds (50 ms at p99).
 *
 * Each phase: the receiver's peak RSS (VmHWM), the time the recorder spent writing (gzip and the
 * folder's put) against the rest, and lost events (every acked event, by its unique `Random`, must
 * be in the archive; target 0). `uptime` is printed with the figures: the machine is shared.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipNdjson } from '../functions/domain/ndjson-gzip.ts';

type Row = (what: string, value: string, note?: string) => void;

const APP = 1400000000;
const AFTER_SEND = 'Group.CallbackAfterSendMsg';
const TOKEN = 'bench-callback-token-0123456789abcdef';

interface LoadSpec {
  url: string;
  seconds: number;
  /** Requests in flight (saturation), or the most in flight at a fixed rate. */
  concurrency: number;
  /** Requests per second; 0: as fast as `concurrency` allows. */
  rate: number;
  /** The first MsgSeq (each event's seq is unique across phases; `Random` is 7 times it). */
  firstSeq: number;
  /** The callback sent (default `Group.CallbackAfterSendMsg`). */
  command?: string;
  ackedFile: string;
}

interface LoadResult {
  sent: number;
  acked: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);

/** The load generator (its own process): signed callbacks, latencies, and the acked seqs into a file. */
async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const target = new URL(spec.url);
  const latencies: number[] = [];
  const acked: number[] = [];
  let sent = 0;
  let failed = 0;
  let seq = spec.firstSeq;
  const post = (): Promise<void> => {
    const mySeq = seq++;
    sent++;
    const time = String(Math.floor(Date.now() / 1000));
    const sign = createHash('sha256')
      .update(TOKEN + time)
      .digest('hex');
    const command = spec.command ?? AFTER_SEND;
    // A "before" callback comes before the message has a seq or a time.
    const ids = command === AFTER_SEND ? { MsgSeq: mySeq, MsgTime: Math.floor(Date.now() / 1000) } : {};
    const body = JSON.stringify({
      CallbackCommand: command,
      GroupId: '@TGS#bench',
      Type: 'Public',
      From_Account: `user_${mySeq % 500}`,
      Operator_Account: `user_${mySeq % 500}`,
      Random: mySeq * 7,
      ...ids,
      OnlineOnlyFlag: 0,
      MsgBody: [
        { MsgType: 'TIMTextElem', MsgContent: { Text: `bench message ${mySeq}, a sentence of text` } },
      ],
      EventTime: Date.now(),
    });
    const path = `${target.pathname}?SdkAppid=${APP}&CallbackCommand=${command}&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI&RequestTime=${time}&Sign=${sign}`;
    const started = performance.now();
    return new Promise<void>((resolve) => {
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            latencies.push(performance.now() - started);
            if (res.statusCode === 200 && text.includes('"ActionStatus":"OK"')) acked.push(mySeq);
            else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(body);
    });
  };
  const start = performance.now();
  const end = start + spec.seconds * 1000;
  if (spec.rate === 0) {
    const worker = async () => {
      while (performance.now() < end) await post();
    };
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } else {
    const inFlight = new Set<Promise<void>>();
    let due = 0;
    while (performance.now() < end) {
      const shouldHaveSent = Math.floor(((performance.now() - start) / 1000) * spec.rate);
      while (due < shouldHaveSent) {
        due++;
        const p = post().finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all([...inFlight]);
  }
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  await writeFile(spec.ackedFile, JSON.stringify(acked));
  latencies.sort((a, b) => a - b);
  return {
    sent,
    acked: acked.length,
    failed,
    seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

/** Starts `npm run receiver` (node --import tsx functions/cli/main.ts receiver); resolves with its URL. */
async function startReceiver(
  configFile: string,
): Promise<{ child: ChildProcess; url: string; stdout: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'functions/cli/main.ts', 'receiver', '--config', configFile, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (chunk) => {
      err += chunk;
      const match = /on (http:\/\/[^\s;]+)/.exec(err);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`the receiver exited (${code}): ${err}`)));
  });
  return { child, url, stdout: () => out };
}

/** The receiver's peak RSS (VmHWM) in MB, read before it stops. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const self = fileURLToPath(import.meta.url);
  // Not execFileSync: the app server of forward mode answers from this process's event loop.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', self, '--load', JSON.stringify(spec)],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as LoadResult;
}

/** Every event's seq (its `Random` / 7) stored under the archive's callbacks/ folder. */
async function storedSeqs(folder: string): Promise<Set<number>> {
  const seqs = new Set<number>();
  const files = (await readdir(join(folder, 'callbacks'), { recursive: true })).filter((f) =>
    f.endsWith('.gz'),
  );
  for (const file of files) {
    for (const line of await gunzipNdjson(await readFile(join(folder, 'callbacks', file)))) {
      seqs.add((JSON.parse((JSON.parse(line) as { body: string }).body) as { Random: number }).Random / 7);
    }
  }
  return seqs;
}

interface PhaseFigures extends LoadResult {
  rssMb: number;
  lost: number;
  writeMs: number;
  objects: number;
}

async function phase(
  dir: string,
  name: string,
  spec: Omit<LoadSpec, 'url' | 'ackedFile'>,
  forwardTo?: string,
) {
  const archive = join(dir, `archive-${name}`);
  const config = join(dir, `${name}.config.json`);
  await writeFile(
    config,
    JSON.stringify({
      apps: [
        {
          sdkAppId: APP,
          region: 'singapore',
          secretKey: { file: join(dir, 'key') },
          callbackToken: { file: join(dir, 'token') },
          ...(forwardTo === undefined ? {} : { callbacks: { forwardTo } }),
        },
      ],
      archive: { out: archive, timeZone: 'UTC' },
    }),
  );
  const receiver = await startReceiver(config);
  const ackedFile = join(dir, `${name}.acked.json`);
  let result: LoadResult;
  let rssMb: number;
  try {
    result = await runLoad({ ...spec, url: receiver.url, ackedFile });
    rssMb = await peakRssMb(receiver.child.pid as number);
  } finally {
    const exited = new Promise((resolve) => receiver.child.once('exit', resolve));
    receiver.child.kill('SIGINT');
    await exited;
  }
  const stats = JSON.parse(receiver.stdout().trim().split('\n').at(-1) ?? '{}') as {
    recorder?: { writeMs: number; objectsStored: number };
    forwarder?: { forwarded: number; failedOpen: number; failedClosed: number };
  };
  const stored = await storedSeqs(archive);
  const acked = JSON.parse(await readFile(ackedFile, 'utf8')) as number[];
  const lost = acked.filter((seq) => !stored.has(seq)).length;
  const figures: PhaseFigures = {
    ...result,
    rssMb,
    lost,
    writeMs: stats.recorder?.writeMs ?? Number.NaN,
    objects: stats.recorder?.objectsStored ?? 0,
  };
  process.stderr.write(`  receiver ${name}: ${JSON.stringify({ ...figures, forwarder: stats.forwarder })}\n`);
  return figures;
}

/** The app's own callback server for forward mode: answers OK at once. */
async function appServer() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}');
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback` };
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

export async function receiverSection(row: Row, scale: number): Promise<void> {
  const seconds = Number(process.env.BENCH_RECEIVER_SECONDS ?? 60 * Math.min(1, scale));
  const concurrency = Number(process.env.BENCH_RECEIVER_CONCURRENCY ?? 32);
  const rate = Number(process.env.BENCH_RECEIVER_RATE ?? 500);
  const dir = await mkdtemp(join(tmpdir(), 'bench-receiver-'));
  const app = await appServer();
  try {
    await writeFile(join(dir, 'key'), `${'0'.repeat(64)}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    const load = await phase(dir, 'saturation', { seconds, concurrency, rate: 0, firstSeq: 1 });
    const steady = { seconds: Math.max(5, seconds / 3), concurrency: 256, rate };
    const plain = await phase(dir, 'fixed-rate', { ...steady, firstSeq: 10_000_000 });
    const forward = await phase(
      dir,
      'forward',
      { ...steady, firstSeq: 20_000_000, command: 'Group.CallbackBeforeSendMsg' },
      app.url,
    );
    const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
    const perSec = load.acked / load.seconds;
    const storageShare = load.writeMs / 1000 / load.seconds;
    row(
      'receiver: sustained (saturation)',
      `${fmt(perSec, 0)} events/s over ${fmt(load.seconds, 0)} s, ${concurrency} in flight; ack p50 ${fmt(load.p50)} ms, p99 ${fmt(load.p99)} ms`,
      `(target >= 2,000/s, p99 <= 100 ms; ${load.failed} failed; uptime: ${uptime})`,
    );
    row(
      'receiver: storage share',
      `${fmt(load.writeMs / Math.max(1, load.objects))} ms per object written (gzip + put), ${fmt(load.acked / Math.max(1, load.objects))} events per object, writes busy ${fmt(storageShare * 100, 0)}% of the time`,
      '(local folder; the rest of the ack is HTTP, JSON, auth and the 10 ms group commit window)',
    );
    row(
      `receiver: at ${fmt(rate, 0)}/s`,
      `ack p50 ${fmt(plain.p50)} ms, p99 ${fmt(plain.p99)} ms; forward mode p50 ${fmt(forward.p50)} ms, p99 ${fmt(forward.p99)} ms`,
      `(forward mode, Group.CallbackBeforeSendMsg, adds p50 ${fmt(forward.p50 - plain.p50)} ms, p99 ${fmt(forward.p99 - plain.p99)} ms; target <= 50 ms at p99; ${forward.failed} failed)`,
    );
    row(
      'receiver: peak RSS and lost events',
      `peak RSS ${fmt(load.rssMb, 0)} MB (saturation), ${fmt(forward.rssMb, 0)} MB (forward); lost ${load.lost + plain.lost + forward.lost} of ${load.acked + plain.acked + forward.acked} acked`,
      '(target 0 lost)',
    );
  } finally {
    app.server.closeAllConnections();
    app.server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--load' && process.argv[3] !== undefined) {
  const result = await generateLoad(JSON.parse(process.argv[3]) as LoadSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
