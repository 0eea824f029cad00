/**
 * @middy/ssm with a cache that expires without background timers.
 *
 * @middy/ssm's own `cacheExpiry` re-fetches on a `setTimeout` in the background; a background fetch
 * that fails (throttling, a revoked permission) leaves a rejected promise nobody awaits, and an
 * unhandled rejection ends the Lambda process mid-run. So the cache here never expires by itself
 * (`cacheExpiry: -1`, no timer); instead, once `maxAgeMs` has passed, the next invocation gets a
 * fresh middleware instance under a new cache key, which fetches in the foreground, where its
 * errors are handled. A rotated secret therefore takes effect within `maxAgeMs`.
 */
import ssm from '@middy/ssm';

type SsmMiddleware = ReturnType<typeof ssm>;
type Before = NonNullable<SsmMiddleware['before']>;

export interface CachedSsmOptions {
  /** Middy's internal key → SSM parameter name. */
  fetchData: Record<string, string>;
  /** Reuse fetched values for this long; 0 fetches on every invocation. */
  maxAgeMs: number;
  now?: () => number;
}

let generation = 0;

/** A `before` middleware: @middy/ssm, swapped for a fresh instance when its values are too old. */
export function cachedSsm(options: CachedSsmOptions): { before: Before } {
  const now = options.now ?? Date.now;
  let current: { createdAt: number; before: Before } | undefined;
  return {
    before: (request) => {
      if (current === undefined || now() - current.createdAt >= options.maxAgeMs) {
        const middleware = ssm({
          fetchData: options.fetchData,
          cacheKey: `tencent-chat-archiver-ssm-${++generation}`,
          cacheExpiry: -1,
          // Fetch in the first invocation, not at import: init makes no network call.
          disablePrefetch: true,
        });
        current = { createdAt: now(), before: middleware.before as Before };
      }
      return current.before(request);
    },
  };
}
