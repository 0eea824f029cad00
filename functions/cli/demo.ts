/**
 * `npm start`: the whole engine on the built-in simulator, archiving into a local folder.
 * Run 1 archives all retained history, groups and one-to-one conversations; then new messages
 * arrive (in groups and in one conversation, one of them recalled), a group is dissolved, and a
 * member and a group are renamed, and run 2 archives only what is new and records the new names;
 * the renamed member writes again and run 3 archives it. It ends with the renamed group's
 * transcript, names as of message time (docs/names.md), the conversation's transcript, and a
 * sample query over the archive (DuckDB).
 */
import { terminalSafeLines } from '../adapters/logging/terminal-safe.ts';
import { createSecretResolver } from '../adapters/secrets/resolve-secret.ts';
import { composeAppRun, openStore, type Runtime } from '../composition.ts';
import { parseConfig } from '../config/schema.ts';
import { formatReport } from '../engine/report-format.ts';
import { runArchive } from '../engine/run-archive.ts';
import { demoQueryHintForS3, runDemoQuery } from '../query/demo-query.ts';
import { DEFAULT_DATABASE, DEFAULT_WORKGROUP } from '../query/tables.ts';
import { startSimulator } from '../simulator/index.ts';
import { changeAConversation, changeLine, demoPairs, showConversation } from './demo-c2c.ts';
import { appendUntilSentBy, type DemoRename, renameASender, showNames } from './demo-names.ts';
import { EXIT } from './exit-codes.ts';
import { createProgressView } from './progress.ts';
import { isS3Archive, openArchiveRunner } from './query-runners.ts';
import { printTree } from './tree.ts';

const DEMO_KEY_VARIABLE = 'TCA_DEMO_SECRET_KEY';

export async function runDemo(runtime: Runtime, options: { out: string }): Promise<number> {
  const simulator = await startSimulator({ latencyMs: 5, jitterMs: 5 });
  // Group ids, error texts and keys in the reports come from a server: made safe for a terminal.
  const out = (line = '') => process.stdout.write(`${terminalSafeLines(line)}\n`);
  try {
    const app = simulator.apps[0];
    if (!app) throw new Error('the simulator has no app');
    out(`Simulator of the Tencent Chat REST API on ${simulator.url} (SDKAppID ${app.sdkAppId}).`);
    const config = parseConfig(
      {
        apps: [
          {
            sdkAppId: app.sdkAppId,
            endpoint: simulator.url,
            adminIdentifier: app.adminIdentifier,
            secretKey: { env: DEMO_KEY_VARIABLE },
            // The simulator's one-to-one conversations (docs/one-to-one.md): archived beside the groups.
            c2c: { pairs: demoPairs(simulator) },
          },
        ],
        archive: { out: options.out, timeZone: 'UTC' },
        // A small app: names may take half of a run's calls, so run 1 records every name it saw.
        identities: { maxCallShare: 0.5 },
        // The simulator's media listener is on loopback over HTTP: allowed explicitly, for it alone.
        ...(simulator.mediaUrl === undefined
          ? {}
          : {
              media: {
                allowedHosts: [
                  { host: new URL(simulator.mediaUrl).host, allowHttp: true, allowPrivateAddresses: true },
                ],
              },
            }),
      },
      'demo config',
    );
    // The demo's key is the simulator's made-up one; it is handed over in memory, not via the environment.
    const demoRuntime: Runtime = {
      ...runtime,
      resolveSecret: createSecretResolver({ [DEMO_KEY_VARIABLE]: app.secretKey }),
    };
    const store = await openStore(options.out);
    const runOnce = async (label: string) => {
      const view = createProgressView({
        tty: process.stderr.isTTY === true,
        write: (line) => process.stderr.write(`${line}\n`),
        label,
      });
      const { deps, options: runOptions } = await composeAppRun(config, 0, demoRuntime, {
        store,
        onProgress: (p) => view.update(p),
      });
      try {
        return await runArchive(deps, runOptions);
      } finally {
        view.stop();
      }
    };

    out('\nRun 1: everything the simulator retains.');
    const first = await runOnce('run 1');
    out(formatReport(first));

    const groups = simulator
      .groups()
      .filter((g) => !g.deleted && g.type !== 'AVChatRoom' && g.nextMsgSeq > 1);
    const [grow1, grow2, dissolve] = groups;
    if (grow1) simulator.appendMessages(grow1.groupId, 25);
    if (grow2) simulator.appendMessages(grow2.groupId, 7);
    if (dissolve) simulator.deleteGroup(dissolve.groupId);
    const rename = grow1 ? renameASender(simulator, app.sdkAppId, grow1.groupId) : undefined;
    const conversation = changeAConversation(simulator);
    out(
      `\nMeanwhile: 25 new messages in ${grow1?.groupId}, 7 in ${grow2?.groupId}, and ${dissolve?.groupId} was dissolved.`,
    );
    if (conversation) out(changeLine(conversation));
    if (rename) out(renameLine(rename));
    out('Run 2: only what is new; idle groups cost no history call.');
    const second = await runOnce('run 2');
    out(formatReport(second));
    let third = second;
    if (rename) {
      const count = appendUntilSentBy(simulator, rename.groupId, rename.account);
      out(
        `\nLater: ${count} new message${count === 1 ? '' : 's'} in ${rename.groupId}, the last one by ${rename.account}.`,
      );
      out('Run 3: the new messages, under the name run 2 recorded.');
      third = await runOnce('run 3');
      out(formatReport(third));
    }

    out(`\nThe archive (${store.location}):`);
    await printTree(store, out);
    if (first.messages === 0) {
      out(
        `\n(${options.out} already held an earlier demo's archive, so run 1 found nothing new. Delete it to start over.)`,
      );
    }

    const local = { store, archive: options.out, timeZone: config.archive.timeZone, clock: runtime.clock };
    if (rename && !isS3Archive(options.out)) {
      for (const line of ['', ...(await showNames({ ...local, sim: simulator }, rename))]) out(line);
    }
    if (conversation && !isS3Archive(options.out)) {
      for (const line of ['', ...(await showConversation(local, conversation))]) out(line);
    }

    // Querying: the same named queries as on Athena, here with DuckDB over the local folder.
    out('');
    for (const line of await demoQuery(options.out, config.archive.timeZone, runtime)) out(line);
    return first.done && second.done && third.done ? EXIT.done : EXIT.notDone;
  } finally {
    await simulator.stop();
  }
}

function renameLine(rename: DemoRename): string {
  return (
    `Also: ${rename.account}, shown as "${rename.before}" in ${rename.groupId}, took the name card "${rename.after}", ` +
    `and the group was renamed from "${rename.groupBefore}" to "${rename.groupAfter}".`
  );
}

/** The demo's closing query: DuckDB over a local archive, a hint for S3. */
async function demoQuery(root: string, timeZone: string, runtime: Runtime): Promise<string[]> {
  if (isS3Archive(root)) return demoQueryHintForS3(root);
  const runner = await openArchiveRunner({
    archive: root,
    timeZone,
    clock: runtime.clock,
    workGroup: DEFAULT_WORKGROUP,
    database: DEFAULT_DATABASE,
  });
  try {
    return await runDemoQuery(runner, root);
  } finally {
    runner.close();
  }
}
