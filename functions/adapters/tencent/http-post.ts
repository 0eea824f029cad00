/**
 * One JSON POST over node:http / node:https with keep-alive connections, for the Tencent client.
 *
 * Why not `fetch`: on Node 20 each `fetch` builds WHATWG streams, Headers and signals around the
 * exchange; at 200 pages a second that was a fifth of the archiver's main-thread CPU (measured with
 * `--cpu-prof` on the benchmark's realistic app), and a busy main thread is what keeps a run from
 * the API's rate. The platform's own client does the same exchange for a fraction of the cost; no
 * protocol code is written here, only the plumbing of one request and its answer.
 */
import { Agent as HttpAgent, request as httpRequest, STATUS_CODES } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** What the client needs of an answer. */
export interface PostAnswer {
  status: number;
  statusText: string;
  /**
   * Ms from the request's start to its answer's head, timed in the socket's own callback: the
   * closest this process gets to the network's round trip. Timed after the body and the promise
   * chain instead, it also holds however long this process's event loop was busy (parsing other
   * pages, gzip, GC), which is no arrival jitter but would widen the pacer's margin.
   */
  rttMs: number;
  /** The `Date` header, if any. */
  date: string | null;
  text: string;
}

/** Keep-alive connection pools, one per protocol, owned by one client. */
export class HttpPoster {
  private readonly http = new HttpAgent({ keepAlive: true });
  private readonly https = new HttpsAgent({ keepAlive: true });

  /**
   * POST `body` (JSON text) to `url` and read the whole answer as UTF-8.
   *
   * @throws the error of the request (network failure, or the signal's abort) unchanged; the caller
   *   classifies it.
   */
  public post(url: string, body: string, signal: AbortSignal): Promise<PostAnswer> {
    const secure = url.startsWith('https:');
    const send = secure ? httpsRequest : httpRequest;
    const payload = Buffer.from(body, 'utf8');
    return new Promise<PostAnswer>((resolve, reject) => {
      const startedMs = performance.now();
      const req = send(
        url,
        {
          method: 'POST',
          agent: secure ? this.https : this.http,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
          signal,
        },
        (res) => {
          const rttMs = performance.now() - startedMs;
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('aborted', () => reject(new Error('the answer was cut off')));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const date = res.headers.date;
            resolve({
              rttMs,
              status,
              statusText: res.statusMessage || STATUS_CODES[status] || '',
              date: typeof date === 'string' ? date : null,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Close idle connections (the process can then exit without waiting for them). */
  public close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
