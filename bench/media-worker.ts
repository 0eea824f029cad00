/**
 * Copies media files for the benchmark in its own process, so its peak RSS is the copier's alone:
 * downloader (HTTP → SHA-256 → temp file) and store (putStream into a local folder).
 * Usage: tsx bench/media-worker.ts <origin> <count> <bytes> <archiveDir>
 * Prints one JSON line: { files, bytes, seconds, maxRssMb }.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { LocalFolderStore } from '../functions/adapters/local-folder/local-folder-store.ts';
import { createConsoleLogger } from '../functions/adapters/logging/console-logger.ts';
import { MediaDownloader } from '../functions/adapters/media/downloader.ts';
import { parseAllowedHosts } from '../functions/adapters/media/host-policy.ts';
import { systemClock } from '../functions/adapters/system-clock.ts';
import type { MediaRef } from '../functions/domain/media-refs.ts';
import { copyMedia } from '../functions/engine/media-copy.ts';

const [origin = '', countText = '1', bytesText = '0', archiveDir = ''] = process.argv.slice(2);
const count = Number(countText);
const size = Number(bytesText);
const fetcher = new MediaDownloader({
  allowedHosts: parseAllowedHosts([
    { host: new URL(origin).host, allowHttp: true, allowPrivateAddresses: true },
  ]),
  maxBytes: 200 * 1024 * 1024,
  tempDir: join(tmpdir(), 'bench-media-temp'),
  clock: systemClock,
  random: Math.random,
  logger: createConsoleLogger({ level: 'error' }),
});
const store = new LocalFolderStore(archiveDir);
const limit = pLimit(16);
const started = performance.now();
let bytes = 0;
await Promise.all(
  Array.from({ length: count }, (_, i) =>
    limit(async () => {
      const ref: MediaRef = {
        sdkAppId: 1,
        groupId: 'bench',
        topicId: null,
        msgSeq: i + 1,
        msgTime: 0,
        elementPath: '0',
        sizeClass: 'file',
        kind: 'file',
        uuid: null,
        url: `${origin}/f/${i}-${size}`,
        declaredSize: size,
        fileName: `file-${i}.bin`,
        format: null,
      };
      const result = await copyMedia(ref, { fetcher, store });
      if (result.outcome.status !== 'archived') throw new Error(`${ref.url}: ${result.outcome.reason}`);
      bytes += result.outcome.bytes;
    }),
  ),
);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({ files: count, bytes, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
