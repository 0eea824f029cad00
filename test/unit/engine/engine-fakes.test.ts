import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError } from '../../../functions/domain/errors.ts';
import {
  FakeChatApi,
  FakeHostProcesses,
  MemoryStore,
  messageRun,
  textMessage,
} from '../../helpers/engine-fakes.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

async function listAll(store: MemoryStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

describe('MemoryStore', () => {
  it('refuses to create an existing key with ifNoneMatch and keeps the first body', async () => {
    const store = new MemoryStore();
    await store.put('a/x', bytes('one'), { ifNoneMatch: '*' });
    await expect(store.put('a/x', bytes('two'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(store.text('a/x')).toBe('one');
  });

  it('replaces with ifMatch only while the ETag is current', async () => {
    const store = new MemoryStore();
    const { etag: first } = await store.put('s', bytes('v1'));
    const { etag: second } = await store.put('s', bytes('v2'), { ifMatch: first });
    expect(second).not.toBe(first);
    await expect(store.put('s', bytes('v3'), { ifMatch: first })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await expect(store.put('absent', bytes('v'), { ifMatch: first })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    // An unquoted ETag matches as S3 accepts it.
    await store.put('s', bytes('v3'), { ifMatch: second.replaceAll('"', '') });
    expect((await store.get('s'))?.etag).toBe((await store.put('t', bytes('v3'))).etag);
    expect(store.text('s')).toBe('v3');
  });

  it('lists keys under a prefix in byte order, whatever the write order', async () => {
    const store = new MemoryStore();
    for (const key of ['m/b', 'm/a/2', 'm/a/10', 'n/a', 'm/B', 'm/a/1']) await store.put(key, bytes(key));
    expect(await listAll(store, 'm/')).toEqual(['m/B', 'm/a/1', 'm/a/10', 'm/a/2', 'm/b']);
    expect(await listAll(store, 'm/a/1')).toEqual(['m/a/1', 'm/a/10']);
  });

  it('deletes, and deleting an absent key is not an error', async () => {
    const store = new MemoryStore();
    await store.put('k', bytes('v'));
    await store.delete('k');
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
  });

  it('streams bodies, keeps type and metadata for head, and enforces ifNoneMatch', async () => {
    const store = new MemoryStore();
    const result = await store.putStream('media/f', Readable.from([bytes('ab'), bytes('cde')]), {
      contentType: 'image/png',
      metadata: { sha256: 'x' },
      ifNoneMatch: '*',
    });
    expect(result).toEqual({ bytes: 5 });
    expect(await store.head('media/f')).toEqual({
      bytes: 5,
      contentType: 'image/png',
      metadata: { sha256: 'x' },
    });
    await expect(
      store.putStream('media/f', Readable.from([bytes('z')]), { ifNoneMatch: '*' }),
    ).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(await store.head('missing')).toBeUndefined();
  });

  it('injects a failure before a write (nothing lands) or after it (the object lands, the call throws)', async () => {
    const store = new MemoryStore()
      .fail({ op: 'put', key: 'before' })
      .fail({ op: 'put', key: (k) => k.startsWith('after'), when: 'after' });
    await expect(store.put('before', bytes('1'))).rejects.toBeInstanceOf(StorageError);
    expect(store.text('before')).toBeUndefined();
    await expect(store.put('after/1', bytes('2'))).rejects.toThrow(/injected put failure at after\/1/);
    expect(store.text('after/1')).toBe('2');
    // Each fault fires once by default.
    await store.put('before', bytes('3'));
    expect(store.text('before')).toBe('3');
    expect(store.calls.map((c) => `${c.op} ${c.key}`)).toEqual(['put before', 'put after/1', 'put before']);
  });
});

describe('FakeChatApi', () => {
  it('serves history newest first, 20 per page, paging down by seq', async () => {
    const api = new FakeChatApi({ groups: { g1: messageRun(45, 1_767_225_600) } });
    const first = await api.getHistory({ groupId: 'g1', reqMsgNumber: 20, withRecalledMsg: true });
    expect(first.messages.map((m) => m.MsgSeq)).toEqual(Array.from({ length: 20 }, (_, i) => 45 - i));
    expect(first.isFinished).toBe(1);
    const last = await api.getHistory({
      groupId: 'g1',
      reqMsgSeq: 5,
      reqMsgNumber: 20,
      withRecalledMsg: true,
    });
    expect(last.messages.map((m) => m.MsgSeq)).toEqual([5, 4, 3, 2, 1]);
    expect(api.historyRequests.map((r) => r.reqMsgSeq)).toEqual([undefined, 5]);
  });

  it('derives group info and lists groups in pages', async () => {
    const api = new FakeChatApi({
      groups: { g1: [textMessage(1, 100), textMessage(7, 700)], g2: [], g3: [textMessage(1, 5)] },
      types: { g2: 'Community' },
    });
    expect(await api.getGroupInfo(['g1', 'nope'])).toEqual([
      { ok: true, groupId: 'g1', type: 'Public', nextMsgSeq: 8, lastMsgTime: 700 },
      { ok: false, groupId: 'nope', errorCode: 10010, errorInfo: 'group not found' },
    ]);
    const pages = [];
    for await (const page of api.listGroups()) pages.push(page);
    expect(pages).toEqual([
      { groupIds: ['g1', 'g2'], totalCount: 3, next: 2n },
      { groupIds: ['g3'], totalCount: 3, next: 0n },
    ]);
  });
});

describe('FakeHostProcesses', () => {
  it('calls a holder gone only when it is listed as gone', () => {
    const processes = new FakeHostProcesses();
    const other = { host: 'test-host', pid: 1, startedAt: 'boot-1:1' };
    expect(processes.isGone(other)).toBe(false);
    processes.gone.push(other);
    expect(processes.isGone(other)).toBe(true);
    expect(processes.isGone({ ...other, startedAt: 'boot-1:2' })).toBe(false);
  });
});
