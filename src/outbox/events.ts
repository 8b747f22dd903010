/**
 * What others hear of deliveries: facts, and a queue of them per consumer.
 *
 * A fact is one committed change of a delivery (its status, Message-ID, the
 * relay's reply, a delivery report, when), stored in the same write as the
 * change and in no public format: the webhook dispatcher makes Standard
 * Webhooks JSON of it when it sends, the notice sender an email. A consumer
 * (webhook/, notice/) says which changes it hears of and how it takes them;
 * the outbox keeps one queue for all of them and knows none.
 */
import type { DeliveryStatus } from '../delivery/policy.ts';
import type { RelayReply } from '../transport/delivery-error.ts';

/** A delivery's status after a change, or `delayed` for a delay report (the status stays). */
export type FactStatus = DeliveryStatus | 'delayed';

/** A delivery report as the status API shows it. */
export interface StoredReport {
  readonly action: 'failed' | 'delayed';
  readonly status: string | null;
  readonly diagnostic: string | null;
  readonly remoteMta: string | null;
  readonly reportingMta: string | null;
  readonly receivedAt: string;
}

/** One committed change of a delivery, as storage keeps it. */
export interface DeliveryFact {
  readonly notificationId: string;
  readonly position: number;
  readonly recipient: string;
  readonly status: FactStatus;
  readonly messageId: string | null;
  readonly lastReply: RelayReply | null;
  readonly report: StoredReport | null;
  /** When it changed (ms). */
  readonly at: number;
}

/**
 * Who hears of changes, and how. Declared by the consumer, handed to the
 * outbox when it opens (service.ts).
 *
 * @example { name: 'webhook', hears: new Set(['sent', 'bounced']), keyBy: 'delivery', take: 'oldest', delayMs: 0 }
 */
export interface EventConsumer {
  /** Letters, digits, `-` and `_`: part of storage keys. */
  readonly name: string;
  readonly hears: ReadonlySet<FactStatus>;
  /** Events of one key go out in order: one delivery's (`notificationId/position`), or one notification's. */
  readonly keyBy: 'delivery' | 'notification';
  /** A claim takes a key's oldest event (`oldest`), or every event of the key stored so far (`all`). */
  readonly take: 'oldest' | 'all';
  /** A key is due this long after its first waiting event (a window that gathers several). */
  readonly delayMs: number;
}

/** The key a consumer's events of one delivery go under. */
export function eventKey(consumer: EventConsumer, fact: Pick<DeliveryFact, 'notificationId' | 'position'>): string {
  return consumer.keyBy === 'notification' ? fact.notificationId : `${fact.notificationId}/${fact.position}`;
}

/** A stored event: its id (the same on every retry: event-id.ts) and its fact. */
export interface QueuedEvent {
  readonly id: string;
  readonly fact: DeliveryFact;
}

/** A consumer's events of one key, leased to it. */
export interface EventBatch {
  readonly consumer: string;
  readonly key: string;
  /** In the order they happened: one with `take: 'oldest'`. */
  readonly events: readonly QueuedEvent[];
  /** 1 on the first try. */
  readonly attempt: number;
  /** Which events the batch holds: settling drops those, not ones stored after the claim. */
  readonly through: string;
}

export type EventResult = { readonly done: true } | { readonly retryAt: number };

/**
 * One queue for every consumer, each with keys of its own. A lease that runs
 * out (the consumer died) makes the same events due again, with the same ids.
 */
export interface EventQueue {
  /** Leases up to `max` due keys of a consumer, at most one batch per key. */
  claim(consumer: string, max: number, now: number, leaseMs: number): Promise<EventBatch[]>;
  /** Done: the batch's events are dropped and the key's next ones are due. Otherwise due again at `retryAt`. */
  settle(batch: EventBatch, result: EventResult): Promise<void>;
  /** How many of a consumer's events wait, and when the oldest of them was made (for /metrics). */
  backlog(consumer: string): Promise<EventBacklog>;
}

/** A consumer's events waiting to be taken. */
export interface EventBacklog {
  readonly waiting: number;
  /** When the oldest waiting event was made (ms since the epoch); null when none waits. */
  readonly oldestAt: number | null;
}

/** The consumers that hear of a change to `status`. */
export function consumersOf(consumers: readonly EventConsumer[], status: FactStatus): EventConsumer[] {
  return consumers.filter((consumer) => consumer.hears.has(status));
}
