/**
 * What a message that came to a bounce address is: a report about deliveries
 * (a delivery status notification, RFC 3464 and RFC 6533, or the plain-text
 * bounces of qmail, Exim, Sendmail and others), an auto-reply (RFC 3834, an
 * out-of-office), or neither. Pure, and linear in its input: every text rule
 * is one of rules.ts. Remote words are cleaned here, at the edge (remote-text.ts).
 *
 * A bounce is recognised before an auto-reply: Exim marks its bounces
 * `Auto-Submitted: auto-replied`, Sendmail `auto-generated (failure)`, and
 * they are bounces all the same.
 */
import { remoteText } from '../model/remote-text.ts';
import {
  addressIn,
  enhancedStatusIn,
  isAutoReplySubject,
  isMailSystem,
  saysDelayed,
  saysUndelivered,
  smtpReplyIn,
  startsReturnedMessage,
  textLines,
} from './rules.ts';

/** A message at a bounce address, as the parser hands it over (read.ts). */
export interface BounceMail {
  /** Header fields by lower-case name: the first of each, unfolded and decoded. */
  readonly headers: ReadonlyMap<string, string>;
  /** Where it was addressed (X-Original-To, Delivered-To, To), for intake without an envelope. */
  readonly addressedTo: readonly string[];
  /** Its readable text: the text/plain parts that are its own, not those of a message it returns. */
  readonly text: string;
  /** The bodies of its message/delivery-status and message/global-delivery-status parts. */
  readonly deliveryStatus: readonly string[];
}

export interface RecipientReport {
  /** Final-Recipient (or Original-Recipient), without its `rfc822;` type. */
  readonly recipient: string | null;
  /** RFC 3464 §2.3.3: failed, delayed, delivered, relayed or expanded. */
  readonly action: string;
  /** The enhanced status code (RFC 3463), `5.1.1`. */
  readonly status: string | null;
  /** What the remote server said, cleaned (remote-text.ts). */
  readonly diagnostic: string | null;
  readonly remoteMta: string | null;
}

export type Bounce =
  | {
      readonly kind: 'report';
      /** Original-Envelope-Id: the ENVID we gave at MAIL FROM (RFC 3461 §4.4). */
      readonly envelopeId: string | null;
      readonly reportingMta: string | null;
      readonly recipients: readonly RecipientReport[];
      /** Where the bounce was addressed (X-Original-To, Delivered-To, To), for intake without an envelope. */
      readonly addressedTo: readonly string[];
      /** Which reader recognised it: `dsn` (RFC 3464) or `text`. */
      readonly format: 'dsn' | 'text';
    }
  | { readonly kind: 'auto-reply'; readonly reason: string }
  | { readonly kind: 'not-a-bounce' };

/** An MTA's name as typed (`dns; mx.example`): a host name is at most 255 octets (RFC 1035 §2.3.4). */
const HOST_MAX = 300;
/** An address: at most 254 octets in a path (RFC 5321 §4.5.3.1.3). */
const ADDRESS_MAX = 254;
/** Recipients read from one report; a bounce of ours is about one. */
const MAX_RECIPIENTS = 100;
/** A header-style value read, continuation lines included. */
const MAX_FIELD_LENGTH = 4000;

/**
 * @example classifyBounce({ headers, addressedTo, text: '', deliveryStatus: ['Reporting-MTA: dns; mx…\n\nFinal-Recipient: rfc822; a@b\nAction: failed\nStatus: 5.1.1'] }).kind // 'report'
 */
export function classifyBounce(mail: BounceMail): Bounce {
  const addressedTo = mail.addressedTo.slice(0, 10);
  for (const body of mail.deliveryStatus) {
    const report = deliveryStatus(body);
    if (report.recipients.length > 0) return { kind: 'report', format: 'dsn', ...report, addressedTo };
  }
  const recipients = plainTextReport(mail);
  if (recipients) return { kind: 'report', format: 'text', envelopeId: null, reportingMta: null, recipients, addressedTo };
  const autoReply = autoReplyReason(mail.headers);
  if (autoReply) return { kind: 'auto-reply', reason: autoReply };
  return { kind: 'not-a-bounce' };
}

/** RFC 3834 §5: Auto-Submitted other than `no`; and the older marks of vacation responders. */
function autoReplyReason(headers: ReadonlyMap<string, string>): string | null {
  const submitted = headers.get('auto-submitted');
  if (submitted && !submitted.trimStart().toLowerCase().startsWith('no')) return `Auto-Submitted: ${remoteText(submitted, 60)}`;
  for (const name of ['x-autoreply', 'x-autorespond', 'x-auto-response-suppress']) if (headers.has(name)) return name;
  const precedence = (headers.get('precedence') ?? '').trim().toLowerCase();
  if (precedence === 'auto_reply' || precedence === 'auto-reply') return 'Precedence: auto_reply';
  if (isAutoReplySubject(headers.get('subject') ?? '')) return 'an out-of-office subject';
  return null;
}

/**
 * Header-style fields in blank-line separated groups, unfolded; the first of
 * each name wins (RFC 3464 §2.1: the per-message group, then one per recipient).
 */
function fieldGroups(body: string): Map<string, string>[] {
  const groups: Map<string, string>[] = [];
  let group = new Map<string, string>();
  let last: string | null = null;
  for (const line of textLines(body)) {
    if (line.trim() === '') {
      if (group.size > 0) groups.push(group);
      group = new Map();
      last = null;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && last !== null) {
      const value = group.get(last)!;
      if (value.length < MAX_FIELD_LENGTH) group.set(last, `${value} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    last = group.has(name) ? null : name;
    if (last !== null) group.set(name, line.slice(colon + 1).trim());
  }
  if (group.size > 0) groups.push(group);
  return groups;
}

/** The per-message and per-recipient fields of a message/delivery-status body (RFC 3464 §2.2, §2.3). */
function deliveryStatus(body: string) {
  const [message = new Map<string, string>(), ...perRecipient] = fieldGroups(body);
  const recipients: RecipientReport[] = perRecipient
    .filter((group) => group.has('action'))
    .slice(0, MAX_RECIPIENTS)
    .map((group) => ({
      recipient: typedAddress(group.get('final-recipient') ?? group.get('original-recipient') ?? null),
      action: (group.get('action') ?? '').trim().split(/[\s(]/, 1)[0]!.toLowerCase().slice(0, 20),
      status: enhancedStatusIn(group.get('status') ?? ''),
      diagnostic: remoteText(group.get('diagnostic-code')),
      remoteMta: remoteText(group.get('remote-mta'), HOST_MAX),
    }));
  return {
    envelopeId: remoteText(message.get('original-envelope-id'), 100),
    reportingMta: remoteText(message.get('reporting-mta'), HOST_MAX),
    recipients,
  };
}

/**
 * A plain-text bounce (qmail's QSBMF, Exim's and Sendmail's texts, and those
 * of mail systems that send no DSN): from a mail system, or saying in its
 * subject or first lines that mail was not delivered or is delayed; then, per
 * recipient, the SMTP reply or the enhanced status code that follows its
 * address. Null when it is none.
 */
function plainTextReport(mail: BounceMail): RecipientReport[] | null {
  const subject = mail.headers.get('subject') ?? '';
  const lines: string[] = [];
  for (const line of textLines(mail.text)) {
    if (startsReturnedMessage(line)) break;
    lines.push(line);
  }
  const fromMailSystem = isMailSystem(mail.headers.get('from') ?? '');
  // Delay words alone make no bounce ("my answer will be delayed"): only beside one of these.
  if (!fromMailSystem && !saysUndelivered(subject) && !lines.some(saysUndelivered)) return null;
  const delayed = saysDelayed(subject) || lines.some(saysDelayed);

  // Exim and Gmail name the failed recipients in a header of their own.
  const failedHeader = (mail.headers.get('x-failed-recipients') ?? '')
    .split(',', MAX_RECIPIENTS)
    .map(addressIn)
    .filter((a) => a !== null);
  const reports = new Map<string, RecipientReport>();
  let current: string | null = failedHeader[0] ?? null;
  for (const line of lines) {
    const reply = smtpReplyIn(line);
    const named = addressIn(line);
    // A line that starts with an address names the recipient it and the next lines are about (qmail, Exim, Sendmail, Postfix).
    if (named && line.trimStart().replace(/^</, '').startsWith(named)) current = named;
    const status = reply?.status ?? enhancedStatusIn(line);
    if (!status) continue;
    const recipient = current ?? (reply ? addressIn(reply.text) : null) ?? named;
    const key = (recipient ?? '').toLowerCase();
    if (reports.has(key) || reports.size >= MAX_RECIPIENTS) continue;
    reports.set(key, {
      recipient: remoteText(recipient, ADDRESS_MAX),
      action: status.startsWith('4') || (delayed && !status.startsWith('5')) ? 'delayed' : 'failed',
      status,
      diagnostic: remoteText(reply?.text ?? line),
      remoteMta: null,
    });
  }
  if (reports.size > 0) return [...reports.values()];
  // A bounce that gives no code: the header's recipients (or the first address), failed or delayed as its words say.
  if (!fromMailSystem && failedHeader.length === 0) return null;
  if (!delayed && !saysUndelivered(subject) && !lines.some(saysUndelivered)) return null;
  const recipients = failedHeader.length > 0 ? failedHeader : [lines.map(addressIn).find((a) => a !== null) ?? null];
  return recipients.map((recipient) => ({
    recipient: remoteText(recipient, ADDRESS_MAX),
    action: delayed ? 'delayed' : 'failed',
    status: delayed ? '4.0.0' : '5.0.0',
    diagnostic: remoteText(lines.find((line) => saysUndelivered(line) || saysDelayed(line))),
    remoteMta: null,
  }));
}

/** A typed value (`dns; mx.example`, RFC 3464 §2.1.2) without its type. */
function typedValue(value: string | null): string | null {
  if (value === null) return null;
  const semicolon = value.indexOf(';');
  return (semicolon === -1 ? value : value.slice(semicolon + 1)).trim();
}

/** A typed address (`rfc822; <a@b>`) as the address. */
function typedAddress(value: string | null): string | null {
  const bare = typedValue(value);
  return bare === null ? null : remoteText(addressIn(bare) ?? bare, ADDRESS_MAX);
}
