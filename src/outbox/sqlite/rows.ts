/**
 * SQLite rows and what the rest of the service sees of them.
 */
import { type DeliveryStatus, FINAL_STATUSES, type OrderedDelivery } from '../../delivery/policy.ts';
import type { CalendarMethod } from '../../model/itip-method.ts';
import type { DeliveryRecord, LastReply, NotificationStatus } from '../outbox.ts';

export interface RivalRow {
  id: number;
  order_key: string;
  status: DeliveryStatus;
  sequence: number;
  method: CalendarMethod;
  occurrence: string | null;
  next_attempt_at: number;
  lease_until: number | null;
}

export type OrderedRow = { -readonly [K in keyof OrderedDelivery]: OrderedDelivery[K] } & { readonly orderKey: string };

/** A delivery as the rules weigh it (policy.arbitrate). */
export function orderedRow(row: RivalRow): OrderedRow {
  return {
    id: String(row.id),
    orderKey: row.order_key,
    status: row.status,
    sequence: row.sequence,
    arrival: row.id,
    method: row.method,
    occurrence: row.occurrence,
    // A leased delivery is on its way out: those after it look again shortly.
    nextAttemptAt: row.status === 'sending' || row.lease_until !== null || FINAL_STATUSES.has(row.status) ? null : row.next_attempt_at,
  };
}

export interface NotificationRow {
  id: string;
  type: string;
  uid: string;
  sequence: number;
  accepted_at: number;
  deadline_at: number;
}

export interface ReplyColumns {
  last_code: string | null;
  last_response_code: number | null;
  last_response: string | null;
  last_message: string | null;
}

export interface DeliveryRow extends ReplyColumns {
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  message_id: string | null;
  queued_at: number;
  updated_at: number;
  sent_at: number | null;
  next_attempt_at: number;
  report_action: 'failed' | 'delayed' | null;
  report_status: string | null;
  report_diagnostic: string | null;
  report_remote_mta: string | null;
  report_reporting_mta: string | null;
  report_at: number | null;
}

/** The relay's last reply as stored in a delivery row, or null before any attempt. */
export function lastReplyOf(row: ReplyColumns): LastReply | null {
  return row.last_code === null
    ? null
    : { code: row.last_code, responseCode: row.last_response_code, response: row.last_response, message: row.last_message ?? row.last_response ?? '' };
}

export function notificationStatus(row: NotificationRow, deliveries: readonly DeliveryRow[]): NotificationStatus {
  return {
    id: row.id,
    type: row.type as NotificationStatus['type'],
    event: { uid: row.uid, sequence: row.sequence },
    acceptedAt: iso(row.accepted_at)!,
    deadlineAt: iso(row.deadline_at)!,
    recipients: deliveries.map(deliveryRecord),
  };
}

function deliveryRecord(row: DeliveryRow): DeliveryRecord {
  return {
    email: row.recipient,
    status: row.status,
    attempts: row.attempts,
    lastReply: lastReplyOf(row),
    messageId: row.message_id,
    queuedAt: iso(row.queued_at)!,
    updatedAt: iso(row.updated_at)!,
    sentAt: iso(row.sent_at),
    nextAttemptAt: row.status === 'queued' || row.status === 'retrying' ? iso(row.next_attempt_at) : null,
    report:
      row.report_action === null
        ? null
        : {
            action: row.report_action,
            status: row.report_status,
            diagnostic: row.report_diagnostic,
            remoteMta: row.report_remote_mta,
            reportingMta: row.report_reporting_mta,
            receivedAt: iso(row.report_at)!,
          },
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
