/**
 * Words another server wrote (a bounce's Diagnostic-Code, its Reporting-MTA,
 * a relay's reply line) are untrusted: anyone who can make a server bounce,
 * or who runs one, chooses them. They are cleaned once, where they enter
 * (the bounce reader, the SMTP transport's reading of the relay's replies), and stored, shown and posted as
 * cleaned: no control or bidirectional-formatting characters (a terminal's
 * escape sequences, a NUL, text that reads backwards), white space folded,
 * and a length cap.
 */

/** The longest diagnostic kept: an SMTP reply line is at most 512 octets (RFC 5321 §4.5.3.1.5). */
export const REMOTE_TEXT_MAX = 500;

/**
 * C0 and C1 controls (tab, CR and LF included: they fold to one space), DEL,
 * and the Unicode marks that reorder or hide text (U+200B–U+200F, U+202A–U+202E,
 * U+2060–U+2069, U+FEFF).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+/g;

/**
 * @example remoteText('smtp; 550 5.1.1\u0000 no such\r\n\tuser') // 'smtp; 550 5.1.1 no such user'
 * @example remoteText('x'.repeat(600)).length // 500 (499 characters and '…')
 * @returns null for a value that is absent or nothing but white space once cleaned
 */
export function remoteText(value: string | null | undefined, max: number = REMOTE_TEXT_MAX): string | null {
  if (value === null || value === undefined) return null;
  // Cut before cleaning too, so that a megabyte of text costs no more than a line.
  const cleaned = value
    .slice(0, max * 4)
    .replace(UNSAFE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (cleaned === '') return null;
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}
