/**
 * An event's id, made when the event is stored and kept with it, so that every
 * retry carries the same one (the webhook's `webhook-id`). The Standard
 * Webhooks specification wants ids unique across all messages, as receivers
 * deduplicate on them: a UUIDv7 (RFC 9562 §5.7: the time in milliseconds,
 * then 74 random bits) never repeats across outboxes, DATA_DIRs, Redis
 * prefixes or deployments, as a counter per outbox did (a new DATA_DIR started
 * again at `evt_1`, and a receiver dropped its events as repeats), and it
 * sorts by time in a receiver's log.
 */
import { v7 } from 'uuid';

/**
 * @example newEventId() // 'evt_019aef12-3c4d-7e5f-8a6b-1c2d3e4f5a6b'
 */
export function newEventId(): string {
  return `evt_${v7()}`;
}

/**
 * When an event was made: a UUIDv7's first 48 bits are its Unix time in
 * milliseconds (RFC 9562 §5.7). Null for an id of another form (an earlier
 * release's `evt_1`).
 *
 * @example eventTimeOf('evt_019aef12-3c4d-7e5f-8a6b-1c2d3e4f5a6b') // 1763638049869
 */
export function eventTimeOf(id: string): number | null {
  const match = /^evt_([0-9a-f]{8})-([0-9a-f]{4})-7/.exec(id);
  return match ? Number.parseInt(`${match[1]}${match[2]}`, 16) : null;
}
