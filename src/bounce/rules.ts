/**
 * The text rules a bounce is read by, each linear in its input: they look at
 * one line at a time (cut at MAX_LINE_LENGTH), split it into words with one
 * character class, and test words with patterns anchored at both ends; no
 * pattern searches a line for a quantified run (`[^>]+@[^>]+`), which
 * backtracks quadratically on text such as `<a@a@a@…`. A test feeds each rule
 * pathological input under a time bound (test/bounce/rules.test.ts).
 */

/** What a rule reads of one line; the rest is cut. An SMTP reply line is at most 512 octets (RFC 5321 §4.5.3.1.5). */
export const MAX_LINE_LENGTH = 1000;
/** What a rule reads of one text: its first lines. A bounce's explanation is a few dozen. */
export const MAX_LINES = 2000;

/**
 * The lines of a text, without their ends, at most MAX_LINES of them, each cut at MAX_LINE_LENGTH.
 *
 * @example textLines('a\r\nb') // ['a', 'b']
 */
export function textLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start <= text.length && lines.length < MAX_LINES) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, Math.min(end, start + MAX_LINE_LENGTH + 1));
    lines.push(line.endsWith('\r') ? line.slice(0, -1) : line.slice(0, MAX_LINE_LENGTH));
    start = end + 1;
  }
  return lines;
}

/** The words of a line: what stands between white space and the punctuation around addresses and codes. */
function words(line: string): string[] {
  return line.slice(0, MAX_LINE_LENGTH).split(/[\s<>()[\],;"']+/);
}

/**
 * The first word that is an email address (one `@`, something on each side), without brackets or a trailing colon or dot.
 *
 * @example addressIn('<nobody@partner.example>: host mx said') // 'nobody@partner.example'
 */
export function addressIn(line: string): string | null {
  for (const word of words(line)) {
    const bare = withoutTrailing(word.replace(/^(mailto:|rfc822:)/i, ''), ':.');
    const at = bare.indexOf('@');
    if (at > 0 && at === bare.lastIndexOf('@') && at < bare.length - 1 && !bare.includes(':')) return bare;
  }
  return null;
}

/** The word without any of `marks` at its end (a loop: `/[:.]+$/` is quadratic on a word of dots). */
function withoutTrailing(word: string, marks: string): string {
  let end = word.length;
  while (end > 0 && marks.includes(word[end - 1]!)) end--;
  return word.slice(0, end);
}

/**
 * An enhanced status code (RFC 3463, class.subject.detail) standing as a word, as in `550 5.1.1` or qmail's `(#5.1.1)`.
 *
 * @example enhancedStatusIn('Sorry, no mailbox here by that name. (#5.1.1)') // '5.1.1'
 */
export function enhancedStatusIn(line: string): string | null {
  for (const word of words(line)) {
    const match = /^#?([245]\.\d{1,3}\.\d{1,3})[.:]?$/.exec(word);
    if (match) return match[1]!;
  }
  return null;
}

/** An SMTP reply found in a line of text. */
export interface SmtpReplyFound {
  /** `4` (transient) or `5` (permanent): RFC 5321 §4.2.1. */
  readonly severity: '4' | '5';
  /** The enhanced status code after the reply code, or `4.0.0` / `5.0.0`. */
  readonly status: string;
  /** The line from the reply code on. */
  readonly text: string;
}

/**
 * The first SMTP reply in a line: a word of three digits, 4xx or 5xx, standing
 * after nothing that is a digit or letter and followed by a space, a dash or the
 * end (`550 5.1.1 …`, `550-5.1.1 …`, `said: 452 4.2.2 …`).
 *
 * @example smtpReplyIn('host mx.partner.example said: 550 5.1.1 User unknown') // { severity: '5', status: '5.1.1', text: '550 5.1.1 User unknown' }
 */
export function smtpReplyIn(line: string): SmtpReplyFound | null {
  const text = line.slice(0, MAX_LINE_LENGTH);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c !== '4' && c !== '5') || !isReplyAt(text, i)) continue;
    const rest = text.slice(i);
    const status = /^\d{3}[ -]#?([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/.exec(rest.slice(0, 20))?.[1] ?? null;
    // An enhanced code whose class disagrees with the reply code is not believed (RFC 3463 §2).
    return { severity: c, status: status?.startsWith(c) ? status : `${c}.0.0`, text: rest };
  }
  return null;
}

function isReplyAt(text: string, i: number): boolean {
  const before = i === 0 ? ' ' : text[i - 1]!;
  const after = text[i + 3];
  return !/[\p{L}\p{N}.#-]/u.test(before) && /^\d\d$/.test(text.slice(i + 1, i + 3)) && (after === undefined || after === ' ' || after === '-');
}

/** What a bounce says in words, lower-cased, in English and Russian (Yandex, Mail.ru). */
const FAILURE_PHRASES = [
  'undeliver', // Undeliverable, Undelivered Mail Returned to Sender
  'could not be delivered',
  "couldn't be delivered",
  "wasn't delivered",
  'was not delivered',
  'delivery has failed',
  'delivery failed',
  'delivery to the following recipient',
  'delivery status notification (failure)',
  'failure notice',
  'returned mail',
  'permanent error',
  'permanent fatal error',
  'the following address(es) failed',
  'this is the qmail-send program',
  'mail delivery software',
  'mail delivery system',
  'не доставлено',
  'не было доставлено',
  'не может быть доставлено',
  'не удалось доставить',
  'недоставленное',
  'ошибка доставки',
];

/** What a delay report says (Exim's and Sendmail's warnings, RFC 3464 `delayed`). */
const DELAY_PHRASES = [
  'delayed',
  'has not yet been delivered',
  'not been delivered yet',
  'could not send message for past',
  'will continue trying',
  'still trying',
  'is being retried',
  'delivery status notification (delay)',
  'задерж',
  'ещё не доставлено',
  'еще не доставлено',
];

/**
 * Whether a line says that mail could not be delivered.
 *
 * @example saysUndelivered('Undelivered Mail Returned to Sender') // true
 */
export function saysUndelivered(line: string): boolean {
  const lower = line.slice(0, MAX_LINE_LENGTH).toLowerCase();
  return FAILURE_PHRASES.some((phrase) => lower.includes(phrase));
}

/**
 * Whether a line says that delivery is delayed, and still being tried.
 *
 * @example saysDelayed('Warning: message 1Rk4Ab-000123-Xy delayed 24 hours') // true
 */
export function saysDelayed(line: string): boolean {
  const lower = line.slice(0, MAX_LINE_LENGTH).toLowerCase();
  return DELAY_PHRASES.some((phrase) => lower.includes(phrase));
}

/**
 * Whether a From field is a mail system's own: MAILER-DAEMON, postmaster, or "Mail Delivery System/Subsystem".
 *
 * @example isMailSystem('Mail Delivery Subsystem <mailer-daemon@googlemail.com>') // true
 */
export function isMailSystem(from: string): boolean {
  const lower = from.slice(0, MAX_LINE_LENGTH).toLowerCase();
  return lower.includes('mailer-daemon') || lower.includes('postmaster@') || lower.includes('mail delivery s');
}

/** Where a plain-text bounce starts quoting the returned message: nothing from there on is the bounce's own words. */
const RETURNED_MESSAGE_MARKS = [
  '--- below this line is a copy of the message', // qmail
  '------ this is a copy of the message', // Exim
  '----- original message follows', // Sendmail
  '----- message header follows',
  '----- original message -----',
  '-----original message-----',
  'original message headers', // Exchange
  '--- исходное сообщение',
];

/**
 * Whether a line starts the quoted copy of the returned message.
 *
 * @example startsReturnedMessage('--- Below this line is a copy of the message.') // true
 */
export function startsReturnedMessage(line: string): boolean {
  const lower = line.slice(0, 80).trimStart().toLowerCase();
  return RETURNED_MESSAGE_MARKS.some((mark) => lower.startsWith(mark));
}

/** Subjects of vacation responders that set no RFC 3834 header, lower-cased prefixes. */
const AUTO_REPLY_SUBJECTS = [
  'out of office',
  'out of the office',
  'automatic reply',
  'auto reply',
  'autoreply',
  'auto-reply',
  'auto:',
  'abwesend',
  'absence',
  'vacation',
  'отсутств',
  'автоответ',
  'автоматический ответ',
  'нет на месте',
];

/**
 * Whether a subject is a vacation responder's.
 *
 * @example isAutoReplySubject('Automatic reply: Invitation') // true
 */
export function isAutoReplySubject(subject: string): boolean {
  const lower = subject.slice(0, 200).trimStart().toLowerCase();
  return AUTO_REPLY_SUBJECTS.some((prefix) => lower.startsWith(prefix));
}

/** Every rule over untrusted text, by name: the time-bound test runs each. */
export const TEXT_RULES: Readonly<Record<string, (text: string) => unknown>> = {
  textLines,
  addressIn,
  enhancedStatusIn,
  smtpReplyIn,
  saysUndelivered,
  saysDelayed,
  isMailSystem,
  startsReturnedMessage,
  isAutoReplySubject,
};
