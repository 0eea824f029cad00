/**
 * Which media URLs may be fetched. Media URLs come from message content, which users control, so
 * a URL is fetched only when its host matches `media.allowedHosts`, over HTTPS unless the rule
 * allows HTTP, and (checked again at connect time, see downloader.ts) only when the host resolves
 * to public addresses, unless the rule allows private ones (the simulator, tests).
 */
import { BlockList, isIP } from 'node:net';
import { HOST_PATTERN } from '../../domain/media-hosts.ts';

/** One `media.allowedHosts` entry, normalised. */
export interface AllowedHostRule {
  /** Lower-case labels; `*` inside a label matches any run of letters, digits and hyphens. */
  readonly labels: readonly string[];
  /** Only this port; undefined = the scheme's default port only. */
  readonly port: number | undefined;
  readonly allowHttp: boolean;
  readonly allowPrivateAddresses: boolean;
  /** The entry as configured, for messages. */
  readonly text: string;
}

export type AllowedHostEntry =
  | string
  | { host: string; allowHttp?: boolean | undefined; allowPrivateAddresses?: boolean | undefined };

export function parseAllowedHosts(entries: readonly AllowedHostEntry[]): AllowedHostRule[] {
  return entries.map((entry) => {
    const spec = typeof entry === 'string' ? { host: entry } : entry;
    const text = spec.host.trim().toLowerCase();
    if (!HOST_PATTERN.test(text)) throw new RangeError(`not a host pattern: ${spec.host}`);
    const [host = '', port] = text.split(':');
    return {
      labels: host.split('.'),
      port: port === undefined ? undefined : Number(port),
      allowHttp: spec.allowHttp ?? false,
      allowPrivateAddresses: spec.allowPrivateAddresses ?? false,
      text,
    };
  });
}

function labelMatches(pattern: string, label: string): boolean {
  if (!pattern.includes('*')) return pattern === label;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('[a-z0-9-]*')}$`);
  return regex.test(label);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type UrlVerdict = { ok: true; url: URL; rule: AllowedHostRule } | { ok: false; reason: string };

/**
 * Whether `raw` may be fetched: an absolute http(s) URL without credentials, whose host and port
 * match a rule, over HTTPS unless that rule allows HTTP. Reasons name the host, never the query
 * (a pre-signed URL's query is a credential).
 */
export function checkMediaUrl(rules: readonly AllowedHostRule[], raw: string): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: `scheme ${url.protocol.replace(':', '')} is not allowed (HTTPS only)` };
  }
  if (url.username !== '' || url.password !== '')
    return { ok: false, reason: 'URLs with credentials are not allowed' };
  const hostname = url.hostname.toLowerCase();
  if (hostname.startsWith('['))
    return { ok: false, reason: `host ${hostname} is not allowed (IPv6 literal)` };
  const labels = hostname.split('.');
  const port = url.port === '' ? undefined : Number(url.port);
  const rule = rules.find(
    (r) =>
      r.labels.length === labels.length &&
      r.labels.every((p, i) => labelMatches(p, labels[i] ?? '')) &&
      r.port === port,
  );
  if (rule === undefined) return { ok: false, reason: `host ${url.host} is not in media.allowedHosts` };
  if (url.protocol === 'http:' && !rule.allowHttp) {
    return { ok: false, reason: `plain HTTP to ${url.host} is not allowed (HTTPS only unless allowHttp)` };
  }
  return { ok: true, url, rule };
}

const BLOCKED = new BlockList();
const RANGES_V4: readonly [string, number, string][] = [
  ['0.0.0.0', 8, '"this network"'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (carrier-grade NAT; also cloud metadata)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignment'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const RANGES_V6: readonly [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'unique local (private; also cloud metadata)'],
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
  ['2001:db8::', 32, 'documentation'],
];
for (const [net, prefix] of RANGES_V4) BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of RANGES_V6) BLOCKED.addSubnet(net, prefix, 'ipv6');

/**
 * Why `address` must not be fetched from (private, loopback, link-local, metadata, …), or
 * undefined for a public address. IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4.
 */
export function blockedAddressReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1] !== undefined) return blockedAddressReason(mapped[1]);
    const hexMapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
    if (hexMapped?.[1] !== undefined && hexMapped[2] !== undefined) {
      const hi = Number.parseInt(hexMapped[1], 16);
      const lo = Number.parseInt(hexMapped[2], 16);
      return blockedAddressReason(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (!BLOCKED.check(address, type)) return undefined;
  const ranges = family === 4 ? RANGES_V4 : RANGES_V6;
  for (const [net, prefix, reason] of ranges) {
    const one = new BlockList();
    one.addSubnet(net, prefix, type);
    if (one.check(address, type)) return reason;
  }
  return 'reserved';
}
