/**
 * Runs `SELECT * FROM <view> LIMIT 1` on each view through the query-runner port (the Athena
 * runner in the stack's workgroup), so each view's SQL, the tables under it, the workgroup's
 * result location and every permission on the way are exercised on the real archive.
 */
import { type CheckResult, viewProbeSql } from '../../../domain/deploy-check.ts';
import type { QueryRunner } from '../../../query/port.ts';

const VIEW_FIX =
  'read the reason above: a missing permission (docs/deploy.md lists what verify-deploy needs), a view Athena calls stale (deploy the stack again), or a malformed line in the archive (docs/operations.md, "A query fails on a malformed line")';

export async function checkViews(
  runner: QueryRunner,
  database: string,
  views: readonly string[],
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const view of views) {
    const check = `view ${view}`;
    try {
      const { rows } = await runner.run(viewProbeSql(database, view));
      let count = 0;
      for await (const _ of rows) count++;
      const empty = count === 0 ? ' (no row yet: the archive is empty or not yet archived)' : '';
      results.push({
        check,
        pass: true,
        detail: `SELECT * … LIMIT 1 ran, ${count} row${count === 1 ? '' : 's'}${empty}`,
      });
    } catch (error) {
      const detail = `${(error as Error).name}: ${(error as Error).message}`;
      results.push({ check, pass: false, detail, fix: VIEW_FIX });
    }
  }
  return results;
}
