/**
 * Fair delivery, as pure rules both outboxes apply when they hand out work.
 *
 * Two things decide which due delivery goes next:
 *
 * 1. **Its class**: a notification with few recipients (`SMALL_NOTIFICATION`
 *    or fewer) first, then a large change (an update, a cancellation, a
 *    reply), then a large invitation. A cancellation never waits behind an
 *    invitation's fan-out.
 * 2. **Its place in its class: start-time fair queuing between organizers.**
 *    Each delivery has a tag, its notification's start tag plus its
 *    position. Each organizer's notifications of a class are one flow: a
 *    notification starts at the tag being served when it is accepted (the
 *    largest claimed so far), or where the organizer's previous one of the
 *    class ends if that is later. So organizers take turns, one recipient
 *    each (a batch of recipients each on Redis, where a job is the unit):
 *    another organizer's fan-out shares the pool with the first rather than
 *    waiting for its end, however many fan-outs the first organizer queued,
 *    and an organizer's own fan-outs go one after the other. A retry keeps
 *    its tag, so it goes ahead once it is due. This is Goyal, Vin and Cheng's
 *    start-time fair queuing (SIGCOMM 1996) with every flow weighted alike.
 */
import { createHash } from 'node:crypto';
import type { NotificationRequest } from '../model/schema.ts';

/** A notification with this many recipients or fewer goes ahead of every larger one. */
export const SMALL_NOTIFICATION = 10;

/** 0: small; 1: a large update, cancellation or reply; 2: a large invitation. */
export type DeliveryClass = 0 | 1 | 2;

/**
 * @example deliveryClass('cancellation', 1600) // 1
 * @example deliveryClass('invitation', 3) // 0
 */
export function deliveryClass(type: NotificationRequest['type'], recipients: number): DeliveryClass {
  if (recipients <= SMALL_NOTIFICATION) return 0;
  return type === 'invitation' ? 2 : 1;
}

/**
 * The flow a notification belongs to: its organizer, as a digest of the address (lowercased), so
 * that what the outbox keeps to order flows names no one.
 *
 * @example organizerFlow('E.Smirnova@mydomain.ru') === organizerFlow('e.smirnova@mydomain.ru') // true
 */
export function organizerFlow(organizerEmail: string): string {
  return createHash('sha256').update(organizerEmail.toLowerCase()).digest('base64url').slice(0, 16);
}

/**
 * Where a notification's tags start: at the tag its class is served at, or where its organizer's
 * previous notification of the class ends (`organizerEnd`, the tag after its last) if later.
 *
 * @example fairStartTag(40, undefined) // 40: no earlier notification of this organizer waits
 * @example fairStartTag(40, 1640) // 1640: behind the organizer's own fan-out, not beside it
 */
export function fairStartTag(served: number, organizerEnd: number | undefined): number {
  return Math.max(served, organizerEnd ?? 0);
}

/** How many tags a class has on BullMQ, whose priorities go up to 2^21 (three classes fit). */
export const TAGS_PER_CLASS = 2 ** 19;

/**
 * A BullMQ job priority (1 is served first) from a class and a tag: classes
 * in order, tags in order within a class. A tag past the class's room (a
 * backlog of half a million batches without a pause) stays at its last one.
 *
 * @example jobPriority(0, 0) // 1
 * @example jobPriority(2, 5) // 1 + 2 * 2 ** 19 + 5
 */
export function jobPriority(deliveryClass: DeliveryClass, tag: number): number {
  return 1 + deliveryClass * TAGS_PER_CLASS + Math.min(Math.max(0, tag), TAGS_PER_CLASS - 1);
}

/**
 * The tag a BullMQ priority holds, for the class it is in (the inverse of jobPriority).
 *
 * @example tagOfPriority(jobPriority(2, 7)) // { deliveryClass: 2, tag: 7 }
 */
export function tagOfPriority(priority: number): { deliveryClass: DeliveryClass; tag: number } {
  const deliveryClass = Math.min(2, Math.floor((priority - 1) / TAGS_PER_CLASS)) as DeliveryClass;
  return { deliveryClass, tag: priority - 1 - deliveryClass * TAGS_PER_CLASS };
}

/**
 * A send rate as the limiters count it (nodemailer's pool: `rateLimit` per
 * `rateDelta`; BullMQ: `max` per `duration`), in windows of about a tenth of
 * a second rather than a second. Both let a window's whole allowance go at
 * once and then wait for the next window: with 200 per second, 200 messages
 * went in 0.15 s and the next waited 0.85 s, and so did a cancellation that
 * came then (874 ms from its POST to the relay, median of five runs of
 * bench:service); in windows of 100 ms, 20 go and the next waits at most the
 * rest of 100 ms. The same average rate.
 *
 * @example rateWindow(200) // { max: 20, durationMs: 100 }
 * @example rateWindow(7) // { max: 1, durationMs: 143 }
 */
export function rateWindow(ratePerSecond: number): { max: number; durationMs: number } {
  const max = Math.ceil(ratePerSecond / 10);
  return { max, durationMs: Math.round((1000 * max) / ratePerSecond) };
}
