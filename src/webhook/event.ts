/**
 * The status webhook's events: which changes of a recipient it hears of (a
 * final status, a delay report), and the Standard Webhooks payload (`type`,
 * `timestamp`, `data`) made of a stored fact when it is sent. Pure. The id
 * (`webhook-id`) is the stored event's, the same on every retry.
 */
import type { DeliveryFact, EventConsumer, FactStatus } from '../outbox/events.ts';

/** Statuses whose reaching is told to the webhook, and `delayed` for a delay report. */
export const WEBHOOK_EVENT_STATUSES: ReadonlySet<FactStatus> = new Set(['sent', 'failed', 'expired', 'unknown', 'superseded', 'bounced', 'delayed']);

/** The outbox's consumer for webhooks: per recipient, one event at a time, in order. */
export const WEBHOOK_CONSUMER: EventConsumer = { name: 'webhook', hears: WEBHOOK_EVENT_STATUSES, keyBy: 'delivery', take: 'oldest', delayMs: 0 };

/**
 * The same bytes for the same fact: a retry's body is the first try's.
 *
 * @example webhookPayload({ notificationId, position: 0, recipient: 'a@x.ru', status: 'sent', messageId, lastReply, report: null, at: Date.now() })
 *          // '{"type":"delivery.sent","timestamp":"…","data":{"notificationId":…}}'
 */
export function webhookPayload(fact: DeliveryFact): string {
  const data = {
    notificationId: fact.notificationId,
    position: fact.position,
    recipient: fact.recipient,
    status: fact.status,
    messageId: fact.messageId,
    lastReply: fact.lastReply,
    report: fact.report,
  };
  return JSON.stringify({ type: `delivery.${fact.status}`, timestamp: new Date(fact.at).toISOString(), data });
}
