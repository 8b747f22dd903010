/**
 * Reads a bounce: a delivery status notification (RFC 3464 multipart/report,
 * and its internationalised form, RFC 6533), or the plain-text bounces some
 * MTAs still send (qmail's QSBMF; a "Delivery failed" text with an SMTP reply
 * in it). Tells auto-replies (RFC 3834, out-of-office) apart, to be ignored.
 * Pure: bytes in, a description out.
 */

export interface RecipientReport {
  /** Final-Recipient (or Original-Recipient), without its `rfc822;` type. */
  readonly recipient: string | null;
  /** RFC 3464 §2.3.3: failed, delayed, delivered, relayed or expanded. */
  readonly action: string;
  /** The enhanced status code (RFC 3463), `5.1.1`. */
  readonly status: string | null;
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
    }
  | { readonly kind: 'auto-reply'; readonly reason: string }
  | { readonly kind: 'not-a-bounce' };

interface Entity {
  readonly headers: Map<string, string>;
  readonly body: string;
}

/**
 * @example readBounce(raw).kind // 'report' | 'auto-reply' | 'not-a-bounce'
 */
export function readBounce(raw: Buffer | string): Bounce {
  const top = entity(typeof raw === 'string' ? raw : raw.toString('latin1'));
  const addressedTo = ['x-original-to', 'delivered-to', 'to'].flatMap((name) => addresses(top.headers.get(name) ?? ''));
  const type = top.headers.get('content-type') ?? '';
  if (/^multipart\/report/i.test(type) && /report-type="?(global-)?delivery-status/i.test(type)) {
    const status = parts(top, type).find((part) => /^message\/(global-)?delivery-status/i.test(part.headers.get('content-type') ?? ''));
    if (status) return { kind: 'report', ...deliveryStatus(decoded(status)), addressedTo };
  }
  const autoReply = autoReplyReason(top);
  if (autoReply) return { kind: 'auto-reply', reason: autoReply };
  const text = plainText(top, type);
  const qmail = qmailReport(text);
  if (qmail) return { kind: 'report', envelopeId: null, reportingMta: null, recipients: qmail, addressedTo };
  const from = top.headers.get('from') ?? '';
  const subject = top.headers.get('subject') ?? '';
  if (/mailer-daemon|postmaster/i.test(from) || /undeliver|delivery (status|failure|has failed)|failure notice|returned mail/i.test(subject)) {
    const reply = /\b([45])\d\d[ -]([245]\.\d{1,3}\.\d{1,3})?[^\r\n]*/.exec(text);
    if (reply) {
      const recipient = /<([^<>\s@]+@[^<>\s]+)>/.exec(text)?.[1] ?? null;
      const status = reply[2] ?? `${reply[1]}.0.0`;
      return {
        kind: 'report',
        envelopeId: null,
        reportingMta: null,
        recipients: [{ recipient, action: reply[1] === '5' ? 'failed' : 'delayed', status, diagnostic: reply[0].trim(), remoteMta: null }],
        addressedTo,
      };
    }
  }
  return { kind: 'not-a-bounce' };
}

/** RFC 3834 §5: Auto-Submitted other than `no`; and the older marks of vacation responders. */
function autoReplyReason(top: Entity): string | null {
  const submitted = top.headers.get('auto-submitted');
  if (submitted && !/^no\b/i.test(submitted)) return `Auto-Submitted: ${submitted}`;
  for (const name of ['x-autoreply', 'x-autorespond', 'x-auto-response-suppress']) if (top.headers.has(name)) return name;
  if (/^(auto_reply|auto-reply)$/i.test(top.headers.get('precedence') ?? '')) return 'Precedence: auto_reply';
  if (/^(out of office|automatic reply|autoreply|abwesend|отсутств)/i.test(top.headers.get('subject') ?? '')) return 'an out-of-office subject';
  return null;
}

/** The per-message and per-recipient fields of a message/delivery-status body (RFC 3464 §2.2, §2.3). */
function deliveryStatus(body: string) {
  const groups = body
    .replace(/\r\n/g, '\n')
    .split(/\n\s*\n/)
    .map(fields)
    .filter((g) => g.size > 0);
  const message = groups[0] ?? new Map<string, string>();
  const recipients: RecipientReport[] = groups
    .slice(1)
    .filter((g) => g.has('action'))
    .map((g) => ({
      recipient: typed(g.get('final-recipient') ?? g.get('original-recipient') ?? null),
      action: (g.get('action') ?? '').toLowerCase().split(/[\s(]/)[0]!,
      status: /\d\.\d{1,3}\.\d{1,3}/.exec(g.get('status') ?? '')?.[0] ?? null,
      diagnostic: g.get('diagnostic-code') ?? null,
      remoteMta: g.get('remote-mta') ?? null,
    }));
  return { envelopeId: message.get('original-envelope-id') ?? null, reportingMta: message.get('reporting-mta') ?? null, recipients };
}

/** qmail's bounce format (QSBMF): "Hi. This is the qmail-send program…", then `<address>:` and the reason. */
function qmailReport(text: string): RecipientReport[] | null {
  if (!/This is the qmail-send program/i.test(text)) return null;
  const failed = /permanent error|could not be delivered/i.test(text);
  const reports: RecipientReport[] = [];
  for (const match of text.matchAll(/^<([^<>\s]+@[^<>\s]+)>:\s*\n([\s\S]*?)(?=\n\s*\n|\n<|$)/gm)) {
    const reason = match[2]!.replace(/\s+/g, ' ').trim();
    const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reason)?.[1] ?? (/\b5\d\d\b/.test(reason) ? '5.0.0' : /\b4\d\d\b/.test(reason) ? '4.0.0' : null);
    const permanent = status ? status.startsWith('5') : failed;
    reports.push({ recipient: match[1]!, action: permanent ? 'failed' : 'delayed', status, diagnostic: reason || null, remoteMta: null });
  }
  return reports.length ? reports : null;
}

function entity(text: string): Entity {
  const split = text.search(/\r?\n\r?\n/);
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split).replace(/^\r?\n\r?\n/, '');
  return { headers: fields(head), body };
}

/** Header-style fields, unfolded; the first of each name wins. */
function fields(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!map.has(name)) map.set(name, line.slice(colon + 1).trim());
  }
  return map;
}

function parts(multipart: Entity, contentType: string): Entity[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return [];
  const delimiter = `--${boundary}`;
  return multipart.body
    .split(delimiter)
    .slice(1)
    .filter((chunk) => !chunk.startsWith('--'))
    .map((chunk) => entity(chunk.replace(/^[ \t]*\r?\n/, '')));
}

function decoded(part: Entity): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable')
    return Buffer.from(
      part.body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  return Buffer.from(part.body, 'latin1').toString('utf8');
}

/** The readable text of a plain bounce: the body, or the first text/plain part of a multipart one. */
function plainText(top: Entity, type: string): string {
  if (/^multipart\//i.test(type)) {
    const text = parts(top, type).find((part) => /^text\/plain/i.test(part.headers.get('content-type') ?? 'text/plain'));
    return text ? decoded(text).replace(/\r\n/g, '\n') : '';
  }
  return decoded(top).replace(/\r\n/g, '\n');
}

function typed(value: string | null): string | null {
  if (!value) return null;
  return value
    .replace(/^[a-z0-9-]+;\s*/i, '')
    .replace(/^<|>$/g, '')
    .trim();
}

function addresses(value: string): string[] {
  return [...value.matchAll(/[^\s<>,"]+@[^\s<>,"]+/g)].map((m) => m[0]);
}
