import type { ObjectStore } from '../domain/storage.ts';

/** Print the store's keys as an indented tree, eliding long folders. */
export async function printTree(
  store: ObjectStore,
  out: (line: string) => void,
  maxPerFolder = 4,
): Promise<void> {
  const byFolder = new Map<string, string[]>();
  for await (const key of store.list('')) {
    const slash = key.lastIndexOf('/');
    const folder = key.slice(0, slash + 1);
    const list = byFolder.get(folder) ?? [];
    list.push(key.slice(slash + 1));
    byFolder.set(folder, list);
  }
  const folders = [...byFolder.keys()].sort();
  const shownFolders = folders.length > 12 ? [...folders.slice(0, 6), '…', ...folders.slice(-5)] : folders;
  for (const folder of shownFolders) {
    if (folder === '…') {
      out(`  … ${folders.length - 11} more folders`);
      continue;
    }
    const files = byFolder.get(folder) ?? [];
    out(`  ${folder}`);
    for (const file of files.slice(0, maxPerFolder)) out(`    ${file}`);
    if (files.length > maxPerFolder) out(`    … ${files.length - maxPerFolder} more`);
  }
}
