import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { tagOfPriority } from '../../src/delivery/fairness.ts';
import { NOTICE_CONSUMER, noticeConsumer } from '../../src/notice/sender.ts';
import { StaleDeliveryError } from '../../src/outbox/outbox.ts';
import { openRedisOutbox } from '../../src/outbox/redis/open.ts';
import { WEBHOOK_CONSUMER, webhookPayload } from '../../src/webhook/event.ts';
import { example } from '../helpers/examples.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { attempt, CONTRACT_CONSUMERS, claimUntil, notificationOf, type OutboxHarness, outboxContract, outcomes } from './contract.ts';
import { EARLIER_AT, EARLIER_DATA, EARLIER_PAYLOAD } from './earlier-release.ts';
import { eventQueueContract } from './events-contract.ts';
import { fairnessContract } from './fairness-contract.ts';
import { retentionContract } from './retention-contract.ts';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const harness = (): OutboxHarness => {
  const prefix = `test-${randomUUID()}`;
  // A short lock: a "crashed" holder's jobs come back within about a second.
  const open = () => openRedisOutbox({ url: redis.url, prefix, lockMs: 1500, consumers: CONTRACT_CONSUMERS });
  return { open, reopen: open, cleanup: async () => undefined };
};
outboxContract('BullMQ on Redis', harness);
eventQueueContract('BullMQ on Redis', harness);
retentionContract('BullMQ on Redis', harness);
fairnessContract('BullMQ on Redis', harness);

describe('BullMQ on Redis: an earlier release’s keys', () => {
  it('become facts and events with their ids, and a finished notification is kept for RETENTION from its last change', async () => {
    const prefix = `test-${randomUUID()}`;
    const client = new Redis(redis.url);
    const [at, data, payload] = [EARLIER_AT, EARLIER_DATA, EARLIER_PAYLOAD];
    const meta = { type: 'invitation', uid: 'uid-1', sequence: 0, acceptedAt: at, deadlineAt: at + 86_400_000, count: 1 };
    const record = { email: 'a@partner.example', status: 'failed', attempts: 1, orderKey: 'k', orderMember: `${'1'.padStart(16, '0')}|n1|0`, updatedAt: at };
    await client
      .multi()
      .hset(`${prefix}:n:n1`, 'meta', JSON.stringify(meta), 'body', '{}')
      .hset(`${prefix}:n:n1:d`, '0', JSON.stringify(record))
      .hset(`${prefix}:counts`, 'failed', 1)
      .zadd(`${prefix}:wh-pending`, 0, 'n1/0')
      .rpush(`${prefix}:wh:n1/0`, JSON.stringify({ id: 'evt_3', seq: 3, payload }))
      .zadd(`${prefix}:ntc-pending`, 0, 'n1')
      .rpush(`${prefix}:ntc:n1`, JSON.stringify({ id: 'evt_4', seq: 4, payload }))
      .exec();
    const upgraded = await openRedisOutbox({ url: redis.url, prefix, consumers: [WEBHOOK_CONSUMER, noticeConsumer(0)] });
    try {
      const [webhook] = await upgraded.events.claim('webhook', 10, Date.now(), 60_000);
      expect(webhook!.events).toEqual([{ id: 'evt_3', fact: { ...data, at } }]);
      expect(webhookPayload(webhook!.events[0]!.fact)).toBe(payload);
      const [notice] = await upgraded.events.claim(NOTICE_CONSUMER, 10, Date.now(), 60_000);
      expect(notice).toMatchObject({ key: 'n1', events: [{ id: 'evt_4', fact: { ...data, at } }] });
      expect(await client.keys(`${prefix}:wh*`)).toEqual([]);
      expect(await client.keys(`${prefix}:ntc*`)).toEqual([]);
      expect((await upgraded.purge(at - 1, 10)).notifications).toBe(0);
      expect(await upgraded.purge(at, 10)).toEqual({ notifications: 1, undeliveredEvents: { webhook: 1, notice: 1 } });
      expect(await upgraded.counts()).toMatchObject({ failed: 0 });
    } finally {
      await upgraded.close();
      client.disconnect();
    }
  });
});

describe('BullMQ on Redis: where fair tags start', () => {
  it("starts an organizer's fan-out where its previous one ends while that one waits, and at tag 0 once its class has no job waiting, its flows forgotten", async () => {
    const prefix = `test-${randomUUID()}`;
    const client = new Redis(redis.url);
    const outbox = await openRedisOutbox({ url: redis.url, prefix, lockMs: 1500 });
    /** The tags of a notification's jobs waiting, from BullMQ's prioritized set (score: priority × 2^32 + a counter). */
    const tagsOf = async (id: string) => {
      const scored = await client.zrange(`${prefix}:deliveries:prioritized`, '0', '-1', 'WITHSCORES');
      const tags: number[] = [];
      for (let i = 0; i < scored.length; i += 2) if (scored[i]!.startsWith(`${id}.`)) tags.push(tagOfPriority(Math.floor(Number(scored[i + 1]) / 2 ** 32)).tag);
      return tags.sort((a, b) => a - b);
    };
    const fanOut = () => {
      const payload = seedFanOut(60);
      payload.event.uid = `${randomUUID()}@mydomain.ru`;
      return notificationOf(payload);
    };
    try {
      const [first, second] = [fanOut(), fanOut()];
      for (const n of [first, second]) await outbox.accept(n);
      expect(await tagsOf(first.id)).toEqual([0, 1, 2]); // 25 + 25 + 10 recipients
      expect(await tagsOf(second.id)).toEqual([3, 4, 5]); // behind the same organizer's first
      await claimUntil(outbox, (claimed) => claimed.length === 120);
      const third = fanOut();
      await outbox.accept(third);
      expect(await tagsOf(third.id)).toEqual([0, 1, 2]);
      expect(await client.hgetall(`${prefix}:fair-ends:2`)).toEqual({ [third.flow]: '3' });
    } finally {
      await outbox.close();
      client.disconnect();
    }
  });
});

describe('BullMQ on Redis: the jobs behind the records', () => {
  const prefix = `test-${randomUUID()}`;
  let queue: Queue | undefined;
  afterEach(async () => {
    await queue?.close();
  });
  /** BullMQ's own view of the outbox's queue. */
  const queueOf = (outboxPrefix: string) => {
    queue = new Queue('deliveries', { connection: { url: redis.url }, prefix: outboxPrefix });
    return queue;
  };

  it('answers a large notification before all its jobs are made, and a close waits until they are', async () => {
    const jobPrefix = `${prefix}-large`;
    const large = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 1500 });
    const n = notificationOf(seedFanOut(450));
    expect((await large.accept(n)).kind).toBe('accepted');
    await large.close();
    // every job exists once the outbox is closed (25 recipients each): none left for another instance's expansion 5 s later
    expect(await queueOf(jobPrefix).getJobCountByTypes('prioritized')).toBe(18);
    const reopened = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 1500 });
    const claimed = await reopened.claim(500, Date.now());
    await reopened.release(claimed.map((c) => c.deliveryId));
    await reopened.close();
    expect(new Set(claimed.map((c) => c.recipient)).size).toBe(450);
  });

  it("with a shared send rate, a job is one recipient: BullMQ's limiter counts jobs", async () => {
    const jobPrefix = `${prefix}-rate`;
    const limited = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 1500, sendRatePerSecond: 50 });
    await limited.accept(notificationOf(example('trueconf-weekly')));
    await limited.close();
    expect(await queueOf(jobPrefix).getJobCountByTypes('prioritized')).toBe(3);
  });

  it('a recipient handed to a job of its own (a retry) is sent by that job alone: the job it came from, taken again by another instance, leaves it be', async () => {
    const jobPrefix = `${prefix}-handed`;
    const one = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 60_000 });
    const other = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 60_000 });
    const n = notificationOf(example('trueconf-weekly'));
    await one.accept(n);
    const [retried, ...rest] = await one.claim(3, Date.now());
    await attempt(one, retried!, outcomes.retrying(Date.now() + 200));
    await one.release(rest.map((d) => d.deliveryId)); // the job of three goes back to the queue
    // Both jobs are due: this instance takes them, and puts the retry on the wire.
    const again = await claimUntil(one, (claimed) => claimed.some((d) => d.deliveryId === retried!.deliveryId));
    await one.begin(retried!.deliveryId, Date.now());
    await one.release(again.filter((d) => d.deliveryId !== retried!.deliveryId).map((d) => d.deliveryId));
    // Another instance takes the job of three: the two others, not the one on the wire, and its record is left as it is.
    const taken = await claimUntil(other, (claimed) => claimed.length >= 2);
    expect(taken.map((d) => d.recipient).sort()).toEqual(rest.map((d) => d.recipient).sort());
    const record = (await other.status(n.id))!.recipients[retried!.position]!;
    expect(record).toMatchObject({ status: 'sending', attempts: 2 });
    await one.settle(retried!.deliveryId, outcomes.sent('<r@x>'));
    expect((await one.status(n.id))!.recipients[retried!.position]!.status).toBe('sent');
    await other.release(taken.map((d) => d.deliveryId));
    await Promise.all([one.close(), other.close()]);
  });

  it('a delivery whose start is refused (its first try applied, the answer lost, ioredis sent it again) is not left `sending` for good: its job comes back for it', async () => {
    const jobPrefix = `${prefix}-twice`;
    const outbox = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 60_000 });
    const n = notificationOf(example('trueconf-weekly'));
    await outbox.accept(n);
    const [started, ...rest] = await outbox.claim(3, Date.now());
    await outbox.begin(started!.deliveryId, Date.now());
    await expect(outbox.begin(started!.deliveryId, Date.now())).rejects.toBeInstanceOf(StaleDeliveryError);
    for (const d of rest) await attempt(outbox, d, outcomes.sent(`<${d.position}@x>`));
    const again = await claimUntil(outbox, (claimed) => claimed.length >= 1);
    expect(again.map((d) => [d.deliveryId, d.attempt])).toEqual([[started!.deliveryId, 2]]);
    await outbox.release(again.map((d) => d.deliveryId));
    await outbox.close();
  });

  it('a hand-back whose job cannot go back (its lock gone) is refused with when its deliveries come back, and they do come back', async () => {
    const jobPrefix = `${prefix}-lost-lock`;
    const holder = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 1500 });
    const n = notificationOf(example('trueconf-weekly'));
    await holder.accept(n);
    const claimed = await holder.claim(10, Date.now());
    expect(claimed).toHaveLength(3);
    const q = queueOf(jobPrefix);
    const [job] = await q.getActive();
    const direct = new Redis(redis.url);
    await direct.del(`${jobPrefix}:deliveries:${job!.id}:lock`); // as when the lock ran out while Redis was away
    direct.disconnect();
    await expect(holder.release(claimed.map((c) => c.deliveryId))).rejects.toThrow(
      /^1 job\(s\) could not be given back to the queue \(.+\): their deliveries are due again once the job's lock runs out \(within 1500 ms\)/,
    );
    // The stalled check hands the job on: another instance sends its three.
    const other = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 1500 });
    const again = await claimUntil(other, (c) => c.length >= 3, 10_000);
    expect(again.map((d) => d.recipient).sort()).toEqual(claimed.map((d) => d.recipient).sort());
    await other.release(again.map((d) => d.deliveryId));
    await Promise.all([holder.close(), other.close()]);
  });

  it('a retrying delivery whose job comes back before its time (its move was lost) waits for that time', async () => {
    const jobPrefix = `${prefix}-early`;
    const early = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 1500 });
    const n = notificationOf(example('trueconf-weekly'));
    await early.accept(n);
    const [delivery, ...others] = await early.claim(10, Date.now());
    await early.release(others.map((o) => o.deliveryId));
    const retryAt = Date.now() + 60_000;
    await attempt(early, delivery!, outcomes.retrying(retryAt));
    const q = queueOf(jobPrefix);
    const job = (await q.getJob(delivery!.deliveryId))!;
    await vi.waitFor(async () => expect(await job.getState()).toBe('delayed'));
    await job.promote(); // as if the move to delayed had never happened: the job is waiting now
    const claimed = await early.claim(10, Date.now());
    expect(claimed.map((c) => c.deliveryId)).not.toContain(delivery!.deliveryId);
    expect(await job.getState()).toBe('delayed');
    expect((await q.getJob(delivery!.deliveryId))!.delay).toBeGreaterThan(50_000);
    await early.release(claimed.map((c) => c.deliveryId));
    await early.close();
  });

  it('a job carries the recipients of a notification: a claim takes what it asks for, the next claim the rest; a finished job brings the next one; a close gives back what no claim took', async () => {
    const jobPrefix = `${prefix}-next`;
    const next = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 60_000 });
    const first = notificationOf(example('trueconf-weekly'));
    const other = example('trueconf-weekly');
    other.event.uid = `other-${other.event.uid}`; // another event: the first is not superseded
    const second = notificationOf(other);
    await next.accept(first);
    await next.accept(second);
    const q = queueOf(jobPrefix);
    expect(await q.getJobCounts('active', 'prioritized')).toEqual({ active: 0, prioritized: 2 });
    const [one] = await next.claim(1, Date.now());
    const rest = await next.claim(2, Date.now());
    // the rest of the first job, without taking the second one
    expect([one!, ...rest].map((d) => [d.notificationId, d.recipient])).toEqual(first.recipients.map((r) => [first.id, r.email]));
    expect(await q.getJobCounts('active', 'prioritized')).toEqual({ active: 1, prioritized: 1 });
    for (const d of [one!, ...rest]) await attempt(next, d, outcomes.sent(`<${d.position}@b>`));
    // the finishing move took the next job: it is this instance's, under the lock
    await vi.waitFor(async () => expect(await q.getJobCounts('active', 'prioritized', 'completed')).toEqual({ active: 1, prioritized: 0, completed: 0 }));
    const [taken] = await next.claim(1, Date.now());
    expect(taken).toMatchObject({ notificationId: second.id, position: 0 });
    await next.release([taken!.deliveryId]); // as the worker does when it stops
    expect(await q.getJobCounts('active', 'prioritized')).toEqual({ active: 1, prioritized: 0 }); // two of it are still claimed
    await next.close();
    // back in the queue at once, not in a minute when the lock would have run out
    expect(await q.getJobCounts('active', 'prioritized')).toEqual({ active: 0, prioritized: 1 });
    const reopened = await openRedisOutbox({ url: redis.url, prefix: jobPrefix, lockMs: 60_000 });
    const again = await reopened.claim(10, Date.now());
    expect(again.map((d) => d.recipient)).toEqual(second.recipients.map((r) => r.email));
    await reopened.release(again.map((d) => d.deliveryId));
    await reopened.close();
  });
});
