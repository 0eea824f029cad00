/**
 * A kept hourly file's messages all at once, for tests that compare them whole: the engine reads
 * them one at a time (`eachHistoryMessage` in functions/domain/history-file.ts); a line that is not
 * a JSON object is counted, not thrown.
 */
import { eachHistoryMessage } from '../../functions/domain/history-file.ts';

export function historyFileMessages(text: string): {
  messages: Record<string, unknown>[];
  unreadable: number;
} {
  const messages: Record<string, unknown>[] = [];
  let unreadable = 0;
  for (const item of eachHistoryMessage(text)) {
    if (item === null) unreadable++;
    else messages.push(item);
  }
  return { messages, unreadable };
}
