/**
 * Metrics in the Prometheus text format (version 0.0.4).
 */

import type { DeliveryStatus } from '../outbox/outbox.ts';
import type { Metrics } from '../runtime/metrics.ts';

/**
 * @example prometheusText(metrics, await outbox.counts())
 * // # TYPE invite_mailer_deliveries gauge
 * // invite_mailer_deliveries{status="queued"} 12 …
 */
export function prometheusText(metrics: Metrics, counts: Readonly<Record<DeliveryStatus, number>>, relayUp: 1 | 0 | null = null): string {
  const lines = [
    ...(relayUp === null
      ? []
      : [
          '# HELP invite_mailer_relay_up Whether the SMTP relay answered its last check (at most 30 s old when a probe asked): 1 or 0.',
          '# TYPE invite_mailer_relay_up gauge',
          `invite_mailer_relay_up ${relayUp}`,
        ]),
    '# HELP invite_mailer_deliveries Deliveries in the outbox by status.',
    '# TYPE invite_mailer_deliveries gauge',
    ...Object.entries(counts).map(([status, n]) => `invite_mailer_deliveries{status="${status}"} ${n}`),
    '# HELP invite_mailer_events_total What this process did since it started: recipients accepted, messages sent, retries scheduled, permanent failures, expiries, outcomes left unknown.',
    '# TYPE invite_mailer_events_total counter',
    ...Object.entries(metrics.counts).map(([event, n]) => `invite_mailer_events_total{event="${event}"} ${n}`),
    '# HELP invite_mailer_notifications_removed_total Notifications this process removed since it started: past RETENTION (purged), or on request (erased).',
    '# TYPE invite_mailer_notifications_removed_total counter',
    ...Object.entries(metrics.removed).map(([reason, n]) => `invite_mailer_notifications_removed_total{reason="${reason}"} ${n}`),
    '# HELP invite_mailer_undelivered_events_dropped_total Events removed with their notification before they were delivered (a webhook receiver down for longer than RETENTION), by consumer.',
    '# TYPE invite_mailer_undelivered_events_dropped_total counter',
    ...['webhook', 'notice', ...Object.keys(metrics.undeliveredEventsDropped)]
      .filter((consumer, i, all) => all.indexOf(consumer) === i)
      .map((consumer) => `invite_mailer_undelivered_events_dropped_total{consumer="${consumer}"} ${metrics.undeliveredEventsDropped[consumer] ?? 0}`),
  ];
  return `${lines.join('\n')}\n`;
}
