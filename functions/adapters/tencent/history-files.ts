/**
 * The hourly files' port (functions/domain/history-file.ts) over the Tencent client: `get_history`
 * through `TencentClient.getHistoryFiles` (paced at 10/s with every other call), and the download
 * of a file's URL with a GET bounded in time and size. The URL may carry a signature: it is never
 * put in an error message or a log.
 */
import type { HistoryFileEntry, HistoryFilesApi } from '../../domain/history-file.ts';
import { HistoryFileDownloadError } from '../errors.ts';
import type { TencentClient } from './client.ts';

export interface TencentHistoryFilesOptions {
  /** A download's time limit (default 10 minutes). */
  readonly downloadTimeoutMs?: number;
  /** The largest file accepted (default 4 GiB). */
  readonly maxBytes?: number;
}

export class TencentHistoryFiles implements HistoryFilesApi {
  public constructor(
    private readonly client: TencentClient,
    private readonly options: TencentHistoryFilesOptions = {},
  ) {}

  public getHistoryFiles(
    chatType: 'C2C' | 'Group',
    hour: string,
    signal?: AbortSignal,
  ): Promise<HistoryFileEntry[] | null> {
    return this.client.getHistoryFiles(chatType, hour, signal);
  }

  /** @throws HistoryFileDownloadError for a status other than 200, a file too large, or a network failure */
  public async download(url: string, signal?: AbortSignal): Promise<Uint8Array> {
    const timeout = AbortSignal.timeout(this.options.downloadTimeoutMs ?? 600_000);
    const maxBytes = this.options.maxBytes ?? 4 * 1024 ** 3;
    let response: Response;
    try {
      response = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new HistoryFileDownloadError(
        `the download failed: ${cause instanceof Error ? cause.name : 'error'}`,
        {
          cause,
        },
      );
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new HistoryFileDownloadError(`the download answered HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new HistoryFileDownloadError(`the file is larger than ${maxBytes} bytes`);
    }
    const body = new Uint8Array(await response.arrayBuffer());
    if (body.byteLength > maxBytes)
      throw new HistoryFileDownloadError(`the file is larger than ${maxBytes} bytes`);
    return body;
  }
}
