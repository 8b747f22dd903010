/**
 * The outbox: where an accepted notification waits, one row per recipient,
 * until it is sent or its failure is known. One small interface, so that the
 * embedded SQLite outbox and the Redis/BullMQ one can replace each other;
 * both pass test/outbox/contract.ts.
 */
import type { NotificationRequest } from '../model/schema.ts';

export const DELIVERY_STATUSES = ['queued', 'sending', 'sent', 'retrying', 'failed', 'expired', 'superseded'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Statuses a delivery never leaves. */
export const FINAL_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['sent', 'failed', 'expired', 'superseded']);

/** What the relay last said about a delivery. */
export interface LastReply {
  /** nodemailer's error code, or `OK` for a delivery the relay accepted. */
  readonly code: string;
  readonly responseCode: number | null;
  readonly response: string | null;
  readonly message: string;
}

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
}

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
  /** Hash of the request body, to tell a replay from a different body under the same key. */
  readonly bodyHash: string;
  /** The request as received (JSON text): stored, and parsed again at send time. */
  readonly body: string;
  readonly request: NotificationRequest;
  readonly recipients: readonly string[];
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

/** A delivery a worker has claimed: it is `sending` until the worker reports back. */
export interface ClaimedDelivery {
  readonly deliveryId: string;
  readonly notificationId: string;
  readonly recipient: string;
  /** 1 for the first try. */
  readonly attempt: number;
  readonly body: string;
  readonly acceptedAt: number;
  readonly deadlineAt: number;
}

export interface Outbox {
  /** Stores a notification and a queued delivery per recipient, all or nothing. */
  accept(notification: NewNotification): Promise<AcceptOutcome>;
  status(id: string): Promise<NotificationStatus | null>;
  /**
   * Claims up to `max` due deliveries. Before it, a queued invitation or
   * update made obsolete by a newer REQUEST or CANCEL for the same event and
   * recipient becomes `superseded`; and a delivery waits while an older one
   * for the same event and recipient is unfinished (sequence order).
   */
  claim(max: number, now: number): Promise<ClaimedDelivery[]>;
  markSent(deliveryId: string, result: { messageId: string; response: string; at: number }): Promise<void>;
  markRetrying(deliveryId: string, result: { messageId: string | null; reply: LastReply; nextAttemptAt: number; at: number }): Promise<void>;
  /** `failed` (permanent) or `expired` (transient past the deadline). */
  markFinalFailure(deliveryId: string, result: { status: 'failed' | 'expired'; messageId: string | null; reply: LastReply; at: number }): Promise<void>;
  /** Hands claimed deliveries back, untouched (shutdown). */
  release(deliveryIds: readonly string[]): Promise<void>;
  /** How many deliveries are in each status. */
  counts(): Promise<Record<DeliveryStatus, number>>;
  /** Throws when the outbox cannot take a write. */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The key deliveries are ordered and superseded by: the event and the
 * recipient, and for replies the attendee who answered (answers of different
 * attendees never replace each other).
 */
export function orderKey(request: NotificationRequest, recipient: string): string {
  const base = `${request.event.uid}\n${recipient.toLowerCase()}`;
  return request.type === 'reply' && request.reply ? `${base}\nreply:${request.reply.attendee.toLowerCase()}` : base;
}
