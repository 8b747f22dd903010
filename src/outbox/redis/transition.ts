/**
 * A delivery's change in Redis (scripts/transitions-0.lua): the record, the
 * counters, RETENTION's bookkeeping and what consumers hear of it, in one
 * script; the changes of one event-loop turn in one call.
 */
import { type DeliveryStatus, FINAL_STATUSES } from '../../delivery/policy.ts';
import { newEventId } from '../event-id.ts';
import { consumersOf, type EventConsumer, eventKey, type FactStatus } from '../events.ts';
import { writeBatch } from '../write-batch.ts';
import type { JobData, StoredDelivery } from './records.ts';
import type { Scripts } from './scripts.ts';

/** One change, as transitions-0.lua reads it. */
interface Change {
  readonly notificationId: string;
  readonly position: string;
  readonly from: readonly DeliveryStatus[];
  readonly patch: Partial<StoredDelivery>;
  readonly attempts: number;
  readonly unconfirmed: number;
  readonly expectedAttempts: number | null;
  readonly delayedSince: string | null;
  readonly at: number;
  readonly fact: { readonly status: FactStatus; readonly events: { consumer: string; key: string; id: string; due: number }[] } | null;
}

export interface TransitionOptions {
  readonly attempts?: number;
  readonly unconfirmed?: number;
  /** The record's attempts must be this many (this worker's attempt), else nothing changes. */
  readonly expectedAttempts?: number;
  /** What consumers hear of it, and when it happened. */
  readonly fact?: { readonly status: FactStatus; readonly at: number };
  /** For a delay report: an earlier delay report after this time (ISO) makes it change nothing. */
  readonly delayedSince?: string;
}

export type Transition = (
  data: Pick<JobData, 'notificationId' | 'position'>,
  from: readonly DeliveryStatus[],
  patch: Partial<StoredDelivery>,
  options?: TransitionOptions,
) => Promise<{ changed: boolean; was: DeliveryStatus | '' }>;

/** @example const transition = transitions(scripts, 'invite-mailer', consumers); await transition(data, ['sending'], { status: 'sent' }); */
export function transitions(scripts: Scripts, prefix: string, consumers: readonly EventConsumer[]): Transition {
  const header = JSON.stringify({ prefix, final: [...FINAL_STATUSES] });
  const batch = writeBatch(async (changes: readonly string[]) => {
    const flat = await scripts.transitions(header, ...changes);
    return changes.map((_, index) => [flat[2 * index], flat[2 * index + 1]] as const);
  });
  return async (data, from, patch, options = {}) => {
    const at = options.fact?.at ?? Date.now();
    const position = { notificationId: data.notificationId, position: Number(data.position) };
    const hearing = options.fact ? consumersOf(consumers, options.fact.status) : [];
    const change: Change = {
      notificationId: data.notificationId,
      position: data.position,
      from,
      patch,
      attempts: options.attempts ?? 0,
      unconfirmed: options.unconfirmed ?? 0,
      expectedAttempts: options.expectedAttempts ?? null,
      delayedSince: options.delayedSince ?? null,
      at,
      fact:
        options.fact && hearing.length > 0
          ? {
              status: options.fact.status,
              events: hearing.map((c) => ({ consumer: c.name, key: eventKey(c, position), id: newEventId(), due: at + c.delayMs })),
            }
          : null,
    };
    const [changed, was] = await batch(JSON.stringify(change));
    return { changed: changed === 1, was: was as DeliveryStatus | '' };
  };
}
