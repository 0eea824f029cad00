/**
 * The media references of a one-to-one row (issue 26, deliverable 4; docs/one-to-one.md "Media"):
 * the same elements, sizes and paths as a group message's (functions/domain/media-refs.ts), keyed
 * by the row's conversation and `MsgKey`, so they go through the group media pipeline unchanged:
 * one queue, one stage, one manifest (`group_id` the conversation, `msg_key` the `MsgKey`).
 */
import { type C2cRecord, fromC2cRecord, MSG_FLAG_RECALLED } from './c2c-record.ts';
import { type ExtractOptions, type MediaMessageKey, type MediaRef, mediaRefsOfBody } from './media-refs.ts';

/**
 * The references of a row that carries content: a first capture (revision 0), or a revision whose
 * content changed (`modified`, `restored`), keyed to its revision, as for groups
 * (functions/engine/media-queue-writer.ts). None for a recalled message (served without content),
 * a quarantined item (no `MsgKey`: its text is kept raw) or a row without a `MsgKey`.
 *
 * @example
 * mediaRefsOfC2cRecord(row) // [{ groupId: '["alice","bob"]', msgKey: '1_2_3', elementPath: '0', sizeClass: 'original', … }]
 */
export function mediaRefsOfC2cRecord(record: C2cRecord, options: ExtractOptions = {}): MediaRef[] {
  if (record.quarantined || record.msg_key === null || record.msg_flag_bits === MSG_FLAG_RECALLED) return [];
  if (record.revision !== 0 && record.change !== 'modified' && record.change !== 'restored') return [];
  const key: MediaMessageKey = {
    sdkAppId: record.sdk_app_id,
    groupId: record.conversation,
    topicId: null,
    msgSeq: record.msg_seq ?? 0,
    msgKey: record.msg_key,
    msgTime: record.msg_time,
    ...(record.revision > 0 ? { revision: record.revision } : {}),
  };
  // The body as served (`extra` wins over the column when Athena could not type it).
  return mediaRefsOfBody(key, fromC2cRecord(record).MsgBody, options);
}
