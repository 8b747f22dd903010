/**
 * VERP bounce addresses (variable envelope return path): each delivery's
 * envelope sender (MAIL FROM) names that delivery, so that a bounce, which
 * goes to the envelope sender (RFC 5321 §4.5.5), says whose mail bounced.
 *
 *   bounces+<delivery>.<mac>@bounce.example.com
 *
 * `<delivery>` packs the notification id and the recipient's position;
 * `<mac>` is an HMAC-SHA-256 of it under BOUNCE_SECRET, truncated to 80 bits,
 * so that nobody can make up an address that changes a status. Both are
 * lower-case base32: some MTAs fold the local part's case. The whole local
 * part stays within RFC 5321's 64 octets.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface VerpOptions {
  /** The local part before `+` (`bounces`). */
  readonly local: string;
  /** The domain whose MX delivers to the bounce listener. */
  readonly domain: string;
  /** BOUNCE_SECRET: the HMAC key. */
  readonly secret: string;
}

/** Which delivery a bounce address names. */
export interface BouncedDelivery {
  readonly notificationId: string;
  /** The recipient's position in the notification (0 for the first). */
  readonly position: number;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const MAC_BYTES = 10;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The envelope sender for one delivery.
 *
 * @example bounceAddressFor({ notificationId: '0b6…', position: 2 }, { local: 'bounces', domain: 'mail.example.com', secret })
 *          // 'bounces+aaaa…3.kq5…@mail.example.com'
 */
export function bounceAddressFor(delivery: BouncedDelivery, options: VerpOptions): string {
  return verpFor(delivery, options).address;
}

/**
 * The bounce address and its token (`<delivery>.<mac>`), computed once: the
 * token is also the DSN envelope id (ENVID, RFC 3461 §4.4) that comes back in
 * Original-Envelope-Id.
 *
 * @example const { address, token } = verpFor({ notificationId, position: 0 }, options)
 */
export function verpFor(delivery: BouncedDelivery, options: VerpOptions): { readonly address: string; readonly token: string } {
  if (!UUID.test(delivery.notificationId)) throw new Error(`not a notification id: ${delivery.notificationId}`);
  const payload = Buffer.concat([Buffer.from(delivery.notificationId.replace(/-/g, ''), 'hex'), varint(delivery.position)]);
  const token = `${base32(payload)}.${base32(mac(payload, options.secret))}`;
  return { address: `${options.local}+${token}@${options.domain}`, token };
}

/**
 * The delivery a bounce address names, or null when it is not one of ours or
 * its MAC does not verify (a forged or mangled address).
 *
 * @example deliveryOfBounceAddress('bounces+…@mail.example.com', options) // { notificationId, position } | null
 */
export function deliveryOfBounceAddress(address: string, options: VerpOptions): BouncedDelivery | null {
  const match = /^([^+@]+)\+([^@]+)@(.+)$/.exec(address.trim());
  if (!match || match[1]!.toLowerCase() !== options.local.toLowerCase() || match[3]!.toLowerCase() !== options.domain.toLowerCase()) return null;
  return deliveryOfBounceToken(match[2]!, options);
}

/**
 * The delivery a token names (the tag of a bounce address, or a DSN's
 * Original-Envelope-Id), or null when its MAC does not verify.
 *
 * @example deliveryOfBounceToken('aaaa….kq5…', options) // { notificationId, position } | null
 */
export function deliveryOfBounceToken(token: string, options: VerpOptions): BouncedDelivery | null {
  const match = /^([a-z2-7]+)\.([a-z2-7]+)$/.exec(token.trim().toLowerCase());
  if (!match) return null;
  const payload = fromBase32(match[1]!);
  const given = fromBase32(match[2]!);
  if (!payload || !given || payload.length < 17 || given.length !== MAC_BYTES) return null;
  if (!timingSafeEqual(given, mac(payload, options.secret))) return null;
  const hex = payload.subarray(0, 16).toString('hex');
  const position = readVarint(payload.subarray(16));
  if (position === null) return null;
  return { notificationId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`, position };
}

function mac(payload: Buffer, secret: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest().subarray(0, MAC_BYTES);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest & 0x7f;
    rest = Math.floor(rest / 128);
    bytes.push(rest ? low | 0x80 : low);
  } while (rest);
  return Buffer.from(bytes);
}

function readVarint(bytes: Buffer): number | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < bytes.length; i++) {
    value += (bytes[i]! & 0x7f) * scale;
    if (!(bytes[i]! & 0x80)) return i === bytes.length - 1 ? value : null;
    scale *= 128;
  }
  return null;
}

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function fromBase32(text: string): Buffer | null {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    const index = ALPHABET.indexOf(char);
    if (index < 0) return null;
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}
