/** The base URL requests go to: a region's domain (the table is in the domain layer) or an explicit endpoint. */
import { TENCENT_REGIONS, type TencentRegion } from '../../domain/tencent-regions.ts';

export interface EndpointChoice {
  region?: TencentRegion | undefined;
  /** Full base URL (scheme + host [+ port] [+ path prefix]); wins over `region`. For tests, proxies, private deployments. */
  endpoint?: string | undefined;
  /** Use the backup domain ("when DNS is hijacked by the carrier"). */
  useBackupDomain?: boolean | undefined;
}

/** The base URL requests go to, without a trailing slash. */
export function baseUrlFor(choice: EndpointChoice): string {
  if (choice.endpoint !== undefined) return choice.endpoint.replace(/\/+$/, '');
  if (choice.region === undefined) throw new RangeError('either region or endpoint is required');
  const domains = TENCENT_REGIONS[choice.region];
  const host = choice.useBackupDomain ? domains.backup : domains.primary;
  if (host === undefined) throw new RangeError(`region ${choice.region} has no documented backup domain`);
  return `https://${host}`;
}
