/**
 * The MIME text of a message (RFC 2045–2049, 5322): headers encoded and
 * folded by nodemailer's own helpers (RFC 2047 encoded words, address
 * quoting), bodies base64 with native encoding. Kept instead of nodemailer's
 * MailComposer (the library path, with `icalEvent`) because `npm run
 * bench:render` measures the same messages at 1.2–1.4 ms each through
 * MailComposer against 0.14–0.18 ms through this: at 1600 recipients, about
 * 2 s of CPU against 0.25 s, where the whole fan-out takes 3–4 s.
 */
import { transcode } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { encodeWord, foldLines, quoteString } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';
import { base64Length, type Segments, utf8Length, writeBase64 } from './base64-segments.ts';

type HeaderValue = string | Date | { name?: string; address: string } | readonly string[];

/**
 * One node to encode header values with, made once: nodemailer's static
 * `MimeNode.encodeHeaderValue` makes a node per call, and each node draws
 * random bytes for a boundary (2% of a fan-out's CPU). Encoding does not change the node.
 */
const headerEncoder = new MimeNode(undefined, { baseBoundary: 'header-encoder' }) as unknown as { encodeHeaderValue(key: string, value: unknown): string };

/**
 * One header field, encoded and folded at 76 characters as nodemailer does.
 *
 * @example headerField('Subject', 'Приглашение: Собрание') // 'Subject: =?UTF-8?B?…?=' (folded)
 */
export function headerField(key: string, value: HeaderValue): string {
  // To, Message-ID and the thread's ids are the recipient's own: remembering them only costs.
  if (OWN_TO_EACH_MESSAGE.has(key)) return encodedField(key, value);
  const memoKey = `${key}\u0000${memoOf(value)}`;
  let field = encodedFields.get(memoKey);
  if (field === undefined) {
    field = encodedField(key, value);
    // From, Sender, Subject, Date… repeat for every recipient of a notification.
    encodedFields.set(memoKey, field);
  }
  return field;
}

/** Fields whose value differs from one message to the next (RFC 5322 §3.6.3–3.6.4). */
const OWN_TO_EACH_MESSAGE: ReadonlySet<string> = new Set(['To', 'Message-ID', 'In-Reply-To', 'References']);

const encodedFields = new LRUCache<string, string>({ max: 5000 });

/** A value as a memo key: a mailbox by its address (which holds no NUL) then its name; no JSON for the common cases. */
function memoOf(value: HeaderValue): string | number {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.getTime();
  if (isMailbox(value)) return `${value.address}\u0000${value.name ?? ''}`;
  return JSON.stringify(value);
}

function encodedField(key: string, value: HeaderValue): string {
  const encoded = isMailbox(value) ? mailbox(value) : headerEncoder.encodeHeaderValue(key, value);
  return foldLines(`${key}: ${encoded}`, 76);
}

function isMailbox(value: HeaderValue): value is { name?: string; address: string } {
  return typeof value === 'object' && !(value instanceof Date) && !Array.isArray(value) && 'address' in value;
}

/** The most UTF-8 octets one B encoded-word carries within RFC 2047's 75 characters (`=?UTF-8?B?` + 60 + `?=`). */
const WORD_OCTETS = 45;

/**
 * `Name <address>` with a non-ASCII name as RFC 2047 encoded-words split
 * between words (or after a hyphen), each word keeping its following space inside (whitespace
 * between encoded-words is not displayed, RFC 2047 §6.2). nodemailer splits
 * by length, mid-word, and Python's header API then shows "Смирн ов".
 *
 * @example mailbox({ name: 'Анна Смирнова', address: 'a@x.ru' }) // '=?UTF-8?B?0JDQvdC90LAg?= =?UTF-8?B?0KHQvNC40YDQvdC+0LLQsA==?= <a@x.ru>'
 */
function mailbox({ name, address }: { name?: string; address: string }): string {
  if (!name) return address;
  if (/^[\w ]*$/.test(name)) return `${name} <${address}>`;
  if (/^[\x20-\x7e]*$/.test(name)) return `${quoteString(name)} <${address}>`;
  const words: string[] = [];
  let chunk = '';
  // Break after a space or a hyphen (Преображенская-|Воскресенская), never between two letters.
  for (const word of name.match(/[^\s-]+(?:-+|\s+)?|[-\s]+/g) ?? []) {
    if (chunk && Buffer.byteLength(chunk + word) > WORD_OCTETS) {
      words.push(chunk);
      chunk = '';
    }
    chunk += word;
  }
  if (chunk) words.push(chunk);
  // A single word longer than one encoded-word can carry is split by nodemailer, at character boundaries.
  const encoded = words.map((w) => (Buffer.byteLength(w) > WORD_OCTETS ? encodeWord(w, 'B', 52) : `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`));
  return `${encoded.join(' ')} <${address}>`;
}

/**
 * A body as base64 in lines of 76 characters (RFC 2045 §6.8), as bytes.
 *
 * @example base64Body('hi').toString() // 'aGk='
 */
export function base64Body(content: string | Buffer): Buffer {
  const encoded = base64Of(content);
  const body = Buffer.allocUnsafe(wrappedLength(encoded));
  writeWrapped(body, 0, encoded);
  return body;
}

/** Base64 of a text's UTF-8 bytes (or of bytes), in one line. */
function base64Of(content: string | Buffer): string {
  return (typeof content === 'string' ? utf8(content) : content).toString('base64');
}

/** Octets of base64 text once wrapped in lines of 76 with CRLF between them. */
function wrappedLength(encoded: string): number {
  return wrappedLengthOf(encoded.length);
}

function wrappedLengthOf(length: number): number {
  return length + 2 * Math.max(0, Math.ceil(length / LINE) - 1);
}

/**
 * Writes base64 text into `target` at `offset`, wrapped: written whole, then each line moved to
 * its place from the last one back, CRLF before it (one write, where slicing the string into lines
 * and joining them made three copies). Returns the offset after it.
 */
function writeWrapped(target: Buffer, offset: number, encoded: string): number {
  target.write(encoded, offset, 'latin1');
  return wrapInPlace(target, offset, encoded.length);
}

/** Wraps `length` octets of base64 written at `offset` in place, into lines of 76; returns the offset after them. */
function wrapInPlace(target: Buffer, offset: number, length: number): number {
  const lines = Math.ceil(length / LINE);
  for (let line = lines - 1; line > 0; line--) {
    const at = offset + line * (LINE + 2);
    target.copyWithin(at, offset + line * LINE, offset + Math.min((line + 1) * LINE, length));
    target[at - 2] = 0x0d;
    target[at - 1] = 0x0a;
  }
  return offset + wrappedLengthOf(length);
}

const LINE = 76;
/** Bodies up to 64 Ki UTF-16 units (an HTML body is ~25 Ki) go through here; longer ones get their own buffers. */
const UTF16_SCRATCH_UNITS = 64 * 1024;
let utf16Scratch: Buffer | null = null;

/**
 * A string's UTF-8 bytes, in a buffer of their own. A rendered body is a
 * two-byte string (a few Cyrillic letters make it one), which V8 encodes to
 * UTF-8 a character at a time. Copied out as UTF-16 (a copy of V8's own
 * memory) and transcoded by Node's SIMD converter (simdutf), the HTML and
 * text of the seed invitation, fresh from the renderer, took 46–97 µs a
 * message to UTF-8 and base64 against 120–286 µs through `encodeInto`
 * (alternating, four rounds of 1600). A lone surrogate, which JSON lets a
 * request carry, makes `transcode` throw; Buffer.from then writes it as
 * U+FFFD, as every UTF-8 encoder does (WHATWG Encoding).
 */
function utf8(content: string): Buffer {
  if (content.length > UTF16_SCRATCH_UNITS) return Buffer.from(content, 'utf8');
  utf16Scratch ??= Buffer.allocUnsafe(UTF16_SCRATCH_UNITS * 2);
  const units = utf16Scratch.write(content, 0, 'utf16le');
  try {
    return transcode(utf16Scratch.subarray(0, units), 'utf16le', 'utf8');
  } catch {
    return Buffer.from(content, 'utf8');
  }
}

/**
 * A part with a body: `text` (UTF-8, base64-encoded straight into the message) or `base64`,
 * bytes already encoded and wrapped (see base64Body), copied in as they are. A text may come
 * with its `segments` (the same text, in pieces many messages share: base64-segments.ts), which
 * are encoded instead where they can be.
 */
export type MimeLeaf = {
  /** Content-Type with its parameters, as written. */
  readonly contentType: string;
  readonly disposition?: string;
} & ({ readonly text: string; readonly segments?: Segments } | { readonly base64: Buffer });

export interface MimeMultipart {
  readonly multipart: 'mixed' | 'alternative';
  readonly parts: readonly (MimeLeaf | MimeMultipart)[];
}

let boundaries = 0;
const processTag = randomBytes(6).toString('hex');

/**
 * A boundary no body can contain: bodies are base64, whose alphabet has no
 * `_`, so `=_` never occurs in them (RFC 2046 §5.1.1); headers of parts are
 * ours. Unique per process by a counter (a random draw per message cost 5% of
 * the service's time).
 */
function boundary(): string {
  return `=_${processTag}.${(boundaries++).toString(36)}`;
}

/**
 * A message laid out before it is written: ASCII text (headers, boundaries), base64 text to wrap,
 * and bodies already encoded. Its length is known before any byte is written, so the message
 * goes into one buffer with no copy in between.
 */
type Piece =
  | { readonly ascii: string }
  | { readonly base64: string }
  | { readonly bytes: Buffer }
  | { readonly segments: Segments; readonly base64Length: number };

/** An entity's header lines, and its body as pieces. */
function entity(node: MimeLeaf | MimeMultipart, body: Piece[]): string[] {
  if (!('multipart' in node)) {
    const headers = [`Content-Type: ${node.contentType}`, 'Content-Transfer-Encoding: base64'];
    if (node.disposition) headers.push(`Content-Disposition: ${node.disposition}`);
    body.push('text' in node ? textPiece(node.text, node.segments) : { bytes: node.base64 });
    return headers;
  }
  const mark = boundary();
  for (const part of node.parts) {
    const at = body.length;
    body.push({ ascii: '' }); // this part's delimiter and headers, known once the part is laid out
    const headers = entity(part, body);
    body[at] = { ascii: `--${mark}\r\n${headers.join('\r\n')}\r\n\r\n` };
    body.push({ ascii: '\r\n' });
  }
  body.push({ ascii: `--${mark}--` });
  return [`Content-Type: multipart/${node.multipart}; boundary="${mark}"`];
}

/** A text's body: its segments encoded where they can be, else the text. */
function textPiece(text: string, segments: Segments | undefined): Piece {
  const octets = segments ? utf8Length(segments) : null;
  return segments && octets !== null ? { segments, base64Length: base64Length(octets) } : { base64: base64Of(text) };
}

function pieceLength(piece: Piece): number {
  if ('ascii' in piece) return Buffer.byteLength(piece.ascii);
  if ('base64' in piece) return wrappedLength(piece.base64);
  if ('segments' in piece) return wrappedLengthOf(piece.base64Length);
  return piece.bytes.length;
}

/** Where a composed message's bytes go: a fresh buffer, or one used again (see message-buffers.ts). */
export type MessageMemory = (size: number) => Buffer;

/**
 * A whole message: header fields in order, then MIME-Version and the body's
 * Content-Type, then the body. Lines end with CRLF. Written into one buffer of
 * the exact size, taken from `memory`.
 */
export function mimeMessage(
  fields: readonly (readonly [string, HeaderValue | null | undefined])[],
  body: MimeLeaf | MimeMultipart,
  memory: MessageMemory = Buffer.allocUnsafe,
): Buffer {
  const pieces: Piece[] = [];
  const top = entity(body, pieces);
  const lines = fields.filter(([, value]) => value !== null && value !== undefined && value !== '').map(([key, value]) => headerField(key, value!));
  lines.push('MIME-Version: 1.0', ...top);
  pieces.unshift({ ascii: `${lines.join('\r\n')}\r\n\r\n` });
  pieces.push({ ascii: '\r\n' });
  let size = 0;
  for (const piece of pieces) size += pieceLength(piece);
  const raw = memory(size);
  let offset = 0;
  for (const piece of pieces) {
    if ('ascii' in piece) offset += raw.write(piece.ascii, offset);
    else if ('base64' in piece) offset = writeWrapped(raw, offset, piece.base64);
    else if ('segments' in piece) offset = wrapInPlace(raw, offset, writeBase64(raw, offset, piece.segments) - offset);
    else offset += piece.bytes.copy(raw, offset);
  }
  // Every byte written: the memory may be used again (or uninitialized), and none of it may reach the wire.
  if (offset !== size) throw new Error(`message layout wrote ${offset} of ${size} octets`);
  return raw;
}
