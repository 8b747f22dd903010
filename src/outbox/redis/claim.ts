/**
 * Claiming in the Redis outbox: jobs are taken, and each of their recipients
 * is weighed by the delivery rules (policy.arbitrate) against every delivery
 * sharing its order key, read in one script (scripts/contexts-0.lua).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DeliveryClass } from '../../delivery/fairness.ts';
import { arbitrate, FINAL_STATUSES, type OrderedDelivery, WAITING_STATUSES } from '../../delivery/policy.ts';
import type { ClaimedDelivery } from '../outbox.ts';
import { noteServed } from './fair.ts';
import type { Hold, JobBook } from './jobs.ts';
import type { RedisKeys } from './keys.ts';
import { deliveryIdOf, fairStartOf, type JobData, type Meta, ofSeveral, ordered, positionsOf, type StoredDelivery } from './records.ts';
import type { Scripts } from './scripts.ts';
import type { Transition } from './transition.ts';

/** Jobs taken in one pipelined round of a claim, at most. */
const CLAIM_ROUND = 25;

/** What the rules make of one recipient of a taken job (see verdictOf). */
type Verdict =
  | { readonly kind: 'send'; readonly delivery: ClaimedDelivery }
  | { readonly kind: 'done' }
  /** To look at again at `at`, in a job of its own of its notification's class; `handed`: the record already says so (StoredDelivery.ownJob). */
  | { readonly kind: 'later'; readonly at: number; readonly handed: boolean; readonly deliveryClass: DeliveryClass };

export interface ClaimOptions {
  readonly commands: Redis;
  readonly key: RedisKeys;
  readonly prefix: string;
  readonly queue: Queue;
  readonly jobs: JobBook;
  readonly scripts: Scripts;
  readonly transition: Transition;
  /** A notification's meta and body (read once and kept). */
  readonly notification: (id: string) => Promise<{ body: string; meta: Meta } | null>;
}

/** @example const claim = claimer({ prefix, queue, jobs, scripts, transition, notification }); await claim(10, Date.now()); */
export function claimer(options: ClaimOptions): (max: number, now: number) => Promise<ClaimedDelivery[]> {
  const { jobs, transition } = options;

  /**
   * What the rules make of one recipient of a taken job, given its delivery context (the record
   * and every delivery sharing its order key): a delivery to send (now claimed), nothing to do, or
   * a time to look again.
   */
  async function verdictOf(hold: Hold, position: string, context: string[], now: number): Promise<Verdict> {
    const data: JobData = { notificationId: hold.job.data.notificationId, position };
    const deliveryId = deliveryIdOf(data.notificationId, position);
    // Already claimed from another job of this instance's (a retry's job and its first job, both taken after a crash).
    if (jobs.held.has(deliveryId)) return { kind: 'done' };
    const parent = context.length ? await options.notification(data.notificationId) : null;
    let record = context.length ? (JSON.parse(context[0]!) as StoredDelivery) : null;
    // Orphaned (erased, or past RETENTION), or done before a crash.
    if (!record || !parent || FINAL_STATUSES.has(record.status)) return { kind: 'done' };
    const { deliveryClass } = fairStartOf(parent.meta);
    // Its own job sends it; the job it came from, taken again, only makes sure that job exists.
    if (record.ownJob && ofSeveral(hold.job.data)) return { kind: 'later', at: Math.max(now, record.nextAttemptAt ?? now), handed: true, deliveryClass };
    if (record.status === 'retrying' && record.nextAttemptAt !== null && record.nextAttemptAt > now) {
      // Back before its time (its job's move to delayed was lost with the connection).
      return { kind: 'later', at: record.nextAttemptAt, handed: false, deliveryClass };
    }
    if (record.status === 'sending') {
      // Its instance died with it on the wire: it may or may not have gone out.
      await transition(data, ['sending'], { status: 'queued', updatedAt: now });
      record = { ...record, status: 'queued' };
    }
    const others: OrderedDelivery[] = [];
    for (let i = 1; i < context.length; i += 2) {
      const other = context[i + 1] ? (JSON.parse(context[i + 1]!) as StoredDelivery) : null;
      if (other) others.push(ordered(other.orderMember === record.orderMember ? record : other, context[i]!));
    }
    const decision = arbitrate(ordered(record, record.orderMember), others, now);
    if (decision.action === 'supersede') {
      await transition(data, [...WAITING_STATUSES], { status: 'superseded', updatedAt: now, nextAttemptAt: null }, { fact: { status: 'superseded', at: now } });
      return { kind: 'done' };
    }
    // An older message to this person about this event goes first.
    if (decision.action === 'wait') return { kind: 'later', at: decision.until, handed: false, deliveryClass };
    jobs.held.set(deliveryId, { hold, position, attempt: record.attempts + 1 });
    hold.open.add(position);
    return {
      kind: 'send',
      delivery: {
        deliveryId,
        notificationId: data.notificationId,
        position: Number(position),
        recipient: record.email,
        attempt: record.attempts + 1,
        unconfirmed: record.unconfirmed ?? 0,
        body: parent.body,
        acceptedAt: parent.meta.acceptedAt,
        deadlineAt: parent.meta.deadlineAt,
      },
    };
  }

  /**
   * The deliveries to send of a taken job (`contexts`: one for each of its positions). A job of one
   * recipient with nothing to send now is completed or delayed until its time. In a job of several,
   * each recipient that must wait is handed to a job of its own, delayed until its time, before the
   * job can finish: its record says so first (ownJob), then the job is made. A crash in between
   * takes the job again, which makes that job again (adding a job that exists changes nothing);
   * the other order would let both jobs send it.
   */
  async function claimFromJob(hold: Hold, positions: readonly string[], contexts: readonly string[][], now: number): Promise<ClaimedDelivery[]> {
    const verdicts = await Promise.all(positions.map((position, i) => verdictOf(hold, position, contexts[i]!, now)));
    const sending: ClaimedDelivery[] = [];
    const later: ReturnType<JobBook['oneRecipientJob']>[] = [];
    const handing: Promise<unknown>[] = [];
    let laterAt = 0;
    for (const [i, verdict] of verdicts.entries()) {
      if (verdict.kind === 'send') sending.push(verdict.delivery);
      else if (verdict.kind === 'later') {
        const data: JobData = { notificationId: hold.job.data.notificationId, position: positions[i]! };
        later.push(jobs.oneRecipientJob(data.notificationId, data.position, verdict.deliveryClass, verdict.at - now));
        if (!verdict.handed && ofSeveral(hold.job.data)) handing.push(transition(data, [...WAITING_STATUSES], { ownJob: true }));
        laterAt = verdict.at;
      }
    }
    if (!ofSeveral(hold.job.data)) {
      if (sending.length) return sending;
      jobs.letGo(hold);
      if (later.length) await hold.job.moveToDelayed(laterAt, hold.token);
      else await hold.job.moveToCompleted('nothing to do', hold.token, false);
      return [];
    }
    await Promise.all(handing); // (one TRANSITIONS call: see writeBatch)
    if (later.length) await options.queue.addBulk(later);
    if (!sending.length) jobs.finishJob(hold);
    return sending;
  }

  return async (max, now) => {
    // First what an earlier claim took beyond what it asked for.
    const fromSpare = jobs.spare.splice(0, max);
    const claimed = [...fromSpare];
    const taken: Hold[] = [];
    try {
      await jobs.expandStranded(now);
      // Jobs are taken a round at a time, each round's commands sent together (ioredis pipelines
      // calls made in one turn): Redis runs them one by one, as atomically as ever, but the round
      // costs one round trip and one fsync of the append-only file instead of one per job.
      while (claimed.length < max) {
        const round = Math.min(CLAIM_ROUND, jobs.jobsFor(max - claimed.length));
        // First the jobs finishing moves took (see finishJob), then as many more as the round holds.
        const ready = jobs.fetched.splice(0, round);
        taken.push(...ready);
        const more = await Promise.all(Array.from({ length: round - ready.length }, () => jobs.takeJob(taken)));
        const held = [...ready, ...more.filter((hold) => hold !== undefined)];
        noteServed(
          options.commands,
          options.key,
          held.map((hold) => hold.job.opts.priority),
        );
        const positions = held.map((hold) => positionsOf(hold.job.data));
        const asked = held.flatMap((hold, i) => positions[i]!.map((position) => [hold.job.data.notificationId, position]));
        const contexts = asked.length ? await options.scripts.contexts(JSON.stringify({ prefix: options.prefix, deliveries: asked })) : [];
        let next = 0;
        for (const [i, hold] of held.entries()) {
          const sending = await claimFromJob(hold, positions[i]!, contexts.slice(next, next + positions[i]!.length), now);
          next += positions[i]!.length;
          const room = max - claimed.length;
          claimed.push(...sending.slice(0, room));
          jobs.spare.push(...sending.slice(room));
        }
        if (held.length < round) break; // the queue has no more due now
      }
      return claimed;
    } catch (error) {
      // A claim that fails half-way gives back what it took, so that nothing stays held and renewed.
      await Promise.all(taken.map((hold) => jobs.giveBack(hold).catch(() => undefined)));
      const stillHeld = jobs.spare.filter((delivery) => jobs.held.has(delivery.deliveryId));
      jobs.spare.splice(0, jobs.spare.length, ...fromSpare, ...stillHeld);
      throw error;
    }
  };
}
