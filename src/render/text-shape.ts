/**
 * The last touch on rendered text: what a header and a plain-text body may
 * look like, whichever template made them.
 */

/**
 * A subject is one line (RFC 5322 §2.2: a header has no bare line breaks).
 *
 * @example oneLine(' Planning\n  review ') // 'Planning review'
 */
export function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/**
 * Template blocks leave runs of blank lines; a reader wants at most one.
 *
 * @example tidyText('a  \n\n\n\nb') // 'a\n\nb\n'
 */
export function tidyText(value: string): string {
  return `${value
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}
