/**
 * What the Redis outbox stores of a notification and its deliveries, and what
 * the rest of the service sees of it.
 */
import type { DeliveryClass } from '../../delivery/fairness.ts';
import { type DeliveryStatus, type OrderedDelivery, WAITING_STATUSES } from '../../delivery/policy.ts';
import type { CalendarMethod } from '../../model/itip-method.ts';
import type { StoredReport } from '../events.ts';
import type { DeliveryRecord, LastReply, NotificationStatus } from '../outbox.ts';

export interface StoredDelivery {
  email: string;
  status: DeliveryStatus;
  attempts: number;
  unconfirmed?: number;
  lastReply: LastReply | null;
  messageId: string | null;
  queuedAt: number;
  updatedAt: number;
  sentAt: number | null;
  nextAttemptAt: number | null;
  orderKey: string;
  orderMember: string;
  sequence: number;
  method: CalendarMethod;
  occurrence: string | null;
  report?: StoredReport | null;
  /**
   * Handed to a job of its own (a retry, or a wait) out of a job of several: from then on only
   * that job sends it, so that two instances never hold jobs that both would.
   */
  ownJob?: boolean;
}

export interface Meta {
  type: NotificationStatus['type'];
  uid: string;
  sequence: number;
  acceptedAt: number;
  deadlineAt: number;
  count: number;
  /** So that removing the notification removes its key (absent before RETENTION). */
  idempotencyKey?: string | null;
  /** Its fair place (delivery/fairness.ts); absent before fair delivery: a large invitation's, at the front. */
  fair?: FairStart;
}

/** Where a notification's jobs go in the fair order: its class, and the tag its first job has. */
export interface FairStart {
  readonly deliveryClass: DeliveryClass;
  readonly startTag: number;
}

/** @example fairStartOf(meta).deliveryClass // 0, 1 or 2 */
export function fairStartOf(meta: Meta): FairStart {
  return meta.fair ?? { deliveryClass: 2, startTag: 0 };
}

export interface JobData {
  notificationId: string;
  /** The (first) recipient's position in the notification. */
  position: string;
  /** The last recipient's position in a job of several; absent in a job of one (a retry, a wait, or a rate-limited queue). */
  last?: string;
}

/** A delivery's id: its notification and position (also the id of its job when the job is its alone). */
export function deliveryIdOf(notificationId: string, position: string): string {
  return `${notificationId}.${position}`;
}

/** Whether a job carries several recipients (a notification's first jobs) rather than one (a retry, a wait, a rate-limited queue). */
export function ofSeveral(data: JobData): boolean {
  return data.last !== undefined;
}

/** The positions a job carries, first to last. */
export function positionsOf(data: JobData): string[] {
  const first = Number(data.position);
  const count = ofSeveral(data) ? Number(data.last) - first + 1 : 1;
  return Array.from({ length: count }, (_, i) => String(first + i));
}

/** A delivery as the rules weigh it (policy.arbitrate); `member` is its place in its order key's set. */
export function ordered(record: StoredDelivery, member: string): OrderedDelivery {
  return {
    id: member,
    status: record.status,
    sequence: record.sequence,
    arrival: Number(member.split('|')[0]),
    method: record.method,
    occurrence: record.occurrence,
    nextAttemptAt: WAITING_STATUSES.has(record.status) ? record.nextAttemptAt : null,
  };
}

export function notificationStatus(id: string, meta: Meta, deliveries: Record<string, string>): NotificationStatus {
  const records: DeliveryRecord[] = [];
  for (let position = 0; position < meta.count; position++) records.push(toRecord(JSON.parse(deliveries[String(position)]!) as StoredDelivery));
  return {
    id,
    type: meta.type,
    event: { uid: meta.uid, sequence: meta.sequence },
    acceptedAt: new Date(meta.acceptedAt).toISOString(),
    deadlineAt: new Date(meta.deadlineAt).toISOString(),
    recipients: records,
  };
}

function toRecord(stored: StoredDelivery): DeliveryRecord {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    email: stored.email,
    status: stored.status,
    attempts: stored.attempts,
    lastReply: stored.lastReply,
    messageId: stored.messageId,
    queuedAt: iso(stored.queuedAt)!,
    updatedAt: iso(stored.updatedAt)!,
    sentAt: iso(stored.sentAt),
    nextAttemptAt: stored.status === 'queued' || stored.status === 'retrying' ? iso(stored.nextAttemptAt) : null,
    report: stored.report ?? null,
  };
}
