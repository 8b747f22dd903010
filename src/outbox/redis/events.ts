/**
 * The Redis outbox's event queue (../events.ts): per consumer, a list of
 * events per key and a sorted set of the keys with events waiting, by when
 * they are due; the facts they point to are kept with their notification.
 * Written by transitions-0.lua, claimed and settled by claim-events-3.lua
 * and settle-events-3.lua.
 */
import type { Redis } from 'ioredis';
import { eventTimeOf } from '../event-id.ts';
import type { DeliveryFact, EventBatch, EventConsumer, EventQueue, QueuedEvent } from '../events.ts';
import type { RedisKeys } from './keys.ts';
import type { Scripts } from './scripts.ts';

/** Keys a scrape's backlog visits at most (event-backlog-1.lua): beyond, a lower bound, and Redis is not held long. */
const BACKLOG_KEYS_VISITED = 10_000;

/** @example const events = redisEvents(commands, scripts, key, consumers); await events.claim('webhook', 16, Date.now(), 60_000); */
export function redisEvents(commands: Redis, scripts: Scripts, key: RedisKeys, consumers: readonly EventConsumer[]): EventQueue {
  const byName = new Map(consumers.map((c) => [c.name, c]));
  const keysOf = (consumer: string, eventKey: string) => [key.eventsDue(consumer), key.eventList(consumer, eventKey), key.eventAttempts(consumer)] as const;
  return {
    async claim(name, max, now, leaseMs) {
      const consumer = byName.get(name);
      if (!consumer) throw new Error(`no event consumer named ${name}`);
      const due = await commands.zrangebyscore(key.eventsDue(name), '-inf', String(now), 'LIMIT', 0, max);
      const claimed = await Promise.all(
        due.map((eventKey) =>
          scripts.claimEvents(
            ...keysOf(name, eventKey),
            JSON.stringify({ prefix: key.prefix, key: eventKey, now, leaseUntil: now + leaseMs, take: consumer.take }),
          ),
        ),
      );
      const batches: EventBatch[] = [];
      for (const [i, answer] of claimed.entries()) {
        if (!answer) continue;
        const [attempt, ...flat] = answer;
        const events: QueuedEvent[] = [];
        let through = 0;
        for (let j = 0; j < flat.length; j += 2) {
          const entry = JSON.parse(flat[j]!) as { id: string; seq: number };
          through = entry.seq;
          // (A fact removed with its notification while the event was claimed: nothing left to tell.)
          if (flat[j + 1]) events.push({ id: entry.id, fact: JSON.parse(flat[j + 1]!) as DeliveryFact });
        }
        const batch: EventBatch = { consumer: name, key: due[i]!, events, attempt, through: String(through) };
        if (events.length) batches.push(batch);
        else await this.settle(batch, { done: true });
      }
      return batches;
    },

    async settle(batch, result) {
      if ('done' in result) {
        await scripts.settleEvents(...keysOf(batch.consumer, batch.key), JSON.stringify({ key: batch.key, through: Number(batch.through), now: Date.now() }));
      } else await commands.zadd(key.eventsDue(batch.consumer), 'XX', result.retryAt, batch.key);
    },

    async backlog(consumer) {
      const [waiting, oldest] = await scripts.eventBacklog(
        key.eventsDue(consumer),
        JSON.stringify({ prefix: key.prefix, consumer, limit: BACKLOG_KEYS_VISITED }),
      );
      return { waiting, oldestAt: oldest === null ? null : eventTimeOf(oldest) };
    },
  };
}
