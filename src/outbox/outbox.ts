/**
 * The outbox: where an accepted notification waits, one record per recipient,
 * until it is sent or its failure is known; what others hear of it
 * (events.ts); and how long any of it is kept. Small interfaces, so that the
 * embedded SQLite outbox (sqlite/) and the Redis/BullMQ one (redis/) can
 * replace each other: both pass test/outbox/contract.ts and events-contract.ts.
 */
import type { DeliveryClass } from '../delivery/fairness.ts';
import type { DeliveryReport, DeliveryStatus, Outcome } from '../delivery/policy.ts';
import type { CalendarMethod } from '../model/itip-method.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { RelayReply } from '../transport/delivery-error.ts';
import type { EventQueue, StoredReport } from './events.ts';

export { DELIVERY_STATUSES, type DeliveryStatus, FINAL_STATUSES } from '../delivery/policy.ts';
export type { StoredReport } from './events.ts';

/**
 * Thrown by `begin` and `settle` when the delivery is no longer in the state
 * this worker left it in (another instance took it over after this one lost
 * its lease): the outcome cannot be applied, and retrying will not change that.
 */
export class StaleDeliveryError extends Error {
  readonly code = 'ESTALE';
  constructor(message: string) {
    super(message);
    this.name = 'StaleDeliveryError';
  }
}

/** What the relay last said about a delivery (the transport's reply record). */
export type LastReply = RelayReply;

export interface DeliveryRecord {
  readonly email: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly lastReply: LastReply | null;
  readonly messageId: string | null;
  readonly queuedAt: string;
  readonly updatedAt: string;
  readonly sentAt: string | null;
  readonly nextAttemptAt: string | null;
  /** The last delivery status notification about it: why it bounced, or that it is delayed. */
  readonly report: StoredReport | null;
}

/** Which delivery a bounce names (a VERP address, or the DSN's envelope id). */
export interface DeliveryRef {
  readonly notificationId: string;
  readonly position: number;
}

/** What a report did: `bounced`, `noted` (a delay), `ignored` (nothing to change), or no such delivery. */
export type ReportResult = 'bounced' | 'noted' | 'ignored' | 'no-such-delivery';

export interface NotificationStatus {
  readonly id: string;
  readonly type: NotificationRequest['type'];
  readonly event: { readonly uid: string; readonly sequence: number };
  readonly acceptedAt: string;
  /** After this, transient failures are no longer retried (`expired`). */
  readonly deadlineAt: string;
  readonly recipients: readonly DeliveryRecord[];
}

export interface NewNotification {
  readonly id: string;
  readonly idempotencyKey: string | null;
  /** Hash of the request body, to tell a replay from a different body under the same key; empty without a key. */
  readonly bodyHash: string;
  /** The request as received (JSON text): stored, and parsed again at send time. */
  readonly body: string;
  readonly type: NotificationRequest['type'];
  readonly event: { readonly uid: string; readonly sequence: number; readonly occurrence: string | null };
  readonly method: CalendarMethod;
  /** Each recipient with its order key (policy.orderKey), in the request's order. */
  readonly recipients: readonly { readonly email: string; readonly orderKey: string }[];
  /** Which deliveries go first (fairness.ts): small, then large changes, then large invitations. */
  readonly deliveryClass: DeliveryClass;
  /** Whose notifications take turns with others' (fairness.ts, organizerFlow): the organizer, as a digest. */
  readonly flow: string;
  readonly acceptedAt: number;
  readonly deadlineAt: number;
}

export type AcceptOutcome =
  /** Stored, durably: the 202 may be sent. */
  | { readonly kind: 'accepted'; readonly notification: NotificationStatus }
  /** The same key with the same body: the first answer again, nothing stored twice. */
  | { readonly kind: 'replayed'; readonly notification: NotificationStatus }
  /** The same key with another body. */
  | { readonly kind: 'key-reused' }
  /** The same key while the first request with it is still being stored. */
  | { readonly kind: 'in-progress' };

/**
 * A delivery a worker has claimed (leased): still `queued` or `retrying` until
 * the worker puts it on the wire (`begin`), then `sending` until it settles.
 */
export interface ClaimedDelivery {
  readonly deliveryId: string;
  readonly notificationId: string;
  readonly recipient: string;
  /** The recipient's position in the notification (what a bounce address names). */
  readonly position: number;
  /** 1 for the first try: the attempt `begin` starts. */
  readonly attempt: number;
  /** Earlier attempts whose outcome was unknown. */
  readonly unconfirmed: number;
  readonly body: string;
  readonly acceptedAt: number;
  readonly deadlineAt: number;
}

/** Deliveries: accepted, leased to workers, settled, reported on. */
export interface DeliveryStore {
  /** Stores a notification and a queued delivery per recipient, all or nothing. */
  accept(notification: NewNotification): Promise<AcceptOutcome>;
  status(id: string): Promise<NotificationStatus | null>;
  /** The request as accepted (JSON text), or null when there is no such notification (any more). */
  body(id: string): Promise<string | null>;
  /**
   * Leases up to `max` due deliveries to this worker, applying the delivery
   * rules (policy.arbitrate) on the way: a delivery made obsolete becomes
   * `superseded`, one behind an older unfinished delivery for the same event
   * and recipient waits. A lease that fails half-way releases what it took.
   */
  claim(max: number, now: number): Promise<ClaimedDelivery[]>;
  /** The delivery goes on the wire now: `sending`, one more attempt. */
  begin(deliveryId: string, at: number): Promise<void>;
  /** Records an attempt's outcome (policy.decide) and ends the lease. */
  settle(deliveryId: string, outcome: Outcome): Promise<void>;
  /**
   * Hands leased deliveries back unsent (shutdown, or recording broke): due again at once. Rejects
   * when it cannot; they are then due again once their lease runs out (SQLite: at the next start;
   * Redis: when the job's lock expires and a stalled check hands it on).
   */
  release(deliveryIds: readonly string[]): Promise<void>;
  /** Applies a delivery status notification (policy.afterReport): `bounced`, or a delay kept as information. */
  report(delivery: DeliveryRef, report: DeliveryReport): Promise<ReportResult>;
  /** How many deliveries are in each status. */
  counts(): Promise<Record<DeliveryStatus, number>>;
  /** The deliveries whose time to be sent has come, for /metrics. */
  backlog(now: number): Promise<DeliveryBacklog>;
  /** Throws when the outbox cannot take a write. */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}

/** Deliveries waiting (queued or retrying) whose time to be sent has come. */
export interface DeliveryBacklog {
  readonly due: number;
  /** When the longest-waiting of them became due (ms since the epoch); null when none is due. */
  readonly oldestDueAt: number | null;
}

/** What a purge or an erasure removed. */
export interface Removed {
  readonly notifications: number;
  /** Events no consumer had taken yet, by consumer. */
  readonly undeliveredEvents: Readonly<Record<string, number>>;
}

/** How long anything is kept (RETENTION), and erasure on request. */
export interface Retention {
  /**
   * Removes up to `max` notifications whose recipients all became final at or
   * before `finalBefore`, with their deliveries, facts and events, from every
   * file or key that held them. Call again while it removes `max`.
   */
  purge(finalBefore: number, max: number): Promise<Removed>;
  /** Removes one notification now, whatever its state: what was not sent is never sent. Null: no such notification. */
  erase(id: string): Promise<Removed | null>;
}

/**
 * Every committed change of a delivery that a consumer hears of (events.ts)
 * is stored as a fact, and queued for that consumer, in the same write.
 */
export interface Outbox extends DeliveryStore, Retention {
  readonly events: EventQueue;
}

/**
 * A notification's status as it was just stored: every recipient queued (the
 * answer to the POST), made from what was stored rather than read back.
 *
 * @example return { kind: 'accepted', notification: statusOfNew(n) };
 */
export function statusOfNew(n: NewNotification): NotificationStatus {
  const at = new Date(n.acceptedAt).toISOString();
  return {
    id: n.id,
    type: n.type,
    event: { uid: n.event.uid, sequence: n.event.sequence },
    acceptedAt: at,
    deadlineAt: new Date(n.deadlineAt).toISOString(),
    recipients: n.recipients.map((r) => ({
      email: r.email,
      status: 'queued',
      attempts: 0,
      lastReply: null,
      messageId: null,
      queuedAt: at,
      updatedAt: at,
      sentAt: null,
      nextAttemptAt: at,
      report: null,
    })),
  };
}
