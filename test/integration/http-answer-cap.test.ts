/**
 * The size cap on REST answers (issue 21: one 300 MB answer took the process to 1.66 GB), over real
 * HTTP against a loopback server: the answer is counted as it streams in and cut off past the cap,
 * a Content-Length above the cap is refused before the body, and the client gives up on that call
 * at once (shrink-request: a history page then asks for fewer messages) instead of retrying it.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AnswerTooLargeError } from '../../functions/adapters/errors.ts';
import { TencentClient } from '../../functions/adapters/tencent/client.ts';
import { HttpPoster } from '../../functions/adapters/tencent/http-post.ts';
import { userSigFromKey } from '../../functions/adapters/tencent/user-sig.ts';
import { GiveUpError } from '../../functions/domain/errors.ts';
import { rejection } from '../helpers/assertions.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { captureLogger, seededRandom } from '../helpers/tencent.ts';

const MiB = 1024 * 1024;

/** What the server saw of one answer. */
interface Sent {
  bytes: number;
  /** The whole answer was written. */
  finished: boolean;
  /** The connection closed (the client hung up, or the answer ended). */
  closed: boolean;
}

let server: Server;
let origin: string;
let answer: (res: ServerResponse, sent: Sent) => void;
const answers: Sent[] = [];

/** Writes `total` bytes of JSON-looking text in 64 KiB pieces, waiting for each to drain. */
function stream(total: number, headers: Record<string, number | string> = {}) {
  return (res: ServerResponse, sent: Sent) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    const piece = Buffer.alloc(64 * 1024, 0x20);
    const next = () => {
      while (sent.bytes < total && !res.destroyed) {
        const size = Math.min(piece.length, total - sent.bytes);
        sent.bytes += size;
        if (!res.write(piece.subarray(0, size))) {
          res.once('drain', next);
          return;
        }
      }
      if (sent.bytes >= total) {
        sent.finished = true;
        res.end();
      }
    };
    next();
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const sent: Sent = { bytes: 0, finished: false, closed: false };
    answers.push(sent);
    res.on('close', () => {
      sent.closed = true;
    });
    req.resume();
    req.on('end', () => answer(res, sent));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  answers.length = 0;
});

const post = (poster: HttpPoster) => poster.post(`${origin}/v4/x`, '{}', AbortSignal.timeout(30_000));

describe('REST answer size cap', () => {
  it('cuts off an answer past the cap while it streams: 20 MiB against a 1 MiB cap', async () => {
    // Prepare
    answer = stream(20 * MiB);

    // Act
    const error = await rejection(post(new HttpPoster({ maxAnswerBytes: MiB })));

    // Assess
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect((error as Error).message).toBe(
      'the answer is larger than the cap of 1048576 bytes (more than that arrived)',
    );
    await expect.poll(() => answers[0]?.closed).toBe(true);
    expect(answers[0]?.finished).toBe(false);
    expect(answers[0]?.bytes).toBeLessThan(20 * MiB);
  });

  it('refuses a Content-Length above the cap before reading the body', async () => {
    // Prepare: the declared length, then one piece, then nothing more until the client hangs up.
    answer = (res, sent) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 20 * MiB });
      sent.bytes = 1024;
      res.write(Buffer.alloc(1024, 0x20));
    };

    // Act
    const error = await rejection(post(new HttpPoster({ maxAnswerBytes: MiB })));

    // Assess
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect((error as Error).message).toMatch(/cap of 1048576 bytes \(Content-Length 20971520\)/);
    await expect.poll(() => answers[0]?.closed).toBe(true);
  });

  it('reads an answer up to the cap whole', async () => {
    answer = stream(MiB);
    const read = await post(new HttpPoster({ maxAnswerBytes: MiB }));
    expect([read.status, read.text.length]).toEqual([200, MiB]);
  });

  it('gives up on a history call with shrink-request after one attempt, never retrying the same answer', async () => {
    // Prepare: the client's default cap (8 MiB) against a 20 MiB answer.
    answer = stream(20 * MiB);
    const clock = new FakeClock(Date.now());
    const client = new TencentClient({
      sdkAppId: 1400000000,
      adminIdentifier: 'administrator',
      endpoint: origin,
      userSig: userSigFromKey({
        sdkAppId: 1400000000,
        key: 'k'.repeat(64),
        identifier: 'administrator',
        clock,
      }),
      clock,
      random: seededRandom(),
      logger: captureLogger().logger,
      requestTimeoutMs: 30_000,
    });

    // Act
    const error = await rejection(
      client.getHistory({ groupId: '@TGS#1', reqMsgNumber: 20, withRecalledMsg: true }),
    );

    // Assess
    expect(error).toBeInstanceOf(GiveUpError);
    expect(error).toMatchObject({ action: 'shrink-request', attempts: 1 });
    expect((error as Error).message).toMatch(/larger than the cap of 8388608 bytes/);
    expect(answers).toHaveLength(1);
    await expect.poll(() => answers[0]?.closed).toBe(true);
    expect(answers[0]?.finished).toBe(false);
  });
});
