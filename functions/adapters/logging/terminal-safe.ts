/**
 * Text for a terminal. Group ids, sender names, error messages and file names come from users and
 * from a server we do not control; printed raw, an escape sequence in one of them can set the
 * terminal title, clear the screen or move the cursor, a newline can forge a log line, and a bidi
 * control can reorder what a person reads. Every CLI printer passes such text through here.
 */

/**
 * C0 controls (newline and tab included), DEL, C1 controls, the bidi controls (ALM, LRM, RLM, the
 * embeddings, overrides and isolates), zero-width characters, the line and paragraph separators,
 * and the byte order mark.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** The same characters outside C0 (JSON.stringify already escapes C0 inside strings). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const escaped = (ch: string) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/** One line of text with every control, bidi and invisible character shown as `\uXXXX`. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escaped);
}

/** Text of several lines: each line made safe, the line breaks kept. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

/**
 * JSON text safe for a terminal and still the same JSON: the characters JSON.stringify leaves raw
 * (DEL, C1, bidi, invisible) can only be inside strings, where `\uXXXX` means the same character.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escaped);
}

/**
 * A copy of plain data (objects, arrays, strings, numbers…) with every string made safe, for
 * reports that a formatter then lays out over several lines.
 */
export function terminalSafeData<T>(value: T): T {
  if (typeof value === 'string') return terminalSafe(value) as T;
  if (Array.isArray(value)) return value.map((v) => terminalSafeData(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [terminalSafe(k), terminalSafeData(v)]),
    ) as T;
  }
  return value;
}
