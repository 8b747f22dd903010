/**
 * iCalendar content lines (RFC 5545 §3.1) for the properties ical-generator
 * cannot write (RFC 7986 CONFERENCE): parameter quoting, text escaping and
 * folding at 75 octets without splitting a UTF-8 character.
 */

const MAX_OCTETS = 75;

/**
 * Escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks.
 *
 * @example escapeText('a,b;c\nd') // 'a\\,b\\;c\\nd'
 */
export function escapeText(value: string): string {
  return value.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n');
}

/**
 * A parameter value (RFC 5545 §3.2), quoted when it holds `:`, `;` or `,`.
 * A parameter cannot hold a double quote; RFC 6868's `^'` escape is shown
 * literally by Python icalendar and vobject and is not known to Outlook or
 * Gmail, so double quotes become typographic ones (“…”), which every reader
 * shows as written, and a line break a space.
 *
 * @example paramValue('TrueConf: room 5') // '"TrueConf: room 5"'
 * @example paramValue('Иван "Ваня" Петров') // 'Иван “Ваня” Петров'
 */
export function paramValue(value: string): string {
  const safe = withoutDoubleQuotes(value).replace(/\r?\n/g, ' ');
  return /[:;,]/.test(safe) ? `"${safe}"` : safe;
}

/**
 * Double quotes as typographic quotes, opening and closing in turn: what a
 * parameter value (CN, LABEL) may hold and every calendar reader shows as written.
 *
 * @example withoutDoubleQuotes('ООО "Ромашка"') // 'ООО “Ромашка”'
 */
export function withoutDoubleQuotes(value: string): string {
  let inside = false;
  return value.replace(/"/g, () => {
    inside = !inside;
    return inside ? '\u201c' : '\u201d';
  });
}

/**
 * Folds one unfolded content line: no line longer than 75 octets, each
 * continuation starting with a space, CRLF between them. A multi-byte UTF-8
 * character is never split (RFC 5545 §3.1: "SHOULD NOT" split one).
 *
 * @example foldLine('SUMMARY:' + 'я'.repeat(40)).split('\r\n').length // 2
 */
export function foldLine(line: string): string {
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  let limit = MAX_OCTETS;
  for (const char of line) {
    const size = Buffer.byteLength(char, 'utf8');
    if (octets + size > limit) {
      parts.push(current);
      current = '';
      octets = 0;
      limit = MAX_OCTETS - 1; // the leading space of a continuation is an octet too
    }
    current += char;
    octets += size;
  }
  parts.push(current);
  return parts.join('\r\n ');
}
