/**
 * A child process for the LocalFolderStore cross-process race tests.
 *
 * Usage: `node --import tsx local-store-racer.ts <create|increment> <root> <rounds> <racerId>`
 * Prints `ready`, waits until the parent closes stdin (so all racers start together), then:
 * - `create`: tries `put('race/key-<i>', racerId, { ifNoneMatch: '*' })` for i in 0..rounds-1;
 * - `increment`: `rounds` times, reads `counter` and writes it + 1 with `ifMatch` (a lost race
 *   just uses up the round).
 * Finally prints one JSON line `{"wins":[...rounds won]}`. Any error other than
 * PreconditionFailedError is printed as `error <name>: <message>` and exits with 1.
 */
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { PreconditionFailedError } from '../../functions/domain/errors.ts';

const [mode, root, rounds, racerId] = process.argv.slice(2);
if ((mode !== 'create' && mode !== 'increment') || !root || !rounds || !racerId) {
  throw new Error('usage: local-store-racer.ts <create|increment> <root> <rounds> <racerId>');
}

const store = new LocalFolderStore(root);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** One round; true if this racer's conditional write won. */
async function playRound(round: number): Promise<boolean> {
  if (mode === 'create') {
    await store.put(`race/key-${round}`, encode(racerId ?? ''), { ifNoneMatch: '*' });
    return true;
  }
  const current = await store.get('counter');
  if (!current) throw new Error('the counter object is missing');
  const next = Number(new TextDecoder().decode(current.body)) + 1;
  await store.put('counter', encode(String(next)), { ifMatch: current.etag });
  return true;
}

process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  process.stdin.on('end', resolve).resume();
});

try {
  const wins: number[] = [];
  for (let round = 0; round < Number(rounds); round += 1) {
    const won = await playRound(round).catch((error: unknown) => {
      if (error instanceof PreconditionFailedError) return false;
      throw error;
    });
    if (won) wins.push(round);
  }
  process.stdout.write(`${JSON.stringify({ wins })}\n`);
} catch (error) {
  const { name, message } = error instanceof Error ? error : { name: 'unknown', message: String(error) };
  process.stdout.write(`error ${name}: ${message}\n`);
  process.exitCode = 1;
}
