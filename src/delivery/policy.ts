/**
 * The delivery rules, once, with no I/O: the statuses a delivery goes
 * through, which transitions are allowed, which message supersedes which, the
 * order per event and recipient, and what an attempt's result becomes (sent,
 * retrying, failed, expired, unknown). Both outboxes are storage that applies
 * these rules; test/delivery/policy.test.ts checks them without a database.
 *
 *   queued ──▶ sending ──▶ sent | failed | expired | unknown
 *     │  ▲        │                    sent | unknown ──▶ bounced  (a delivery status notification, RFC 3464)
 *     │  └────────┴──▶ retrying ──▶ sending …        (a crash, or a hand-back: sending ──▶ queued)
 *     └──────────────▶ superseded  (also from retrying)
 */
import type { CalendarMethod } from '../model/itip-method.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { RelayReply, SendResult } from '../transport/delivery-error.ts';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.ts';

export const DELIVERY_STATUSES = ['queued', 'sending', 'sent', 'retrying', 'failed', 'expired', 'unknown', 'superseded', 'bounced'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Statuses a delivery is never sent from again. Only a bounce can still
 * change one: `sent` or `unknown` becomes `bounced` when the relay reports
 * afterwards that it could not deliver.
 */
export const FINAL_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['sent', 'failed', 'expired', 'unknown', 'superseded', 'bounced']);
/** Final statuses that mean the recipient never got it: what the organizer is told of (NOTIFY_ORGANIZER=failures). */
export const UNDELIVERED_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['failed', 'expired', 'bounced']);
/** Statuses a worker may take a delivery from (when it is due). */
export const WAITING_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['queued', 'retrying']);

const TRANSITIONS: Readonly<Record<DeliveryStatus, readonly DeliveryStatus[]>> = {
  queued: ['sending', 'superseded'],
  retrying: ['sending', 'superseded'],
  // `queued`: handed back unsent at shutdown, or found `sending` after a crash.
  sending: ['sent', 'retrying', 'failed', 'expired', 'unknown', 'queued'],
  sent: ['bounced'],
  failed: [],
  expired: [],
  unknown: ['bounced'],
  superseded: [],
  bounced: [],
};

/**
 * Whether a delivery may go from one status to another.
 *
 * @example canTransition('queued', 'sent') // false: only what was on the wire can be sent
 */
export function canTransition(from: DeliveryStatus, to: DeliveryStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * What an attempt came to, as the outbox records it. `retrying` with
 * `unconfirmed` is the one resend after an unknown outcome.
 */
export type Outcome =
  | { readonly kind: 'sent'; readonly reply: RelayReply; readonly messageId: string; readonly at: number }
  | {
      readonly kind: 'retrying';
      readonly reply: RelayReply;
      readonly messageId: string | null;
      readonly at: number;
      readonly nextAttemptAt: number;
      readonly unconfirmed: boolean;
    }
  | { readonly kind: 'failed' | 'expired' | 'unknown'; readonly reply: RelayReply; readonly messageId: string | null; readonly at: number };

/** The status an outcome leaves a delivery in. */
export function statusAfter(outcome: Outcome): DeliveryStatus {
  return outcome.kind;
}

export interface AttemptContext {
  /** 1 for the first try. */
  readonly attempt: number;
  /** Earlier attempts whose outcome was unknown (the relay may have the message). */
  readonly unconfirmed: number;
  readonly deadlineAt: number;
}

export interface OutcomePolicy extends RetryPolicy {
  /** How long to wait before the one resend after an unknown outcome (RETRY_UNCONFIRMED_DELAY_MS). */
  readonly unconfirmedDelayMs: number;
}

/**
 * Turns an attempt's send result into the outcome to record:
 * - accepted: `sent`;
 * - permanent: `failed`;
 * - transient: `retrying` with backoff, or `expired` past the deadline;
 * - unknown (no answer to the end of DATA): the relay may have the message, so
 *   it is resent once (same Message-ID), after a long delay; a second unknown
 *   is final, `unknown`, and never resent.
 *
 * @example decide({ attempt: 1, unconfirmed: 0, deadlineAt }, { verdict: 'unknown', reply }, '<id@x>', Date.now(), policy).kind // 'retrying'
 */
export function decide(
  context: AttemptContext,
  result: SendResult,
  messageId: string | null,
  now: number,
  policy: OutcomePolicy,
  random?: () => number,
): Outcome {
  const { reply } = result;
  switch (result.verdict) {
    case 'accepted':
      return { kind: 'sent', reply, messageId: messageId ?? '', at: now };
    case 'permanent':
      return { kind: 'failed', reply, messageId, at: now };
    case 'unknown': {
      if (context.unconfirmed > 0 || now >= context.deadlineAt) return { kind: 'unknown', reply, messageId, at: now };
      const next = Math.min(now + policy.unconfirmedDelayMs, context.deadlineAt);
      return { kind: 'retrying', reply, messageId, at: now, nextAttemptAt: next, unconfirmed: true };
    }
    case 'transient': {
      const next = nextAttemptAt(context.attempt, now, context.deadlineAt, policy, random);
      if (next === null) return { kind: 'expired', reply, messageId, at: now };
      return { kind: 'retrying', reply, messageId, at: now, nextAttemptAt: next, unconfirmed: false };
    }
  }
}

/** What a delivery status notification (RFC 3464) said about one recipient. */
export interface DeliveryReport {
  /** RFC 3464 §2.3.3 Action: `failed` (it bounced) or `delayed` (still trying). */
  readonly action: 'failed' | 'delayed';
  /** The enhanced status code (RFC 3463), `5.1.1`. */
  readonly status: string | null;
  /** Diagnostic-Code: what the remote server said. */
  readonly diagnostic: string | null;
  /** Remote-MTA: the server that refused it. */
  readonly remoteMta: string | null;
  /** Reporting-MTA: the server that wrote the report. */
  readonly reportingMta: string | null;
  readonly at: number;
}

/**
 * How often a delivery's delay is told at most: a delay report within this
 * time of the last one kept changes nothing and makes no webhook event. MTAs
 * warn once or twice in a delivery's life (Postfix and Sendmail after 4 hours),
 * so more is a loop or a flood.
 */
export const DELAY_REPORT_INTERVAL_MS = 60 * 60 * 1000;

/**
 * What a report does to a delivery in `status`: a failure after acceptance
 * makes it `bounced`; a delay report is kept on it as information (`noted`),
 * unless the delivery's last report was a delay less than
 * DELAY_REPORT_INTERVAL_MS before; anything else changes nothing (a report
 * for a delivery not sent yet, or already bounced).
 *
 * @example afterReport('sent', { action: 'failed', at }) // 'bounced'
 * @example afterReport('sent', { action: 'delayed', at }, { action: 'delayed', at: at - 60_000 }) // 'ignored'
 */
export function afterReport(
  status: DeliveryStatus,
  report: Pick<DeliveryReport, 'action' | 'at'>,
  previous: Pick<DeliveryReport, 'action' | 'at'> | null = null,
): 'bounced' | 'noted' | 'ignored' {
  if (status !== 'sent' && status !== 'unknown') return 'ignored';
  if (report.action === 'failed') return 'bounced';
  return previous?.action === 'delayed' && report.at - previous.at < DELAY_REPORT_INTERVAL_MS ? 'ignored' : 'noted';
}

/** The statuses a report can act on. */
export const REPORTABLE_STATUSES: readonly DeliveryStatus[] = ['sent', 'unknown'];

/** What the order and supersede rules need to know of a delivery. */
export interface OrderedDelivery {
  readonly id: string;
  readonly status: DeliveryStatus;
  readonly sequence: number;
  /** Arrival order among deliveries of the same sequence (acceptance order). */
  readonly arrival: number;
  readonly method: CalendarMethod;
  /** RECURRENCE-ID as written in the request, or null for the whole event. */
  readonly occurrence: string | null;
  /** When it is due (queued and retrying), or null. */
  readonly nextAttemptAt: number | null;
}

/** Whether `a` comes before `b` for the same event and recipient: by sequence, then by arrival. */
export function comesBefore(a: OrderedDelivery, b: OrderedDelivery): boolean {
  return a.sequence < b.sequence || (a.sequence === b.sequence && a.arrival < b.arrival);
}

/**
 * Whether a newer delivery makes an unsent one obsolete: a queued or retrying
 * invitation or update (REQUEST) is replaced by any later REQUEST or CANCEL for
 * the same event (or for the whole event, when it is about one occurrence),
 * since the later one tells the recipient everything (RFC 5546 §2.1.5).
 */
export function supersedes(newer: OrderedDelivery, older: OrderedDelivery): boolean {
  return (
    WAITING_STATUSES.has(older.status) &&
    older.method === 'REQUEST' &&
    comesBefore(older, newer) &&
    (newer.method === 'REQUEST' || newer.method === 'CANCEL') &&
    (newer.occurrence === null || newer.occurrence === older.occurrence)
  );
}

/** What a due delivery should do now, given the others for the same event and recipient. */
export type Arbitration = { readonly action: 'send' } | { readonly action: 'supersede' } | { readonly action: 'wait'; readonly until: number };

/** How long a delivery waits before looking again at an older one with no known time (on the wire now). */
export const ORDER_RECHECK_MS = 250;

/**
 * Decides for a due delivery: superseded by a newer one, waiting for an older
 * unfinished one (per event and recipient, messages go out in sequence order),
 * or free to send.
 *
 * @example arbitrate(update, [invitation], Date.now()) // { action: 'wait', until: … } while the invitation is unfinished
 */
export function arbitrate(candidate: OrderedDelivery, others: readonly OrderedDelivery[], now: number): Arbitration {
  const rivals = others.filter((o) => o.id !== candidate.id);
  if (rivals.some((newer) => supersedes(newer, candidate))) return { action: 'supersede' };
  const blocking = rivals.filter((older) => comesBefore(older, candidate) && !FINAL_STATUSES.has(older.status) && !others.some((n) => supersedes(n, older)));
  if (blocking.length === 0) return { action: 'send' };
  const until = Math.max(now + ORDER_RECHECK_MS, ...blocking.map((b) => b.nextAttemptAt ?? 0));
  return { action: 'wait', until };
}

/**
 * The key deliveries are ordered and superseded by: the event and the
 * recipient, and for replies the attendee who answered (answers of different
 * attendees never replace each other).
 *
 * @example orderKey(request, 'A@x.ru') // 'uid@x\na@x.ru'
 */
export function orderKey(request: NotificationRequest, recipient: string): string {
  const base = `${request.event.uid}\n${recipient.toLowerCase()}`;
  return request.type === 'reply' && request.reply ? `${base}\nreply:${request.reply.attendee.toLowerCase()}` : base;
}
