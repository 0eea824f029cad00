/**
 * Tencent Cloud Chat REST domains per data center (docs/tencent-api.md, Regional domains). Sources disagree
 * on which regions exist (Tokyo vs Mumbai vs Riyadh), so all documented ones are accepted.
 */
export const TENCENT_REGIONS = {
  china: { primary: 'console.tim.qq.com', backup: 'adminapi.my-imcloud.com' },
  singapore: { primary: 'adminapisgp.im.qcloud.com', backup: 'adminapisgp.my-imcloud.com' },
  seoul: { primary: 'adminapikr.im.qcloud.com', backup: 'adminapikr.my-imcloud.com' },
  tokyo: { primary: 'adminapijpn.im.qcloud.com', backup: 'adminapijpn.my-imcloud.com' },
  frankfurt: { primary: 'adminapiger.im.qcloud.com', backup: 'adminapiger.my-imcloud.com' },
  mumbai: { primary: 'adminapiind.im.qcloud.com', backup: 'adminapiind.my-imcloud.com' },
  'silicon-valley': { primary: 'adminapiusa.im.qcloud.com', backup: 'adminapiusa.my-imcloud.com' },
  jakarta: { primary: 'adminapiidn.im.qcloud.com', backup: 'adminapiidn.my-imcloud.com' },
  // Only one trtc.io page lists Riyadh, and it names no backup domain.
  riyadh: { primary: 'adminapiksa.im.qcloud.com', backup: undefined },
} as const satisfies Record<string, { primary: string; backup: string | undefined }>;

export type TencentRegion = keyof typeof TENCENT_REGIONS;
export const TENCENT_REGION_NAMES = Object.keys(TENCENT_REGIONS) as [TencentRegion, ...TencentRegion[]];
