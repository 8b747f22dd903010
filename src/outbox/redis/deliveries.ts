/**
 * The Redis outbox's notifications and deliveries: accepting (one MULTI),
 * reading, and the changes a worker and a bounce make (transition.ts).
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { DELAY_REPORT_INTERVAL_MS, DELIVERY_STATUSES, type DeliveryStatus, REPORTABLE_STATUSES, statusAfter, WAITING_STATUSES } from '../../delivery/policy.ts';
import { type AcceptOutcome, type DeliveryStore, type NewNotification, type NotificationStatus, StaleDeliveryError, statusOfNew } from '../outbox.ts';
import { storedReport } from '../report.ts';
import { extendFlow, fairStart } from './fair.ts';
import type { JobBook } from './jobs.ts';
import type { RedisKeys } from './keys.ts';
import { type FairStart, fairStartOf, type JobData, type Meta, notificationStatus, ofSeveral, type StoredDelivery } from './records.ts';
import type { Scripts } from './scripts.ts';
import type { Transition } from './transition.ts';

const PENDING = 'pending:';

/** How long an idempotency key answers with its first request (at most; RETENTION removes it with its notification). */
const IDEMPOTENCY_TTL_MS = 7 * 86_400_000;

/** A notification's meta and body, read once and kept; those asking while it is read share the read. */
export function notificationCache(commands: Redis, key: RedisKeys) {
  // A few: enough for the notifications being sent at once (a hundred kept the last hundred fan-outs' bodies).
  const bodies = new LRUCache<string, Promise<{ body: string; meta: Meta } | null>>({ max: 8 });
  return {
    get(id: string): Promise<{ body: string; meta: Meta } | null> {
      let reading = bodies.get(id);
      if (!reading) {
        const read = commands
          .hmget(key.meta(id), 'meta', 'body')
          .then(([metaJson, body]) => (metaJson && body ? { meta: JSON.parse(metaJson) as Meta, body } : null));
        reading = read;
        bodies.set(id, read);
        const forget = () => {
          if (bodies.get(id) === read) bodies.delete(id); // not kept: asked again next time
        };
        read.then((found) => found ?? forget(), forget);
      }
      return reading;
    },
    forget(id: string): void {
      bodies.delete(id);
    },
  };
}

/** Jobs a scrape's backlog visits at most (delivery-backlog-3.lua): beyond, each counts one recipient. */
const BACKLOG_JOBS_VISITED = 10_000;

export interface RedisDeliveriesOptions {
  readonly commands: Redis;
  readonly key: RedisKeys;
  readonly scripts: Scripts;
  readonly jobs: JobBook;
  readonly transition: Transition;
  readonly notification: (id: string) => Promise<{ body: string; meta: Meta } | null>;
}

/** Every DeliveryStore method but claim (claim.ts) and close (open.ts). */
export function redisDeliveries(options: RedisDeliveriesOptions): Omit<DeliveryStore, 'claim' | 'close'> {
  const { commands, key, jobs, transition } = options;

  async function readStatus(id: string) {
    const [metaJson, deliveries] = await Promise.all([commands.hget(key.meta(id), 'meta'), commands.hgetall(key.deliveries(id))]);
    return metaJson ? notificationStatus(id, JSON.parse(metaJson) as Meta, deliveries) : null;
  }

  return {
    accept: (n) => accept(options, n, readStatus),
    status: readStatus,

    async body(id) {
      return (await commands.hget(key.meta(id), 'body')) ?? null;
    },

    async begin(deliveryId, at) {
      const entry = jobs.heldEntry(deliveryId);
      const data: JobData = { notificationId: entry.hold.job.data.notificationId, position: entry.position };
      const { changed } = await transition(
        data,
        [...WAITING_STATUSES],
        { status: 'sending', updatedAt: at },
        { attempts: 1, expectedAttempts: entry.attempt - 1 },
      );
      if (!changed) {
        jobs.abandon(deliveryId, entry); // not ours any more
        throw new StaleDeliveryError(`delivery ${deliveryId} could not start: its status changed elsewhere`);
      }
    },

    async settle(deliveryId, outcome) {
      const entry = jobs.heldEntry(deliveryId);
      const data: JobData = { notificationId: entry.hold.job.data.notificationId, position: entry.position };
      const status = statusAfter(outcome);
      const patch: Partial<StoredDelivery> = {
        status,
        lastReply: outcome.reply,
        updatedAt: outcome.at,
        nextAttemptAt: outcome.kind === 'retrying' ? outcome.nextAttemptAt : null,
        ...(outcome.messageId ? { messageId: outcome.messageId } : {}),
        ...(outcome.kind === 'sent' ? { sentAt: outcome.at } : {}),
      };
      const unconfirmed = outcome.kind === 'retrying' && outcome.unconfirmed ? 1 : 0;
      const handed = outcome.kind === 'retrying' && ofSeveral(entry.hold.job.data);
      // A retry out of a job of several is handed to a job of its own (see claim.ts): the record says so in the same change.
      if (handed) patch.ownJob = true;
      const { changed, was } = await transition(data, ['sending'], patch, { unconfirmed, expectedAttempts: entry.attempt, fact: { status, at: outcome.at } });
      // `was === status`: an earlier try of this settle changed the record and its answer was lost with the connection.
      if (!changed && was !== status) {
        jobs.abandon(deliveryId, entry);
        throw new StaleDeliveryError(`delivery ${deliveryId} is not sending this attempt`);
      }
      const retryAt = outcome.kind === 'retrying' ? outcome.nextAttemptAt : undefined;
      // Its job, delayed until its time. If adding it fails, this settle is tried again; after a
      // crash, the job it came from is taken again and makes it (see claim.ts).
      if (handed) {
        const parent = await options.notification(data.notificationId);
        await jobs.queueOne(data.notificationId, data.position, parent ? fairStartOf(parent.meta).deliveryClass : 2, outcome.nextAttemptAt - Date.now());
      }
      // The record is the outcome: the worker may go on. The job leaves the active list behind it
      // (one write less on each message's path; moves of several messages share an fsync).
      void jobs.closeClaim(deliveryId, entry, { retryAt });
    },

    async release(deliveryIds) {
      await jobs.release(deliveryIds);
    },

    async report(delivery, report) {
      const data: JobData = { notificationId: delivery.notificationId, position: String(delivery.position) };
      const stored = storedReport(report);
      // The effect depends on the status the script finds: try the bounce, then the note.
      const effect = report.action === 'failed' ? 'bounced' : 'noted';
      const { changed, was } = await transition(
        data,
        REPORTABLE_STATUSES,
        { ...(effect === 'bounced' ? { status: 'bounced' as const } : {}), report: stored, updatedAt: report.at },
        {
          fact: { status: effect === 'bounced' ? 'bounced' : 'delayed', at: report.at },
          ...(effect === 'noted' ? { delayedSince: new Date(report.at - DELAY_REPORT_INTERVAL_MS).toISOString() } : {}),
        },
      );
      if (changed) return effect;
      return was === '' ? 'no-such-delivery' : 'ignored';
    },

    async counts() {
      const stored = await commands.hgetall(key.counts);
      return Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, Number(stored[s] ?? 0)])) as Record<DeliveryStatus, number>;
    },

    async backlog(now) {
      const [due, oldestDueAt] = await options.scripts.deliveryBacklog(
        key.prioritized,
        key.wait,
        key.delayed,
        JSON.stringify({ jobPrefix: key.jobPrefix, limit: BACKLOG_JOBS_VISITED, now }),
      );
      return { due, oldestDueAt };
    },

    async checkWritable() {
      await commands.set(key.probe, String(Date.now()));
    },
  };
}

/**
 * Stores a notification in one MULTI and makes its jobs. An idempotency key is claimed first with a
 * pending marker, so that two requests with one key never both store.
 */
async function accept(
  options: RedisDeliveriesOptions,
  n: NewNotification,
  readStatus: (id: string) => Promise<NotificationStatus | null>,
): Promise<AcceptOutcome> {
  const { commands, key, jobs } = options;
  const idempotency = n.idempotencyKey === null ? null : key.idempotency(n.idempotencyKey);
  const pendingMarker = `${PENDING}${n.id}:${n.bodyHash}`;
  if (idempotency) {
    const claimed = await commands.set(idempotency, pendingMarker, 'PX', 60_000, 'NX');
    if (claimed === null) {
      const value = (await commands.get(idempotency)) ?? '';
      if (value.startsWith(PENDING)) return { kind: 'in-progress' };
      const first = JSON.parse(value) as { id: string; bodyHash: string };
      if (first.bodyHash !== n.bodyHash) return { kind: 'key-reused' };
      const status = await readStatus(first.id);
      if (status) return { kind: 'replayed', notification: status };
      // Its notification was removed (RETENTION, erasure) by a release that kept the key: the key is free again.
      await commands.del(idempotency);
      return accept(options, n, readStatus);
    }
  }
  let fair: FairStart;
  try {
    fair = await fairStart(commands, key, n.deliveryClass, n.flow);
    const base = await commands.incrby(key.sequence, n.recipients.length);
    const meta: Meta = {
      type: n.type,
      uid: n.event.uid,
      sequence: n.event.sequence,
      acceptedAt: n.acceptedAt,
      deadlineAt: n.deadlineAt,
      count: n.recipients.length,
      idempotencyKey: n.idempotencyKey,
      fair,
    };
    // One MULTI: Redis applies all of it or none of it (and the append-only file replays it whole),
    // so the notification, its deliveries, the counters, the key, the fan-out record and its organizer's flow's end come together.
    const multi = commands.multi().hset(key.meta(n.id), 'meta', JSON.stringify(meta), 'body', n.body, 'open', n.recipients.length);
    const records: Record<string, string> = {};
    n.recipients.forEach((recipient, position) => {
      const member = `${String(base - n.recipients.length + position).padStart(16, '0')}|${n.id}|${position}`;
      records[String(position)] = JSON.stringify({
        email: recipient.email,
        status: 'queued',
        attempts: 0,
        unconfirmed: 0,
        lastReply: null,
        messageId: null,
        queuedAt: n.acceptedAt,
        updatedAt: n.acceptedAt,
        sentAt: null,
        nextAttemptAt: n.acceptedAt,
        orderKey: recipient.orderKey,
        orderMember: member,
        sequence: n.event.sequence,
        method: n.method,
        occurrence: n.event.occurrence,
      } satisfies StoredDelivery);
      multi.zadd(key.order(recipient.orderKey), n.event.sequence, member);
    });
    multi.hset(key.deliveries(n.id), records).hincrby(key.counts, 'queued', n.recipients.length).zadd(key.expand, n.acceptedAt, n.id);
    extendFlow(multi, key, fair, n.flow, jobs.jobsFor(n.recipients.length));
    if (idempotency) multi.set(idempotency, JSON.stringify({ id: n.id, bodyHash: n.bodyHash }), 'PX', IDEMPOTENCY_TTL_MS);
    const results = await multi.exec();
    if (!results || results.some(([error]) => error)) throw new Error('Redis refused the notification');
  } catch (error) {
    if (idempotency) await options.scripts.forgetPending(idempotency, pendingMarker).catch(() => undefined);
    throw error;
  }
  // Stored: the 202 holds from here, and its status is what was just stored.
  await jobs.queueJobs(n.id, n.recipients.length, fair);
  return { kind: 'accepted', notification: statusOfNew(n) };
}
