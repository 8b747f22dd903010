/**
 * The status webhook's payload: one event per change of a recipient to a
 * final status, and per delay report, in the Standard Webhooks shape
 * (`type`, `timestamp`, `data`). Pure. The id (`webhook-id`) is the outbox's,
 * stable across retries.
 */
import type { DeliveryStatus } from '../delivery/policy.ts';
import type { LastReply, StoredReport } from '../outbox/outbox.ts';

/** Statuses whose reaching is told to the webhook, and `delayed` for a delay report. */
export const WEBHOOK_EVENT_STATUSES: ReadonlySet<DeliveryStatus | 'delayed'> = new Set([
  'sent',
  'failed',
  'expired',
  'unknown',
  'superseded',
  'bounced',
  'delayed',
]);

export interface WebhookEventData {
  readonly notificationId: string;
  readonly position: number;
  /** The recipient's address (the outbox fills it in when the caller does not know it). */
  readonly recipient: string | null;
  readonly status: DeliveryStatus | 'delayed';
  readonly messageId: string | null;
  readonly lastReply: LastReply | null;
  readonly report: StoredReport | null;
}

/**
 * @example webhookPayload({ notificationId, position: 0, recipient: 'a@x.ru', status: 'sent', messageId, lastReply, report: null }, Date.now())
 *          // '{"type":"delivery.sent","timestamp":"…","data":{…}}'
 */
export function webhookPayload(data: WebhookEventData, at: number): string {
  return JSON.stringify({ type: `delivery.${data.status}`, timestamp: new Date(at).toISOString(), data });
}
