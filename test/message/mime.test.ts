import { describe, expect, it } from 'vitest';
import { base64Body, headerField } from '../../src/message/mime.ts';

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

describe('headerField', () => {
  it('gives each value its own field, whether it was encoded before or not (the memo never mixes two values up)', () => {
    const fields = [
      headerField('From', { name: 'Анна Смирнова', address: 'a@mydomain.ru' }),
      headerField('From', { name: 'Анна Смирнова', address: 'b@mydomain.ru' }),
      headerField('From', { name: 'Анна', address: 'a@mydomain.ru' }),
      headerField('From', { address: 'a@mydomain.ru' }),
      headerField('Date', new Date(Date.UTC(2023, 7, 28, 7, 0, 0))),
      headerField('Date', new Date(Date.UTC(2023, 7, 28, 7, 0, 1))),
      headerField('Subject', 'Приглашение'),
      headerField('Subject', 'Приглашение: Собрание'),
    ];
    expect(new Set(fields).size).toBe(fields.length);
    // Asked again, in another order: the same fields.
    expect(headerField('From', { address: 'a@mydomain.ru' })).toBe('From: a@mydomain.ru');
    expect(headerField('From', { name: 'Анна', address: 'a@mydomain.ru' })).toBe(fields[2]);
    expect(headerField('Date', new Date(Date.UTC(2023, 7, 28, 7, 0, 1)))).toBe('Date: Mon, 28 Aug 2023 07:00:01 +0000');
  });

  it("encodes a recipient's own fields the same way as the shared ones", () => {
    expect(headerField('To', { name: 'Анна Смирнова', address: 'a@mydomain.ru' })).toBe(
      headerField('From', { name: 'Анна Смирнова', address: 'a@mydomain.ru' }).replace(/^From/, 'To'),
    );
    expect(headerField('Message-ID', '<a.1@mydomain.ru>')).toBe('Message-ID: <a.1@mydomain.ru>');
  });
});
