/**
 * Counters of what the service did since it started, for /metrics.
 */
export const COUNTED_EVENTS = ['accepted', 'sent', 'retrying', 'failed', 'expired', 'unknown', 'bounced', 'delayed'] as const;
export type CountedEvent = (typeof COUNTED_EVENTS)[number];

export interface Metrics {
  readonly counts: Readonly<Record<CountedEvent, number>>;
  add(event: CountedEvent, amount?: number): void;
}

/** @example const metrics = createMetrics(); metrics.add('sent'); metrics.counts.sent // 1 */
export function createMetrics(): Metrics {
  const counts = Object.fromEntries(COUNTED_EVENTS.map((e) => [e, 0])) as Record<CountedEvent, number>;
  return {
    counts,
    add(event, amount = 1) {
      counts[event] += amount;
    },
  };
}
