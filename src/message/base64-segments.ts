/**
 * Base64 (RFC 4648 §4) of a text made of segments some of which many
 * messages share: the rendered HTML of a group of recipients, the same but
 * for each one's address, answer links and agenda lines (src/render/slots.ts).
 * Why it exists is speed: the HTML (~25 KB, a two-byte string once a few
 * Cyrillic letters are in it) was copied out as UTF-16, transcoded to UTF-8,
 * encoded to a base64 string and written into the message, for every
 * recipient. Here the shared strings are encoded once (their UTF-8 and their
 * base64), and a message copies those bytes and encodes only its own strings.
 *
 * Base64 encodes three octets at a time, so how a shared string's octets fall
 * into groups depends on how many octets came before it: its base64 is kept
 * for each of the three ways it can start (the first 0, 1 or 2 octets
 * completing the group before it), made when first needed.
 */

import type { TextSegments } from '../render/slots.ts';

/** A text as `shared[0] + own[0] + shared[1] + … + shared[n]`, as the renderer gives the HTML. */
export type Segments = TextSegments;

interface SharedSegment {
  readonly bytes: Buffer;
  /** `phases[k]`: base64 of `bytes` from octet k, whole groups only. */
  readonly phases: (Buffer | undefined)[];
}

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const PAD = 0x3d; // '='

/** The shared strings' octets, per array of shared strings (one per group and render), or null: see `standsAlone`. */
const sharedSegments = new WeakMap<readonly string[], readonly SharedSegment[] | null>();

/** Octets of an own string, written here to be encoded (an own string is a URL, a name, an agenda line). */
let ownScratch = Buffer.allocUnsafe(1024);

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/**
 * Whether a string may be encoded apart from its neighbours: UTF-8 of the
 * whole equals the UTF-8 of its segments one after another unless a
 * surrogate pair is cut between two of them (a string from a request may end
 * in half a pair, which JSON lets through), which the whole would join into
 * one character. The message then encodes the joined text instead.
 */
function standsAlone(text: string): boolean {
  return text === '' || (!isLowSurrogate(text.charCodeAt(0)) && !isHighSurrogate(text.charCodeAt(text.length - 1)));
}

function sharedOf(shared: readonly string[]): readonly SharedSegment[] | null {
  let segments = sharedSegments.get(shared);
  if (segments === undefined) {
    segments = shared.every(standsAlone) ? shared.map((text) => ({ bytes: Buffer.from(text, 'utf8'), phases: [] })) : null;
    sharedSegments.set(shared, segments);
  }
  return segments;
}

/**
 * The number of octets of the segments' UTF-8, or null when they cannot be
 * encoded apart (see `standsAlone`): then encode the joined text.
 *
 * @example utf8Length({ shared: ['<b>', '</b>'], own: ['Анна'] }) // 15
 */
export function utf8Length(segments: Segments): number | null {
  const shared = sharedOf(segments.shared);
  if (shared === null || !segments.own.every(standsAlone)) return null;
  let octets = 0;
  for (const segment of shared) octets += segment.bytes.length;
  for (const text of segments.own) octets += Buffer.byteLength(text, 'utf8');
  return octets;
}

/** Base64 characters of `octets` octets, padded, in one line. */
export const base64Length = (octets: number) => 4 * Math.ceil(octets / 3);

/**
 * Writes the base64 of the segments' UTF-8 into `target` at `offset`, in one
 * line (no line breaks), and returns the offset after it. Only for segments
 * `utf8Length` measured (not null).
 *
 * @example
 * const octets = utf8Length(segments)!;
 * const end = writeBase64(target, 0, segments); // end === base64Length(octets)
 */
export function writeBase64(target: Buffer, offset: number, segments: Segments): number {
  const shared = sharedOf(segments.shared)!;
  const carry = [0, 0];
  let carried = 0; // octets of an unfinished group, waiting for the next segment
  let at = offset;

  /** Takes octets from `bytes[from…to)` until the carried group is whole; returns where it stopped. */
  const complete = (bytes: Uint8Array, from: number, to: number): number => {
    let next = from;
    while (carried > 0 && next < to) {
      if (carried === 2) {
        at = writeGroup(target, at, carry[0]!, carry[1]!, bytes[next++]!);
        carried = 0;
      } else carry[carried++] = bytes[next++]!;
    }
    return next;
  };
  /** Keeps the last octets of `bytes[end…to)` (fewer than three) for the next group. */
  const keep = (bytes: Uint8Array, end: number, to: number) => {
    for (let i = end; i < to; i++) carry[carried++] = bytes[i]!;
  };

  for (let i = 0; i < shared.length; i++) {
    const { bytes, phases } = shared[i]!;
    const phase = complete(bytes, 0, bytes.length);
    if (carried === 0) {
      const whole = phase + 3 * Math.floor((bytes.length - phase) / 3);
      let encoded = phases[phase];
      if (encoded === undefined) {
        encoded = Buffer.from(bytes.toString('base64', phase, whole), 'latin1');
        phases[phase] = encoded;
      }
      at += encoded.copy(target, at);
      keep(bytes, whole, bytes.length);
    }
    const own = segments.own[i];
    if (own === undefined) continue;
    if (ownScratch.length < own.length * 3) ownScratch = Buffer.allocUnsafe(own.length * 3);
    const length = ownScratch.write(own, 0, 'utf8');
    const start = complete(ownScratch, 0, length);
    if (carried > 0) continue;
    const whole = start + 3 * Math.floor((length - start) / 3);
    for (let j = start; j < whole; j += 3) at = writeGroup(target, at, ownScratch[j]!, ownScratch[j + 1]!, ownScratch[j + 2]!);
    keep(ownScratch, whole, length);
  }
  if (carried === 1) {
    target[at++] = ALPHABET[carry[0]! >> 2]!;
    target[at++] = ALPHABET[(carry[0]! & 0x03) << 4]!;
    target[at++] = PAD;
    target[at++] = PAD;
  } else if (carried === 2) {
    target[at++] = ALPHABET[carry[0]! >> 2]!;
    target[at++] = ALPHABET[((carry[0]! & 0x03) << 4) | (carry[1]! >> 4)]!;
    target[at++] = ALPHABET[(carry[1]! & 0x0f) << 2]!;
    target[at++] = PAD;
  }
  return at;
}

function writeGroup(target: Buffer, at: number, a: number, b: number, c: number): number {
  target[at] = ALPHABET[a >> 2]!;
  target[at + 1] = ALPHABET[((a & 0x03) << 4) | (b >> 4)]!;
  target[at + 2] = ALPHABET[((b & 0x0f) << 2) | (c >> 6)]!;
  target[at + 3] = ALPHABET[c & 0x3f]!;
  return at + 4;
}
