/**
 * Ports: the interfaces through which the pure domain and the use cases reach the outside world.
 * Adapters implement them; the composition root wires them. Nothing here does I/O.
 */
import type { Readable } from 'node:stream';
import type { MediaRef } from './media-refs.ts';

/** Time, injected everywhere so tests never really wait. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type LogFields = Record<string, unknown>;

/** Structured logging. Adapters redact registered secrets from every line. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Source of uniform random numbers in [0, 1); injected for deterministic jitter in tests. */
export type Random = () => number;

/** A downloaded, verified media file waiting in temporary storage. */
export interface FetchedMedia {
  status: 'archived';
  sha256: string;
  bytes: number;
  contentType: string | null;
  /** Set when the file came through `get_cos_sig` (e.g. banned files). */
  reason: string | null;
  attempts: number;
  /** A fresh stream of the bytes. */
  open(): Readable;
  /** Remove the temporary copy. */
  dispose(): Promise<void>;
}

export type MediaFetchResult =
  | FetchedMedia
  | { status: 'expired' | 'refused' | 'failed'; reason: string; attempts: number };

/** Downloads and verifies media files (implemented by adapters/media). */
export interface MediaFetcher {
  /** @throws AbortedError when `signal` fires; nothing is left behind */
  download(ref: MediaRef, signal?: AbortSignal): Promise<MediaFetchResult>;
}
