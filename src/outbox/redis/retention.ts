/**
 * RETENTION and erasure in the Redis outbox: a notification leaves every key
 * it was in (scripts/remove-notification-0.lua), its jobs leave BullMQ's
 * queue, and BullMQ's event stream, which names jobs by notification, is
 * emptied (nothing here reads it). Redis's append-only file keeps old writes
 * until it is rewritten (docs/privacy.md).
 */
import type { Redis } from 'ioredis';
import type { Removed, Retention } from '../outbox.ts';
import type { JobBook } from './jobs.ts';
import type { RedisKeys } from './keys.ts';
import type { Meta } from './records.ts';
import type { Scripts } from './scripts.ts';

export interface RedisRetentionOptions {
  readonly commands: Redis;
  readonly scripts: Scripts;
  readonly key: RedisKeys;
  readonly jobs: JobBook;
  /** Forgets a cached body. */
  readonly forget: (id: string) => void;
}

/** @example const retention = redisRetention({ commands, scripts, key, jobs, forget }); await retention.purge(Date.now() - 30 * 86_400_000, 100); */
export function redisRetention(options: RedisRetentionOptions): Retention {
  const { commands, scripts, key, jobs } = options;

  /** One notification out of every key; null if it was not there. */
  async function remove(id: string): Promise<Removed | null> {
    const metaJson = await commands.hget(key.meta(id), 'meta');
    // Its jobs first: one taken meanwhile finds no record and completes.
    if (metaJson) await jobs.removeJobs(id, (JSON.parse(metaJson) as Meta).count);
    const answer = await scripts.removeNotification(JSON.stringify({ prefix: key.prefix, id }));
    options.forget(id);
    if (!answer) return null;
    const undeliveredEvents: Record<string, number> = {};
    for (let i = 0; i < answer.length; i += 2) undeliveredEvents[String(answer[i])] = Number(answer[i + 1]);
    return { notifications: 1, undeliveredEvents };
  }

  function add(total: Removed, one: Removed | null): Removed {
    if (!one) return total;
    const undeliveredEvents = { ...total.undeliveredEvents };
    for (const [consumer, n] of Object.entries(one.undeliveredEvents)) undeliveredEvents[consumer] = (undeliveredEvents[consumer] ?? 0) + n;
    return { notifications: total.notifications + one.notifications, undeliveredEvents };
  }

  /** BullMQ's event stream names the jobs (and so the notifications) it saw; nothing here reads it. */
  async function emptyQueueEvents(): Promise<void> {
    await commands.xtrim(key.queueEvents, 'MAXLEN', 0);
  }

  return {
    async purge(finalBefore, max) {
      const ids = await commands.zrangebyscore(key.final, '-inf', String(finalBefore), 'LIMIT', 0, max);
      let total: Removed = { notifications: 0, undeliveredEvents: {} };
      for (const id of ids) total = add(total, await remove(id));
      if (ids.length) await emptyQueueEvents();
      return total;
    },
    async erase(id) {
      const removed = await remove(id);
      if (removed) await emptyQueueEvents();
      return removed;
    },
  };
}
