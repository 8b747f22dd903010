/**
 * What user text may contain. Names and titles end up in mail headers,
 * iCalendar lines and HTML; a line break there is header injection
 * (RFC 5322 §2.2), a bidi override reverses what the reader sees
 * (Trojan Source, CVE-2021-42574) and a literal encoded-word is shown decoded
 * (RFC 2047 §6). All are rejected, never stripped.
 */
import { z } from 'zod';

// C0 controls (tab included), DEL, C1 controls, line/paragraph separators.
const SINGLE_LINE_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// Multi-line text keeps LF, CRLF and TAB; every other control is still refused.
const MULTI_LINE_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]|\r(?!\n)/;
// Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
// An RFC 2047 encoded-word (=?charset?B|Q?text?=): in a header, mail clients show it decoded,
// so a literal one would smuggle a CR/LF-free but arbitrary display text past the rules above.
const ENCODED_WORD = /=\?[^?\s]*\?[bq]\?[^?\s]*\?=/i;
// RFC 5321 dot-atom local part @ a dotted host name whose last label is letters or punycode.
const EMAIL_ADDRESS =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

/**
 * A one-line, visible string: a name, a title, a location.
 *
 * @example singleLineText(200).parse('Собрание акционеров')
 */
export function singleLineText(maxLength: number) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(maxLength, `must be at most ${maxLength} characters`)
    .refine((value) => !SINGLE_LINE_FORBIDDEN.test(value), 'must be one line without control characters (CR, LF, TAB…)')
    .refine((value) => !BIDI_CONTROL.test(value), 'must not contain bidirectional override characters (U+202A–U+202E, U+2066–U+2069)')
    .refine((value) => !ENCODED_WORD.test(value), 'must not contain an RFC 2047 encoded-word (=?charset?B?…?=): mail clients would show it decoded');
}

/**
 * Plain text with line breaks kept: a description, a reply comment.
 *
 * @example multiLineText(20000).parse('Повестка:\n1. Итоги')
 */
export function multiLineText(maxLength: number) {
  return z
    .string()
    .max(maxLength, `must be at most ${maxLength} characters`)
    .refine((value) => !MULTI_LINE_FORBIDDEN.test(value), 'must not contain control characters other than line breaks and tabs')
    .refine((value) => !BIDI_CONTROL.test(value), 'must not contain bidirectional override characters (U+202A–U+202E, U+2066–U+2069)');
}

/**
 * A link a recipient may click: `https:` or `http:` only, no credentials in it.
 *
 * @example webLink().parse('https://video.mydomain.ru/c/sever-weekly')
 */
export function webLink() {
  return z
    .string()
    .max(2048, 'must be at most 2048 characters')
    .superRefine((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be an absolute https: or http: URL' });
        return;
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        ctx.addIssue({ code: 'custom', message: `must be an https: or http: URL, not ${url.protocol}` });
      } else if (url.username || url.password) {
        ctx.addIssue({ code: 'custom', message: 'must not carry a user name or password' });
      } else if (/[\s<>"\u0000-\u001f\u007f]/.test(value)) {
        ctx.addIssue({ code: 'custom', message: 'must not contain spaces, control characters, quotes or angle brackets' });
      }
    });
}

/**
 * An email address as SMTP carries it without the SMTPUTF8 extension
 * (RFC 5321 §4.1.2): ASCII, at most 254 octets, a dotted domain. Internationalised
 * domains are given in their punycode form (`xn--…`).
 *
 * @example emailAddress().parse('e.smirnova@mydomain.ru')
 */
export function emailAddress() {
  return z
    .string()
    .max(254, 'must be at most 254 characters')
    .regex(EMAIL_ADDRESS, 'must be an email address such as name@example.com (ASCII; punycode for international domains)')
    .refine((value) => value.indexOf('@') <= 64, 'must have a local part of at most 64 characters');
}

/**
 * A telephone number to dial: digits with the usual separators, at most 15
 * digits (ITU-T E.164), optionally starting with `+`.
 *
 * @example phoneNumber().parse('+7 495 123-45-67')
 */
export function phoneNumber() {
  return z
    .string()
    .regex(/^\+?[0-9][0-9 ()./-]*$/, 'must be a phone number such as +7 495 123-45-67')
    .refine((value) => {
      const digits = value.replace(/\D/g, '').length;
      return digits >= 3 && digits <= 15;
    }, 'must have between 3 and 15 digits (E.164)');
}
