/**
 * The source of the transport thread {@link HttpPoster} runs its exchanges on: plain JavaScript,
 * started with `new Worker(source, { eval: true })`, so it needs no file of its own next to the
 * bundled Lambda code and no TypeScript loader in the thread (tsx, vitest and esbuild all differ
 * there). It only moves bytes and times them; everything that decides (retries, pacing, parsing)
 * stays on the main thread and is typed there.
 *
 * Messages in:  { type: 'post', id, url, body, maxBytes } | { type: 'abort', id }
 * Messages out: { id, ok: true, rttMs, startedAtMs, status, statusText, date, text }
 *   (startedAtMs: performance.timeOrigin + performance.now() when the request was handed to the OS)
 *             | { id, ok: false, error: { name, message, code } }
 *
 * The error carries the platform's name, message and code only: never the URL, whose query holds
 * the UserSig.
 *
 * An answer longer than `maxBytes` (a Content-Length above it, or bytes counted as they arrive) is
 * cut off: the request is destroyed, so the rest is never read, and the error's code is
 * `EANSWERTOOLARGE` (issue 21: one 300 MB answer took the process to 1.66 GB).
 */
// biome-ignore lint/complexity/noUselessStringRaw: the thread's source is kept verbatim, so a backslash written in it later (a '\n', a regex) reaches the thread as written.
export const HTTP_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const https = require('node:https');
const { performance } = require('node:perf_hooks');

const agents = {
  http: new http.Agent({ keepAlive: true }),
  https: new https.Agent({ keepAlive: true }),
};
const live = new Map();

function tooLarge(id, req, maxBytes, what) {
  const error = new Error('the answer is larger than the cap of ' + maxBytes + ' bytes (' + what + ')');
  error.name = 'AnswerTooLargeError';
  error.code = 'EANSWERTOOLARGE';
  fail(id, error);
  req.destroy();
}

function fail(id, error) {
  if (!live.delete(id)) return;
  const e = error instanceof Error ? error : new Error(String(error));
  parentPort.postMessage({
    id,
    ok: false,
    error: { name: e.name, message: e.message, code: typeof e.code === 'string' ? e.code : undefined },
  });
}

parentPort.on('message', (m) => {
  if (m.type === 'abort') {
    const req = live.get(m.id);
    live.delete(m.id);
    if (req) req.destroy();
    return;
  }
  const id = m.id;
  const maxBytes = m.maxBytes;
  const secure = m.url.startsWith('https:');
  const payload = Buffer.from(m.body, 'utf8');
  const started = performance.now();
  // When the request's bytes were handed to the OS (after the connection was set up, if new).
  let flushed;
  let req;
  try {
    req = (secure ? https : http).request(
      m.url,
      {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) => {
        // From when the bytes left, so a new connection's setup is not read as network jitter
        // (the pacer hears of it as a late send instead).
        const rttMs = performance.now() - (flushed ?? started);
        res.on('error', (error) => fail(id, error));
        res.on('aborted', () => fail(id, new Error('the answer was cut off')));
        const length = Number(res.headers['content-length']);
        if (length > maxBytes) {
          tooLarge(id, req, maxBytes, 'Content-Length ' + length);
          return;
        }
        const chunks = [];
        let received = 0;
        res.on('data', (chunk) => {
          if (!live.has(id)) return;
          received += chunk.length;
          if (received > maxBytes) tooLarge(id, req, maxBytes, 'more than that arrived');
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (!live.delete(id)) return;
          const status = res.statusCode || 0;
          const date = res.headers.date;
          parentPort.postMessage({
            id,
            ok: true,
            rttMs,
            startedAtMs: performance.timeOrigin + (flushed ?? started),
            status,
            statusText: res.statusMessage || http.STATUS_CODES[status] || '',
            date: typeof date === 'string' ? date : null,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
  } catch (error) {
    live.set(id, undefined);
    fail(id, error);
    return;
  }
  live.set(id, req);
  req.on('finish', () => {
    flushed = performance.now();
  });
  req.on('error', (error) => fail(id, error));
  req.end(payload);
});
`;
