/**
 * Tiny deterministic hashing and PRNG helpers for the simulator's synthetic data.
 *
 * Everything the simulator invents (group ids, message bodies, which seqs are deleted or
 * recalled, latency jitter) is derived from these functions so that the same seed always
 * produces the same world, and any single message can be recomputed in O(1) without keeping
 * state. They are not cryptographic and must never be used for secrets.
 */

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit integer. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the whole 32-bit output. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Combines integers into one well-mixed unsigned 32-bit hash. Order matters, so
 * `mix(seed, key, seq, salt)` and `mix(seed, key, salt, seq)` differ.
 */
export function mix(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // Fold in both halves so integers above 2^32 (e.g. epoch ms) still influence the result.
    h = fmix32((h ^ (part >>> 0)) + Math.imul(0x27d4eb2d, Math.floor(part / 0x1_0000_0000) | 0));
  }
  return h;
}

/** Maps a 32-bit hash to a float in [0, 1). */
export function unit(hash: number): number {
  return (hash >>> 0) / 0x1_0000_0000;
}

/** A seeded generator of uniform floats in [0, 1) (mulberry32). */
export type Prng = () => number;

/** Creates a mulberry32 generator; the same seed always yields the same sequence. */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** Integer uniformly drawn from [min, max] (both inclusive). */
export function intBetween(random: Prng, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One element of `items`, uniformly. `items` must not be empty. */
export function pick<T>(random: Prng, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new RangeError('pick() needs a non-empty list');
  return item;
}

/** Lower-case hex string of `length` characters drawn from `random`. */
export function hexString(random: Prng, length: number): string {
  let out = '';
  while (out.length < length)
    out += Math.floor(random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, length);
}
