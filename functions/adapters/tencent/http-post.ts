/**
 * One JSON POST with keep-alive connections, for the Tencent client, exchanged on a transport
 * thread of its own.
 *
 * Why a thread: the pacer's margin for arrival jitter comes from the spread of round-trip times,
 * and timed on the main thread a round trip also holds however long that thread was busy before it
 * could read the answer (parsing other pages, gzip, GC). On the benchmark's realistic app that lag
 * was most of the spread: 120 ms from the 5th to the 95th percentile, where the network's own was
 * 40–50 ms. A thread that only moves bytes reads each answer when it comes, so its times are the
 * network's, and a request goes out when the pacer lets it, whatever the main thread does next.
 *
 * Why not `fetch`: on Node 20 each `fetch` builds WHATWG streams, Headers and signals around the
 * exchange, a fifth of the archiver's main-thread CPU at 200 pages a second. The platform's own
 * client does the same exchange for a fraction of the cost; no protocol code is written here, only
 * the plumbing of one request and its answer.
 */
import { Worker } from 'node:worker_threads';
import { AnswerTooLargeError } from '../errors.ts';
import { HTTP_WORKER_SOURCE } from './http-worker-source.ts';

/** What the client needs of an answer. */
export interface PostAnswer {
  status: number;
  statusText: string;
  /**
   * Ms from when the request left (see `startedAtMs`) to its answer's head, timed on the transport
   * thread: the network's round trip (and the server's time), not how long the main thread took
   * to look.
   */
  rttMs: number;
  /**
   * When the request left: handed to the OS by the transport thread (after connecting, on a new
   * connection), as `performance.timeOrigin + performance.now()` there, an epoch in ms that every
   * thread of the process shares.
   */
  startedAtMs: number;
  /** The `Date` header, if any. */
  date: string | null;
  text: string;
}

type WorkerReply =
  | ({ id: number; ok: true } & PostAnswer)
  | { id: number; ok: false; error: { name: string; message: string; code?: string } };

/**
 * Largest answer read: 8 MiB. A history page is at most 20 messages (`MAX_PAGE_SIZE` in client.ts)
 * of at most 12 KB each, a group list page 10,000 ids: a few hundred KB either way. Not more,
 * because the transport thread's heap is 16 MB (below) and the answer becomes one string there: a
 * 12 MiB answer already ran it out of memory (ERR_WORKER_OUT_OF_MEMORY).
 */
export const DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

interface Pending {
  resolve(answer: PostAnswer): void;
  reject(error: unknown): void;
}

/**
 * The process's one transport thread, shared by every client (a thread per client would pile up in
 * a long test run: threads are not collected). It keeps the process alive only while an exchange
 * is in flight.
 */
class TransportThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  public post(url: string, body: string, maxBytes: number, signal: AbortSignal): Promise<PostAnswer> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<PostAnswer>((resolve, reject) => {
      const onAbort = () => {
        if (!this.settle(id)) return;
        worker.postMessage({ type: 'abort', id });
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ type: 'post', id, url, body, maxBytes });
    });
  }

  /** Forget `id`; true if it was still waiting. */
  private settle(id: number): boolean {
    const had = this.pending.delete(id);
    if (had && this.pending.size === 0) this.worker?.unref();
    return had;
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    // A small heap of its own: it holds a page or two at a time. Without limits the thread would
    // size its young generation after the main thread's flags (16 MB semi-spaces for the CLI):
    // 50 MB more RSS for nothing.
    const worker = new Worker(HTTP_WORKER_SOURCE, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (waiting === undefined || !this.settle(reply.id)) return;
      if (reply.ok) {
        const { id: _id, ok: _ok, ...answer } = reply;
        waiting.resolve(answer);
      } else if (reply.error.code === 'EANSWERTOOLARGE') {
        waiting.reject(new AnswerTooLargeError(reply.error.message));
      } else {
        const error = Object.assign(new Error(reply.error.message), { name: reply.error.name });
        if (reply.error.code !== undefined) Object.assign(error, { code: reply.error.code });
        waiting.reject(error);
      }
    });
    // The thread itself failed (it should not): fail what waits, start a new one on the next call.
    const lost = (error: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const w of waiting) w.reject(error);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the HTTP transport thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), {
    name: 'AbortError',
    code: 'ABORT_ERR',
  });
}

const transport = new TransportThread();

/** The client's view of the transport: POST and read the whole answer as UTF-8, up to a cap. */
export class HttpPoster {
  private readonly maxAnswerBytes: number;

  /** @param options.maxAnswerBytes - largest answer read (default {@link DEFAULT_MAX_ANSWER_BYTES}) */
  public constructor(options: { maxAnswerBytes?: number } = {}) {
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  }

  /**
   * POST `body` (JSON text) to `url` and read the whole answer as UTF-8.
   *
   * @throws AnswerTooLargeError when the answer passes the cap (it is cut off, not read), the
   *   platform's error of the request (name, message and code: a network failure), or an
   *   AbortError when `signal` fires; the caller classifies it.
   */
  public post(url: string, body: string, signal: AbortSignal): Promise<PostAnswer> {
    return transport.post(url, body, this.maxAnswerBytes, signal);
  }
}
