/**
 * What the service measures, for /metrics (prom-client, one registry per
 * service): counters and histograms its parts add to as things happen, gauges
 * of the outbox set from one read when Prometheus scrapes, and Node's own
 * process, event-loop and garbage-collection metrics. Names follow
 * Prometheus' conventions (base units, `_total` for counters); each is
 * documented in docs/api.md#metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryStatus, Removed } from '../outbox/outbox.ts';

export const COUNTED_EVENTS = ['accepted', 'sent', 'retrying', 'failed', 'expired', 'unknown', 'bounced', 'delayed'] as const;
export type CountedEvent = (typeof COUNTED_EVENTS)[number];

/** Why a notification left the outbox: past RETENTION, or erased on request (DELETE). */
export type RemovalReason = 'purged' | 'erased';

/** The outbox as a scrape reads it (one read per scrape: the route's, which answers 503 when the outbox cannot). */
export interface OutboxSnapshot {
  readonly counts: Readonly<Record<DeliveryStatus, number>>;
  readonly due: number;
  readonly oldestDueAt: number | null;
  /** Per event consumer (`webhook`, `notice`): events waiting, and when the oldest was made. */
  readonly events: Readonly<Record<string, { readonly waiting: number; readonly oldestAt: number | null }>>;
  /** Whether the relay answered its last check; null before any check. */
  readonly relayUp: 1 | 0 | null;
  readonly now: number;
}

export interface Metrics {
  readonly registry: Registry;
  add(event: CountedEvent, amount?: number): void;
  addRemoved(reason: RemovalReason, removed: Removed): void;
  /** How long a POST of a notification took to be stored and answered 202. */
  observeAccepted(seconds: number): void;
  /** A recipient's final status, and how long after acceptance it came. */
  observeFinal(status: 'sent' | 'failed' | 'expired' | 'unknown', seconds: number): void;
  /** The relay's answer to a message: its reply code's class (`2xx`, `4xx`, `5xx`), or `none` when it gave no answer (a connection failure or a timeout). */
  addRelayReply(responseCode: number | null): void;
  /** What a message to the bounce address came to: `bounced`, `noted` (a delay), or `ignored` with why. */
  addBounce(outcome: string, reason: string | undefined): void;
  /** Sets the outbox's gauges before a scrape. */
  setOutbox(snapshot: OutboxSnapshot): void;
}

/** From a POST's arrival to its 202: storing it is one transaction (SQLite) or one round trip (Redis). */
const ACCEPT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** From acceptance to a final status: seconds for a first try, hours for retries (RETRY_MAX_AGE_MS is five days). */
const FINAL_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600];

/**
 * @example
 * const metrics = createMetrics();
 * metrics.add('sent');
 * await metrics.registry.metrics() // '… invite_mailer_events_total{event="sent"} 1 …'
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  /**
   * A counter of this registry, its series named by `shown` at 0 from the start: a rate over a
   * series that appears only with its first event misses that event, and an alert on it waits.
   */
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], shown: readonly Record<L, string>[]) => {
    const made = new Counter<L>({ name, help, labelNames, registers: [registry] });
    for (const labels of shown) made.inc(labels, 0);
    return made;
  };
  /** A gauge of this registry, set when /metrics is read. */
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const events = counter(
    'invite_mailer_events_total',
    'What this process did since it started: recipients accepted, messages sent, retries scheduled, permanent failures, expiries, outcomes left unknown, bounces and delay reports applied.',
    ['event'],
    COUNTED_EVENTS.map((event) => ({ event })),
  );
  const removed = counter(
    'invite_mailer_notifications_removed_total',
    'Notifications this process removed since it started: past RETENTION (purged), or on request (erased).',
    ['reason'],
    [{ reason: 'purged' }, { reason: 'erased' }],
  );
  const dropped = counter(
    'invite_mailer_undelivered_events_dropped_total',
    'Events removed with their notification before they were delivered (a webhook receiver down for longer than RETENTION), by consumer.',
    ['consumer'],
    [{ consumer: 'webhook' }, { consumer: 'notice' }],
  );
  const accepted = new Histogram({
    name: 'invite_mailer_accept_duration_seconds',
    help: 'Time from a POST of a notification to its 202 answer (validated, stored, answered).',
    buckets: ACCEPT_BUCKETS,
    registers: [registry],
  });
  const final = new Histogram({
    name: 'invite_mailer_delivery_final_seconds',
    help: "Time from a notification's acceptance to each recipient's final status, by that status.",
    labelNames: ['status'],
    buckets: FINAL_BUCKETS,
    registers: [registry],
  });
  const replies = counter(
    'invite_mailer_relay_replies_total',
    "The relay's answers to messages, by the class of their reply code; none: no answer (a connection failure or a timeout).",
    ['class'],
    ['2xx', '4xx', '5xx', 'none'].map((replyClass) => ({ class: replyClass })),
  );
  const bounces = counter(
    'invite_mailer_bounces_total',
    'Messages to the bounce address (the listener or POST /v1/bounces): bounced, noted (a delay report), or ignored, with why.',
    ['outcome', 'reason'],
    [
      { outcome: 'bounced', reason: '' },
      { outcome: 'noted', reason: '' },
    ],
  );
  const deliveries = gauge('invite_mailer_deliveries', 'Deliveries in the outbox by status.', ['status']);
  const due = gauge(
    'invite_mailer_deliveries_due',
    'Deliveries waiting (queued or retrying) whose time to be sent has come (on Redis an estimate from above: docs/api.md#metrics).',
  );
  const oldestDue = gauge('invite_mailer_oldest_due_delivery_age_seconds', 'How long the longest-waiting due delivery has been due; 0 when none is.');
  const eventBacklog = gauge(
    'invite_mailer_events_waiting',
    'Status events waiting for their consumer (webhook: the signed webhooks; notice: the notices to organizers).',
    ['consumer'],
  );
  const oldestEvent = gauge('invite_mailer_oldest_waiting_event_age_seconds', 'Age of the oldest event waiting for its consumer; 0 when none waits.', [
    'consumer',
  ]);
  const relayUp = gauge('invite_mailer_relay_up', 'Whether the SMTP relay answered its last check (at most 30 s old when a probe asked): 1 or 0.');

  return {
    registry,
    add: (event, amount = 1) => events.inc({ event }, amount),
    addRemoved(reason, result) {
      removed.inc({ reason }, result.notifications);
      for (const [consumer, n] of Object.entries(result.undeliveredEvents)) dropped.inc({ consumer }, n);
    },
    observeAccepted: (seconds) => accepted.observe(seconds),
    observeFinal: (status, seconds) => final.observe({ status }, seconds),
    addRelayReply(responseCode) {
      replies.inc({ class: responseCode === null ? 'none' : `${Math.floor(responseCode / 100)}xx` });
    },
    addBounce: (outcome, reason) => bounces.inc({ outcome, reason: reason ?? '' }),
    setOutbox(snapshot) {
      for (const [status, n] of Object.entries(snapshot.counts)) deliveries.set({ status }, n);
      due.set(snapshot.due);
      oldestDue.set(ageSeconds(snapshot.now, snapshot.oldestDueAt));
      for (const [consumer, backlog] of Object.entries(snapshot.events)) {
        eventBacklog.set({ consumer }, backlog.waiting);
        oldestEvent.set({ consumer }, ageSeconds(snapshot.now, backlog.oldestAt));
      }
      if (snapshot.relayUp === null) relayUp.reset();
      else relayUp.set(snapshot.relayUp);
    },
  };
}

/** How long ago `at` was, in seconds; 0 for nothing (null) or a clock that went back. */
function ageSeconds(now: number, at: number | null): number {
  return at === null ? 0 : Math.max(0, now - at) / 1000;
}
