/**
 * Runs `SELECT * FROM <view> WHERE dt >= <since> LIMIT 1` on each view through the query-runner
 * port (the Athena runner in the stack's workgroup), so each view's SQL, the tables under it, the
 * workgroup's result location and every permission on the way are exercised on the real archive
 * (its recent days: functions/domain/deploy-check.ts says why the bound).
 */
import { type CheckResult, viewProbeSql } from '../../../domain/deploy-check.ts';
import type { QueryRunner } from '../../../query/port.ts';

const VIEW_FIX =
  'read the reason above: a missing permission (docs/deploy.md lists what verify-deploy needs), a view Athena calls stale (deploy the stack again), or a malformed line in the archive (docs/operations.md, "A query fails on a malformed line")';

export interface ViewCheckOptions {
  readonly database: string;
  readonly views: readonly string[];
  /** The oldest `dt` read, `YYYY-MM-DD`. */
  readonly sinceDt: string;
}

export async function checkViews(runner: QueryRunner, options: ViewCheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const view of options.views) {
    const check = `view ${view}`;
    try {
      const { rows } = await runner.run(viewProbeSql(options.database, view, options.sinceDt));
      let count = 0;
      for await (const _ of rows) count++;
      const empty = count === 0 ? ' (no row since then: nothing archived yet, or no recent messages)' : '';
      const ran = `SELECT * … WHERE dt >= '${options.sinceDt}' LIMIT 1 ran, ${count} row${count === 1 ? '' : 's'}`;
      results.push({ check, pass: true, detail: `${ran}${empty}` });
    } catch (error) {
      const detail = `${(error as Error).name}: ${(error as Error).message}`;
      results.push({ check, pass: false, detail, fix: VIEW_FIX });
    }
  }
  return results;
}
