/**
 * Counters of what the service did since it started, for /metrics.
 */
import type { Removed } from '../outbox/outbox.ts';

export const COUNTED_EVENTS = ['accepted', 'sent', 'retrying', 'failed', 'expired', 'unknown', 'bounced', 'delayed'] as const;
export type CountedEvent = (typeof COUNTED_EVENTS)[number];

/** Why a notification left the outbox: past RETENTION, or erased on request (DELETE). */
export type RemovalReason = 'purged' | 'erased';

export interface Metrics {
  readonly counts: Readonly<Record<CountedEvent, number>>;
  readonly removed: Readonly<Record<RemovalReason, number>>;
  /** Events removed with their notification before their consumer took them, by consumer. */
  readonly undeliveredEventsDropped: Readonly<Record<string, number>>;
  add(event: CountedEvent, amount?: number): void;
  addRemoved(reason: RemovalReason, removed: Removed): void;
}

/** @example const metrics = createMetrics(); metrics.add('sent'); metrics.counts.sent // 1 */
export function createMetrics(): Metrics {
  const counts = Object.fromEntries(COUNTED_EVENTS.map((e) => [e, 0])) as Record<CountedEvent, number>;
  const removed: Record<RemovalReason, number> = { purged: 0, erased: 0 };
  const undeliveredEventsDropped: Record<string, number> = {};
  return {
    counts,
    removed,
    undeliveredEventsDropped,
    add(event, amount = 1) {
      counts[event] += amount;
    },
    addRemoved(reason, result) {
      removed[reason] += result.notifications;
      for (const [consumer, n] of Object.entries(result.undeliveredEvents)) undeliveredEventsDropped[consumer] = (undeliveredEventsDropped[consumer] ?? 0) + n;
    },
  };
}
