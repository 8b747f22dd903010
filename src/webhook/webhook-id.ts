/**
 * A webhook event's id (`webhook-id`), made when the event is made and stored
 * with it, so that every retry carries the same one. The Standard Webhooks
 * specification wants ids unique across all messages, as receivers
 * deduplicate on them: a UUIDv7 (RFC 9562 §5.7: the time in milliseconds,
 * then 74 random bits) never repeats across outboxes, DATA_DIRs, Redis
 * prefixes or deployments, as a counter per outbox did (a new DATA_DIR started
 * again at `evt_1`, and a receiver dropped its events as repeats), and it
 * sorts by time in a receiver's log.
 */
import { v7 } from 'uuid';

/**
 * @example newWebhookId() // 'evt_019aef12-3c4d-7e5f-8a6b-1c2d3e4f5a6b'
 */
export function newWebhookId(): string {
  return `evt_${v7()}`;
}
