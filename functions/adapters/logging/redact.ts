/**
 * Redaction of secrets from text that leaves the process (log lines, error messages).
 * The archiver never puts a secret into a message on purpose; this is the second line of defence.
 */

export const REDACTED = '***';

/** Replace the `usersig` query parameter (the only secret a request URL carries). */
export function redactUrl(url: string): string {
  return url.replace(/([?&]usersig=)[^&#]*/gi, `$1${REDACTED}`);
}

/**
 * Replace every occurrence of each secret (and its URL-encoded form) in `text`.
 * Secrets shorter than 8 characters are ignored: they cannot be real keys or sigs, and masking
 * them would shred ordinary words.
 */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (secret.length < 8) continue;
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return out;
}
