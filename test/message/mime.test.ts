import { describe, expect, it } from 'vitest';
import { base64Body } from '../../src/message/mime.ts';

/** RFC 2045 §6.8 written out plainly: the base64 of the UTF-8 bytes, in lines of at most 76 characters, CRLF between them. */
function expectedBase64(content: string): string {
  const encoded = Buffer.from(content, 'utf8').toString('base64');
  return (encoded.match(/.{1,76}/g) ?? []).join('\r\n');
}

describe('base64Body', () => {
  it.each([0, 1, 2, 3, 56, 57, 58, 113, 114, 115, 570, 1000])('wraps %i ASCII bytes in lines of 76', (length) => {
    const content = 'a'.repeat(length);
    expect(base64Body(content).toString('latin1')).toBe(expectedBase64(content));
  });

  it('encodes Cyrillic, emoji and lone surrogates as their UTF-8 bytes', () => {
    for (const content of ['Приглашение: Собрание', '🎉 Встреча 👩‍💻'.repeat(40), 'a\uD800b', 'ё'.repeat(64 * 1024 + 5)]) {
      expect(base64Body(content).toString('latin1')).toBe(expectedBase64(content));
    }
  });

  it('returns bytes of its own: the next body does not overwrite the last one', () => {
    const first = base64Body('первое письмо '.repeat(100));
    const copy = Buffer.from(first);
    base64Body('второе, другое письмо '.repeat(200));
    expect(first.equals(copy)).toBe(true);
  });

  it('takes bytes as they are', () => {
    const bytes = Buffer.from([0, 255, 13, 10, 46]);
    expect(base64Body(bytes).toString('latin1')).toBe(bytes.toString('base64'));
  });
});
