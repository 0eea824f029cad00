/**
 * Answer schema of `get_history` (docs/tencent-api.md, get_history): `File[]`, each with its `URL`,
 * `ExpireTime`, `FileSize`/`FileMD5` (unzipped) and `GzipSize`/`GzipMD5` (as downloaded). Unknown
 * fields are kept (`looseObject`).
 */
import * as z from 'zod';

const size = z.number().int().nonnegative();
const md5 = z.string().regex(/^[0-9a-fA-F]{32}$/, 'an MD5 must be 32 hex digits');

export const HistoryFilesResponse = z.looseObject({
  File: z.array(
    z.looseObject({
      URL: z.string().min(1),
      ExpireTime: z.string().optional(),
      FileSize: size,
      FileMD5: md5,
      GzipSize: size,
      GzipMD5: md5,
    }),
  ),
});
