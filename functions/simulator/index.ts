/**
 * A local fake of the Tencent Cloud Chat REST API (group history subset), for integration tests,
 * the benchmark and the demo. See `startSimulator`.
 */

export type { C2cConversationSpec, C2cDatasetSpec } from './c2c-world.ts';
export type { DatasetSpec, ExtraGroupSpec, GeneratedGroupKind } from './dataset.ts';
export { buildDataset, DEMO_DATASET, plansOf, seqTimeSec } from './dataset.ts';
export type { FaultSpec } from './faults.ts';
export type { ApiName, SimulatorApp } from './gateway.ts';
export { API_NAMES } from './gateway.ts';
export type { SimMember, SimRole } from './identities.ts';
export { HOSTILE_NAMES } from './identities.ts';
export type { MediaFate, SimMediaSpec } from './media-files.ts';
export type { MediaStats, MediaTruth } from './media-server.ts';
export type { ElementType, MessageFate, MessageStreamKey } from './messages.ts';
export { ELEMENT_TYPES, generateMessage, messageFate, streamKey } from './messages.ts';
export type {
  SimC2cControl,
  SimHistoryFilesControl,
  SimIdentityControl,
  Simulator,
  SimulatorOptions,
} from './server.ts';
export { DEMO_APP, startSimulator } from './server.ts';
export type { ApiStats, SimulatorStats } from './stats.ts';
export type {
  MessageMutation,
  PlaceholderReading,
  SimGroupSummary,
  SimTopicSummary,
} from './world.ts';
export { PLACEHOLDER_READINGS } from './world.ts';
