/**
 * The outbox for several instances: BullMQ on Redis (or Valkey). Each
 * delivery is a BullMQ job; workers take jobs by hand (`getNextJob`) so that
 * the service's worker stays the same for both backends. BullMQ brings the
 * rest: jobs whose instance died are found by its stalled-job check and taken
 * by another instance; its rate limiter holds one send rate across instances.
 * Each recipient's status lives in a Redis hash every instance reads.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { calendarMethod } from '../calendar/calendar.ts';
import {
  DELIVERY_STATUSES,
  FINAL_STATUSES,
  orderKey,
  type AcceptOutcome,
  type ClaimedDelivery,
  type DeliveryRecord,
  type DeliveryStatus,
  type LastReply,
  type NewNotification,
  type NotificationStatus,
  type Outbox,
} from './outbox.ts';

export interface RedisOutboxOptions {
  /** `redis://[user:password@]host:port[/db]` */
  readonly url: string;
  /** Key prefix, so that several services can share a Redis. Default `invite-mailer`. */
  readonly prefix?: string;
  /** Messages per second across all instances (the relay's limit); unset: no limit. */
  readonly sendRatePerSecond?: number;
  /** How long a taken job is this instance's before the stalled check hands it to another. Default 15 s, renewed while it is being sent. */
  readonly lockMs?: number;
}

interface StoredDelivery {
  email: string;
  status: DeliveryStatus;
  attempts: number;
  lastReply: LastReply | null;
  messageId: string | null;
  queuedAt: number;
  updatedAt: number;
  sentAt: number | null;
  nextAttemptAt: number | null;
  orderKey: string;
  orderMember: string;
  sequence: number;
  method: string;
  occurrence: string | null;
}

interface Meta {
  type: NotificationStatus['type'];
  uid: string;
  sequence: number;
  acceptedAt: number;
  deadlineAt: number;
  count: number;
}

const PENDING = 'pending:';

/**
 * @example const outbox = await openRedisOutbox({ url: 'redis://localhost:6379', sendRatePerSecond: 200 });
 */
export async function openRedisOutbox(options: RedisOutboxOptions): Promise<Outbox> {
  const prefix = options.prefix ?? 'invite-mailer';
  const lockMs = options.lockMs ?? 15_000;
  // Requests fail at once while Redis is away (the API answers 503 instead of hanging).
  const fastFail: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true };
  const commands = new Redis(options.url, fastFail);
  const queueConnection = new Redis(options.url, fastFail);
  const workerConnection = new Redis(options.url, { maxRetriesPerRequest: null, connectTimeout: 2000 });
  commands.on('error', () => undefined); // reported by the failing command; not a crash
  queueConnection.on('error', () => undefined);
  workerConnection.on('error', () => undefined);
  await Promise.all([commands.connect(), queueConnection.connect()]);

  const queue = new Queue('deliveries', { connection: queueConnection, prefix });
  const worker = new Worker('deliveries', null, {
    connection: workerConnection,
    prefix,
    autorun: false,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 3)),
    maxStalledCount: 1_000_000, // a stalled job is a crashed instance, not a poison message
    ...(options.sendRatePerSecond ? { limiter: { max: options.sendRatePerSecond, duration: 1000 } } : {}),
  });
  worker.on('error', () => undefined);
  await worker.startStalledCheckTimer();

  const key = {
    idempotency: (k: string) => `${prefix}:idem:${k}`,
    meta: (id: string) => `${prefix}:n:${id}`,
    deliveries: (id: string) => `${prefix}:n:${id}:d`,
    order: (k: string) => `${prefix}:order:${k}`,
    counts: `${prefix}:counts`,
    sequence: `${prefix}:seq`,
    probe: `${prefix}:probe`,
  };
  /** Jobs this instance holds, with their lock tokens; locks renewed while held. */
  const held = new Map<string, { job: Job; token: string }>();
  const renew = setInterval(() => {
    for (const { job, token } of held.values()) job.extendLock(token, lockMs).catch(() => undefined);
  }, Math.floor(lockMs / 3));
  renew.unref();
  const bodies = new Map<string, { body: string; meta: Meta }>();

  async function readStatus(id: string): Promise<NotificationStatus | null> {
    const [metaJson, deliveries] = await Promise.all([commands.hget(key.meta(id), 'meta'), commands.hgetall(key.deliveries(id))]);
    if (!metaJson) return null;
    const meta = JSON.parse(metaJson) as Meta;
    const records: DeliveryRecord[] = [];
    for (let position = 0; position < meta.count; position++) {
      const stored = JSON.parse(deliveries[String(position)]!) as StoredDelivery;
      records.push(toRecord(stored));
    }
    return {
      id,
      type: meta.type,
      event: { uid: meta.uid, sequence: meta.sequence },
      acceptedAt: new Date(meta.acceptedAt).toISOString(),
      deadlineAt: new Date(meta.deadlineAt).toISOString(),
      recipients: records,
    };
  }

  async function update(notificationId: string, position: string, from: DeliveryStatus, record: StoredDelivery): Promise<void> {
    const multi = commands.multi().hset(key.deliveries(notificationId), position, JSON.stringify(record));
    if (from !== record.status) multi.hincrby(key.counts, from, -1).hincrby(key.counts, record.status, 1);
    await multi.exec();
  }

  async function load(notificationId: string, position: string): Promise<StoredDelivery | null> {
    const json = await commands.hget(key.deliveries(notificationId), position);
    return json ? (JSON.parse(json) as StoredDelivery) : null;
  }

  async function notification(id: string) {
    let cached = bodies.get(id);
    if (!cached) {
      const [metaJson, body] = await commands.hmget(key.meta(id), 'meta', 'body');
      if (!metaJson || !body) return null;
      cached = { meta: JSON.parse(metaJson) as Meta, body };
      if (bodies.size > 100) bodies.delete(bodies.keys().next().value!);
      bodies.set(id, cached);
    }
    return cached;
  }

  /** The other deliveries of the same event and recipient, older and newer than this one (sequence, then acceptance). */
  async function neighbours(record: StoredDelivery) {
    const members = await commands.zrange(key.order(record.orderKey), '0', '-1');
    const index = members.indexOf(record.orderMember);
    const read = (member: string) => {
      const [, id, position] = member.split('|');
      return load(id!, position!);
    };
    return { older: await Promise.all(members.slice(0, index).map(read)), newer: await Promise.all(members.slice(index + 1).map(read)) };
  }

  function settle(deliveryId: string) {
    const entry = held.get(deliveryId);
    held.delete(deliveryId);
    if (!entry) throw new Error(`delivery ${deliveryId} is not held by this instance`);
    return entry;
  }

  return {
    async accept(n: NewNotification): Promise<AcceptOutcome> {
      const idempotency = n.idempotencyKey === null ? null : key.idempotency(n.idempotencyKey);
      if (idempotency) {
        const claimed = await commands.set(idempotency, `${PENDING}${n.bodyHash}`, 'PX', 60_000, 'NX');
        if (claimed === null) {
          const value = (await commands.get(idempotency)) ?? '';
          if (value.startsWith(PENDING)) return { kind: 'in-progress' };
          const first = JSON.parse(value) as { id: string; bodyHash: string };
          if (first.bodyHash !== n.bodyHash) return { kind: 'key-reused' };
          return { kind: 'replayed', notification: (await readStatus(first.id))! };
        }
      }
      try {
        const { request } = n;
        const method = calendarMethod(request.type);
        const base = await commands.incrby(key.sequence, n.recipients.length);
        const meta: Meta = { type: request.type, uid: request.event.uid, sequence: request.event.sequence, acceptedAt: n.acceptedAt, deadlineAt: n.deadlineAt, count: n.recipients.length };
        const multi = commands.multi().hset(key.meta(n.id), 'meta', JSON.stringify(meta), 'body', n.body);
        const records: Record<string, string> = {};
        n.recipients.forEach((email, position) => {
          const order = orderKey(request, email);
          const member = `${String(base - n.recipients.length + position).padStart(16, '0')}|${n.id}|${position}`;
          records[String(position)] = JSON.stringify({
            email, status: 'queued', attempts: 0, lastReply: null, messageId: null, queuedAt: n.acceptedAt, updatedAt: n.acceptedAt, sentAt: null,
            nextAttemptAt: n.acceptedAt, orderKey: order, orderMember: member, sequence: request.event.sequence, method, occurrence: request.event.occurrence ?? null,
          } satisfies StoredDelivery);
          multi.zadd(key.order(order), request.event.sequence, member);
        });
        multi.hset(key.deliveries(n.id), records).hincrby(key.counts, 'queued', n.recipients.length);
        // Status first, jobs second: a job never exists without its status; a status without
        // jobs (a failure between the two) was never answered 202, and is not counted as queued work.
        const results = await multi.exec();
        if (!results || results.some(([error]) => error)) throw new Error('Redis refused the notification');
        await queue.addBulk(n.recipients.map((_, position) => ({ name: 'deliver', data: { notificationId: n.id, position: String(position) }, opts: { jobId: `${n.id}.${position}`, removeOnComplete: true, removeOnFail: true } })));
        if (idempotency) await commands.set(idempotency, JSON.stringify({ id: n.id, bodyHash: n.bodyHash }), 'PX', 7 * 86_400_000);
        return { kind: 'accepted', notification: (await readStatus(n.id))! };
      } catch (error) {
        if (idempotency) await commands.del(idempotency).catch(() => undefined);
        throw error;
      }
    },

    status: readStatus,

    async claim(max: number, now: number): Promise<ClaimedDelivery[]> {
      const claimed: ClaimedDelivery[] = [];
      while (claimed.length < max) {
        const token = randomUUID();
        const job = (await worker.getNextJob(token, { block: false })) as Job<{ notificationId: string; position: string }> | undefined;
        if (!job) break;
        const { notificationId, position } = job.data;
        const record = await load(notificationId, position);
        const parent = record && (await notification(notificationId));
        if (!record || !parent || FINAL_STATUSES.has(record.status)) {
          await job.moveToCompleted('nothing to do', token, false); // orphan, or done before a crash
          continue;
        }
        const { older, newer } = await neighbours(record);
        const obsolete =
          record.method === 'REQUEST' &&
          newer.some((n) => n && (n.method === 'REQUEST' || n.method === 'CANCEL') && (n.occurrence === null || n.occurrence === record.occurrence));
        if (obsolete) {
          await update(notificationId, position, record.status, { ...record, status: 'superseded', updatedAt: now, nextAttemptAt: null });
          await job.moveToCompleted('superseded', token, false);
          continue;
        }
        if (older.some((o) => o && !FINAL_STATUSES.has(o.status))) {
          await job.moveToDelayed(now + 250, token); // an older message to this person about this event goes first
          continue;
        }
        const taken = { ...record, status: 'sending' as const, attempts: record.attempts + 1, updatedAt: now };
        await update(notificationId, position, record.status, taken);
        held.set(job.id!, { job, token });
        claimed.push({
          deliveryId: job.id!,
          notificationId,
          recipient: record.email,
          attempt: taken.attempts,
          body: parent.body,
          acceptedAt: parent.meta.acceptedAt,
          deadlineAt: parent.meta.deadlineAt,
        });
      }
      return claimed;
    },

    async markSent(deliveryId, { messageId, response, at }) {
      const { job, token } = settle(deliveryId);
      const { notificationId, position } = job.data as { notificationId: string; position: string };
      const record = (await load(notificationId, position))!;
      const responseCode = Number(/^\d{3}/.exec(response)?.[0] ?? 250);
      await update(notificationId, position, record.status, { ...record, status: 'sent', messageId, lastReply: { code: 'OK', responseCode, response, message: response }, sentAt: at, updatedAt: at, nextAttemptAt: null });
      await job.moveToCompleted('sent', token, false);
    },

    async markRetrying(deliveryId, { messageId, reply, nextAttemptAt, at }) {
      const { job, token } = settle(deliveryId);
      const { notificationId, position } = job.data as { notificationId: string; position: string };
      const record = (await load(notificationId, position))!;
      await update(notificationId, position, record.status, { ...record, status: 'retrying', messageId: messageId ?? record.messageId, lastReply: reply, nextAttemptAt, updatedAt: at });
      await job.moveToDelayed(nextAttemptAt, token);
    },

    async markFinalFailure(deliveryId, { status, messageId, reply, at }) {
      const { job, token } = settle(deliveryId);
      const { notificationId, position } = job.data as { notificationId: string; position: string };
      const record = (await load(notificationId, position))!;
      await update(notificationId, position, record.status, { ...record, status, messageId: messageId ?? record.messageId, lastReply: reply, nextAttemptAt: null, updatedAt: at });
      await job.moveToFailed(new Error(reply.message), token, false);
    },

    async release(deliveryIds) {
      for (const deliveryId of deliveryIds) {
        const entry = held.get(deliveryId);
        if (!entry) continue;
        held.delete(deliveryId);
        const { notificationId, position } = entry.job.data as { notificationId: string; position: string };
        const record = await load(notificationId, position);
        if (record) await update(notificationId, position, record.status, { ...record, status: 'queued', attempts: record.attempts - 1, updatedAt: Date.now() });
        await entry.job.moveToWait(entry.token);
      }
    },

    async counts() {
      const stored = await commands.hgetall(key.counts);
      return Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, Math.max(0, Number(stored[s] ?? 0))])) as Record<DeliveryStatus, number>;
    },

    async checkWritable() {
      await commands.set(key.probe, String(Date.now()));
    },

    async close() {
      clearInterval(renew);
      await worker.close(true).catch(() => undefined);
      await queue.close().catch(() => undefined);
      for (const connection of [commands, queueConnection, workerConnection]) connection.disconnect();
    },
  };
}

function toRecord(stored: StoredDelivery): DeliveryRecord {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    email: stored.email,
    status: stored.status,
    attempts: stored.attempts,
    lastReply: stored.lastReply,
    messageId: stored.messageId,
    queuedAt: iso(stored.queuedAt)!,
    updatedAt: iso(stored.updatedAt)!,
    sentAt: iso(stored.sentAt),
    nextAttemptAt: stored.status === 'queued' || stored.status === 'retrying' ? iso(stored.nextAttemptAt) : null,
  };
}
