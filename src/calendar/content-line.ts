/**
 * Parameter values (RFC 5545 §3.2) for the lines ical-generator cannot write
 * (RFC 7986 CONFERENCE, the per-recipient ATTENDEE). TEXT escaping and
 * folding are ical-generator's own `escape` and `foldLines` (it folds at 75
 * octets and never splits a UTF-8 character); its parameter escaping is
 * RFC 6868's caret, which readers show literally (see paramValue), so that
 * one stays here.
 */

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
