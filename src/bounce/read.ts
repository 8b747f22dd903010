/**
 * Reads a message that came to a bounce address: MIME by mailparser (the
 * parser of nodemailer's authors; charsets, encodings and encoded words are
 * its business), then classify.ts. Runs in the bounce reader's thread
 * (reader.ts), never on the service's main thread.
 */
import { type AddressObject, type HeaderValue, simpleParser } from 'mailparser';
import { type Bounce, type BounceMail, classifyBounce } from './classify.ts';
import { addressIn } from './rules.ts';

/** What mailparser is asked to do: nothing but parse (no HTML to text, no links made), and hand delivery-status parts over whole. */
const PARSER_OPTIONS = {
  keepDeliveryStatus: true,
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
} as const;

/** A header value read: at most this much of it. */
const MAX_HEADER_LENGTH = 2000;

/**
 * @example (await readBounce(readFileSync('postfix-failed.eml'))).kind // 'report'
 */
export async function readBounce(raw: Buffer | Uint8Array): Promise<Bounce> {
  return classifyBounce(await bounceMailOf(raw));
}

/** The parts of a message classify.ts reads. */
export async function bounceMailOf(raw: Buffer | Uint8Array): Promise<BounceMail> {
  const parsed = await simpleParser(Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), PARSER_OPTIONS);
  const headers = new Map<string, string>();
  for (const [name, value] of parsed.headers) {
    const text = headerText(value);
    if (text !== null) headers.set(name, text.slice(0, MAX_HEADER_LENGTH));
  }
  const addressedTo = [addressIn(headers.get('x-original-to') ?? ''), addressIn(headers.get('delivered-to') ?? ''), ...addressesOf(parsed.to)].filter(
    (address): address is string => address !== null,
  );
  const deliveryStatus = parsed.attachments
    .filter((part) => /^message\/(global-)?delivery-status$/i.test(part.contentType))
    .map((part) => part.content.toString('utf8'));
  return { headers, addressedTo, text: parsed.text ?? '', deliveryStatus };
}

function headerText(value: HeaderValue): string | null {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? item : 'text' in item ? item.text : '')).join(', ');
  if (typeof value === 'object' && value !== null) {
    if ('text' in value && typeof value.text === 'string') return value.text;
    if ('value' in value && typeof value.value === 'string') return value.value;
  }
  return null;
}

function addressesOf(field: AddressObject | AddressObject[] | undefined): (string | null)[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return objects.flatMap((object) => object.value.slice(0, 10).map((entry) => (entry.address ? addressIn(entry.address) : null)));
}
