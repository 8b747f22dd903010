/**
 * Dial-in numbers as links: what a phone opens and what a calendar stores.
 */

/**
 * A `tel:` URI (RFC 3966) of a dialled number: digits and a leading `+`.
 *
 * @example telUri('+7 495 123-45-67') // 'tel:+74951234567'
 */
export function telUri(number: string): string {
  return `tel:${number.startsWith('+') ? '+' : ''}${number.replace(/\D/g, '')}`;
}
