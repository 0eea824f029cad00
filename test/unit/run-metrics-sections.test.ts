/**
 * The archiver Lambda's metrics for the run report's sections (functions/lambda/run-metrics.ts):
 * the identity capture's (issue 24), the one-to-one pass's (issue 26) and the callback
 * materialization's (issue 25), each only when the run has the section, summed over kinds and
 * APIs as docs/operations.md describes them.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { emptyCounts } from '../../functions/domain/callback-materialize.ts';
import { emptyC2cReport } from '../../functions/engine/c2c-report.ts';
import type { IdentityReport } from '../../functions/engine/identity-capture.ts';
import { emptyReport } from '../../functions/engine/report.ts';
import type { StoredRunReport } from '../../functions/engine/report-format.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/lambda/contract.ts';
import { type MetricsSink, recordRunMetrics } from '../../functions/lambda/run-metrics.ts';

const NOW = Date.UTC(2026, 11, 7);

function recorded(report: StoredRunReport): Map<string, number> {
  const metrics = new Map<string, number>();
  const sink: MetricsSink = {
    addDimensions: () => undefined,
    addMetric: (name, unit, value) => {
      expect(unit).toBe(
        name === 'LagSeconds'
          ? 'Seconds'
          : name === 'RetentionHeadroomDays' || name === 'CallbackLossRatePercent'
            ? 'None'
            : 'Count',
      );
      expect(metrics.has(name), name).toBe(false);
      metrics.set(name, value);
    },
  };
  recordRunMetrics(sink, report, 7, NOW);
  return metrics;
}

const IDENTITIES: IdentityReport = {
  calls: { groupInfo: 2, profiles: 3, members: 5 },
  duringPaging: 4,
  budget: 40,
  otherCalls: 800,
  groupsFromPlanning: 1,
  rollCall: 1,
  rows: { users: 4, groups: 1, members: 6 },
  firstRows: 7,
  pending: { users: 100, groups: 0, members: 20 },
  dropped: 0,
  failedCalls: 2,
  rolledForward: false,
  elapsedMs: 800,
};

describe('run metrics of the report sections', () => {
  it('records the identity calls, rows, pending items and failed calls, summed over APIs and kinds', () => {
    const metrics = recorded({ ...emptyReport('r', 1400000000, NOW), identities: IDENTITIES });
    expect([...metrics].filter(([name]) => name.startsWith('Identity'))).toEqual([
      ['IdentityCalls', 10],
      ['IdentityRows', 11],
      ['IdentityPending', 120],
      ['IdentityFailedCalls', 2],
    ]);
  });

  it('records the one-to-one pairs pulled and skipped, messages and duplicates', () => {
    const c2c = { ...emptyC2cReport(), pairsPulled: 3, pairsSkipped: 1, messages: 290, duplicates: 6 };
    const metrics = recorded({ ...emptyReport('r', 1400000000, NOW), messages: 40, c2c });
    expect([...metrics].filter(([name]) => name.startsWith('C2c'))).toEqual([
      ['C2cPairsPulled', 3],
      ['C2cPairsSkipped', 1],
      ['C2cMessagesArchived', 290],
      ['C2cDuplicatesDropped', 6],
    ]);
    // The group messages stay their own metric: the alarm over both adds them up.
    expect(metrics.get('MessagesArchived')).toBe(40);
  });

  it('records the callback events materialized, the messages they gave and the bodies replayed', () => {
    const callbacks = {
      ...emptyCounts(),
      events: 40,
      messages: 25,
      replayed: 2,
      objects: 3,
      objectsLeft: 0,
      unreadableLines: 0,
      commits: 1,
      rolledForward: false,
      elapsedMs: 10,
    };
    const metrics = recorded({ ...emptyReport('r', 1400000000, NOW), callbacks });
    expect([...metrics].filter(([name]) => name.startsWith('Callback'))).toEqual([
      ['CallbackEventsMaterialized', 40],
      ['CallbackMessagesMaterialized', 25],
      ['CallbackBodiesReplayed', 2],
    ]);
  });

  it("records the reconciliation's counts and loss rate when the run reconciled", () => {
    const reconciliation = {
      bothEqual: 95,
      callbackOnly: 3,
      different: 1,
      pullPlaceholder: 2,
      pullOnly: 4,
      lossRate: 0.04,
      groups: [],
      groupsNotListed: 0,
    };
    const callbacks = {
      ...emptyCounts(),
      objects: 0,
      objectsLeft: 0,
      unreadableLines: 0,
      commits: 0,
      rolledForward: false,
      elapsedMs: 0,
      reconciliation,
    };
    const metrics = recorded({ ...emptyReport('r', 1400000000, NOW), callbacks });
    expect(
      [...metrics].filter(([name]) =>
        /^(CallbackMessages(BothEqual|Different|Matched)|CallbackOnly|PullOnly|CallbackLoss)/.test(name),
      ),
    ).toEqual([
      ['CallbackMessagesBothEqual', 95],
      ['CallbackOnlyMessages', 3],
      ['CallbackMessagesDifferent', 1],
      ['PullOnlyMessages', 4],
      // Matched: equal, different and placeholders, the denominator of the loss rate with pull-only.
      ['CallbackMessagesMatched', 98],
      ['CallbackLossRatePercent', 4],
    ]);
    const nothingPulled = { ...callbacks, reconciliation: { ...reconciliation, lossRate: null } };
    const quiet = recorded({ ...emptyReport('r', 1400000000, NOW), callbacks: nothingPulled });
    expect(quiet.has('CallbackLossRatePercent')).toBe(false);
    expect(quiet.get('PullOnlyMessages')).toBe(4);
  });

  it('records none of them when the run has no such section', () => {
    const names = [...recorded(emptyReport('r', 1400000000, NOW)).keys()];
    expect(names.filter((n) => /^(Identity|C2c|Callback)/.test(n))).toEqual([]);
    expect(names).toContain('MessagesArchived');
  });
});

describe('run metrics through Powertools', () => {
  it('are published with the service and SdkAppId dimensions, which the per-app alarms watch (infra/constructs/callback-receiver.ts)', () => {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
    const c2c = { ...emptyC2cReport(), messages: 7 };
    recordRunMetrics(metrics, { ...emptyReport('r', 1400000000, NOW), messages: 40, c2c }, 7, NOW);
    const emf = metrics.serializeMetrics();
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive?.Namespace).toBe('TencentChatArchiver');
    expect(directive?.Dimensions).toEqual([['service', 'SdkAppId']]);
    expect(emf).toMatchObject({
      service: 'tencent-chat-archiver',
      SdkAppId: '1400000000',
      MessagesArchived: 40,
      C2cMessagesArchived: 7,
    });
  });
});
