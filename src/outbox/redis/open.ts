/**
 * The outbox for several instances: BullMQ on Redis (or Valkey). A notification's
 * recipients go out as BullMQ jobs of up to RECIPIENTS_PER_JOB each (a retry,
 * or a wait for an older message, is a job of its own); workers take jobs by
 * hand (`getNextJob`) so that the service's worker stays the same for both
 * backends. BullMQ brings the rest: jobs whose instance died are found by its
 * stalled-job check and taken by another instance; its rate limiter holds one
 * send rate across instances (with a rate set, a job is one recipient, since
 * the limiter counts jobs). Each recipient's status lives in a Redis hash
 * every instance reads, and only its changes there decide what is sent: a job
 * taken again after a crash sends only what is not final.
 *
 * Files by concern: jobs.ts (the BullMQ jobs), claim.ts, deliveries.ts,
 * transition.ts, events.ts, retention.ts, migrate.ts, and the Lua scripts in
 * scripts/. docs/design/outbox.md draws the keys and states.
 */
import { Queue, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { rateWindow } from '../../delivery/fairness.ts';
import type { EventConsumer } from '../events.ts';
import type { Outbox } from '../outbox.ts';
import { claimer } from './claim.ts';
import { notificationCache, redisDeliveries } from './deliveries.ts';
import { redisEvents } from './events.ts';
import { JobBook } from './jobs.ts';
import { redisKeys } from './keys.ts';
import { migrate } from './migrate.ts';
import { redisRetention } from './retention.ts';
import { defineScripts } from './scripts.ts';
import { transitions } from './transition.ts';

export interface RedisOutboxOptions {
  /** `redis://[user:password@]host:port[/db]` */
  readonly url: string;
  /** Key prefix, so that several services can share a Redis. Default `invite-mailer`. */
  readonly prefix?: string;
  /** Messages per second across all instances (the relay's limit); unset: no limit. */
  readonly sendRatePerSecond?: number;
  /** How long a taken job is this instance's before the stalled check hands it to another. Default 15 s, renewed while it is held. */
  readonly lockMs?: number;
  /** How long to keep trying to reach Redis at start before giving up. Default 30 s. */
  readonly connectWithinMs?: number;
  /** Who hears of deliveries' changes (the webhook dispatcher, the organizer's notices). */
  readonly consumers?: readonly EventConsumer[];
}

/**
 * @example const outbox = await openRedisOutbox({ url: 'redis://localhost:6379', sendRatePerSecond: 200 });
 * @throws Error when Redis does not answer within `connectWithinMs`.
 */
export async function openRedisOutbox(options: RedisOutboxOptions): Promise<Outbox> {
  const prefix = options.prefix ?? 'invite-mailer';
  const lockMs = options.lockMs ?? 15_000;
  const consumers = options.consumers ?? [];
  // Requests fail at once while Redis is away (the API answers 503 instead of hanging).
  const fastFail: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true };
  const commands = new Redis(options.url, fastFail);
  const queueConnection = new Redis(options.url, fastFail);
  commands.on('error', () => undefined); // reported by the failing command; not a crash
  queueConnection.on('error', () => undefined);
  await connectWithBackoff([commands, queueConnection], options.connectWithinMs ?? 30_000);
  const scripts = defineScripts(commands);
  const key = redisKeys(prefix);
  await migrate(commands, key);

  const workerConnection = new Redis(options.url, { maxRetriesPerRequest: null, connectTimeout: 2000 });
  workerConnection.on('error', () => undefined);
  const queue = new Queue('deliveries', { connection: queueConnection, prefix });
  const worker = new Worker('deliveries', null, {
    connection: workerConnection,
    prefix,
    autorun: false,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 3)),
    maxStalledCount: 1_000_000, // a stalled job is a crashed instance, not a poison message
    // In windows of a tenth of a second (delivery/fairness.ts, rateWindow), so that nothing waits most of a second for the next window.
    ...(options.sendRatePerSecond ? { limiter: limiterOf(options.sendRatePerSecond) } : {}),
  });
  worker.on('error', () => undefined);
  queue.on('error', () => undefined); // reported by the failing call; unhandled, BullMQ prints it to stderr
  await worker.startStalledCheckTimer();

  const notifications = notificationCache(commands, key);
  const jobs = new JobBook({
    queue,
    worker,
    commands,
    key,
    lockMs,
    oneRecipientPerJob: Boolean(options.sendRatePerSecond),
    meta: async (id) => (await notifications.get(id))?.meta ?? null,
  });
  const transition = transitions(scripts, prefix, consumers);
  const deliveries = redisDeliveries({ commands, key, scripts, jobs, transition, notification: notifications.get });

  return {
    ...deliveries,
    claim: claimer({ commands, key, prefix, queue, jobs, scripts, transition, notification: notifications.get }),
    events: redisEvents(commands, scripts, key, consumers),
    ...redisRetention({ commands, scripts, key, jobs, forget: notifications.forget }),
    async close() {
      await jobs.close();
      await worker.close(true).catch(() => undefined);
      await queue.close().catch(() => undefined);
      for (const connection of [commands, queueConnection, workerConnection]) connection.disconnect();
    },
  };
}

/** BullMQ's limiter for a send rate, in windows of a tenth of a second (rateWindow). */
function limiterOf(ratePerSecond: number): { max: number; duration: number } {
  const { max, durationMs } = rateWindow(ratePerSecond);
  return { max, duration: durationMs };
}

/** Connects, retrying with backoff; gives up (and closes the connections) after `withinMs`. */
async function connectWithBackoff(connections: readonly Redis[], withinMs: number): Promise<void> {
  const started = Date.now();
  for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
    try {
      await Promise.all(
        connections.map(async (c) => {
          if (c.status === 'wait' || c.status === 'end' || c.status === 'close') await c.connect();
          await c.ping();
        }),
      );
      return;
    } catch (error) {
      if (Date.now() - started + delay > withinMs) {
        for (const c of connections) c.disconnect();
        throw new Error(`Redis at QUEUE_URL did not answer within ${Math.round(withinMs / 1000)} s: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
