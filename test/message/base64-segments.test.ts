import { describe, expect, it } from 'vitest';
import { base64Length, type Segments, utf8Length, writeBase64 } from '../../src/message/base64-segments.ts';
import { mimeMessage } from '../../src/message/mime.ts';
import { random } from '../helpers/random.ts';

const joined = ({ shared, own }: Segments) => shared.reduce((text, part, i) => text + (i > 0 ? own[i - 1] : '') + part, '');

/** The segments' base64 as writeBase64 writes it, in a buffer with a guard octet after it. */
function encoded(segments: Segments): string {
  const octets = utf8Length(segments);
  expect(octets).toBe(Buffer.byteLength(joined(segments)));
  const target = Buffer.alloc(base64Length(octets!) + 1, 0x7e);
  const end = writeBase64(target, 0, segments);
  expect(end).toBe(base64Length(octets!));
  expect(target[end]).toBe(0x7e); // nothing written past it
  return target.toString('latin1', 0, end);
}

// One, two, three and four UTF-8 octets a character: every way a segment can fall into groups of three.
const CHARACTERS = ['a', '&', 'ё', 'Ж', '€', '→', '🎉', '👩‍💻'];

function text(next: () => number, most: number): string {
  let out = '';
  for (let i = Math.floor(next() * (most + 1)); i > 0; i--) out += CHARACTERS[Math.floor(next() * CHARACTERS.length)];
  return out;
}

describe('base64 of segments', () => {
  it('equals the base64 of the joined text, for every length and alignment of shared and own strings', () => {
    const next = random(2026);
    for (let round = 0; round < 300; round++) {
      const shared = Array.from({ length: 1 + Math.floor(next() * 6) }, () => text(next, 7));
      // The same shared strings with other own strings: their base64, kept per alignment, is used again.
      for (let recipient = 0; recipient < 4; recipient++) {
        const segments = { shared, own: shared.slice(1).map(() => text(next, 5)) };
        expect(encoded(segments)).toBe(Buffer.from(joined(segments)).toString('base64'));
      }
    }
  });

  it('encodes an own string longer than any before it', () => {
    const segments = { shared: ['<a href="', '">'], own: [`https://calendar.example/${'ж'.repeat(2000)}`] };
    expect(encoded(segments)).toBe(Buffer.from(joined(segments)).toString('base64'));
  });

  it('leaves a surrogate pair cut between two segments to the joined text, which makes it one character', () => {
    expect(utf8Length({ shared: ['Встреча \uD83C', ''], own: ['\uDF89'] })).toBeNull();
    expect(utf8Length({ shared: ['a', '\uDF89 b'], own: ['\uD83C'] })).toBeNull();
    // Lone halves inside a segment are written as U+FFFD, as in the joined text.
    const segments = { shared: ['a\uD800b', 'c'], own: ['d\uDC00e'] };
    expect(encoded(segments)).toBe(Buffer.from(joined(segments)).toString('base64'));
  });
});

describe('a message part given as segments', () => {
  it('has the bytes of the same part given as text, wrapped in lines of 76', () => {
    const next = random(7);
    for (let round = 0; round < 50; round++) {
      const shared = Array.from({ length: 3 }, () => text(next, 120));
      const segments = { shared, own: [text(next, 40), text(next, 40)] };
      const html = joined(segments);
      const asSegments = mimeMessage([], { contentType: 'text/html; charset=utf-8', text: html, segments });
      const asText = mimeMessage([], { contentType: 'text/html; charset=utf-8', text: html });
      expect(asSegments.toString('latin1')).toBe(asText.toString('latin1'));
    }
  });

  it('is encoded from its text when its segments cannot be encoded apart', () => {
    const segments = { shared: ['Встреча \uD83C', '!'], own: ['\uDF89'] };
    const html = joined(segments);
    expect(html).toBe('Встреча 🎉!');
    const message = mimeMessage([], { contentType: 'text/html; charset=utf-8', text: html, segments });
    expect(message.toString('latin1')).toContain(Buffer.from(html).toString('base64'));
  });
});
