/**
 * Tencent Cloud Chat's media hosts. Sources (docs/tencent-api.md, Sources: COSSIG, MEDIA-SAMPLES, FMT): the
 * server docs' sample URLs are COS path-style URLs on `cos.ap-shanghai.myqcloud.com` in buckets of Tencent's
 * own COS account 1256635546 (COSSIG https://cloud.tencent.com/document/product/269/74777, COSBAN
 * https://cloud.tencent.com/document/product/269/74775); a URL reported in the wild uses the virtual-host
 * form `<bucket>-1256635546.cos.ap-shanghai.myqcloud.com`
 * (https://github.com/TencentCloud/TIMSDK/issues/763); the message format docs point media at
 * `*.cos.ap-shanghai.myqcloud.com` (FMT). Regions other than ap-shanghai are unverified, so the region label
 * is a wildcard. Path-style URLs can name any bucket on that host: narrowing to Tencent's account there would
 * need a path rule; the virtual-host rule is narrowed.
 */
export const DEFAULT_MEDIA_HOSTS: readonly string[] = [
  'cos.*.myqcloud.com',
  '*-1256635546.cos.*.myqcloud.com',
];

/** Host pattern syntax: DNS labels or an IPv4 address, `*` wildcards inside labels, an optional port. */
export const HOST_PATTERN =
  /^([a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)(\.[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)*(:\d{1,5})?$/i;
