/**
 * Brings the keys an earlier release wrote up to this layout, once per prefix
 * (`<prefix>:layout`): notifications get their count of recipients not final
 * yet (RETENTION counts from the last becoming final), and the webhook and
 * notice queues of releases before facts (a webhook payload per entry) become
 * facts and events of the consumers they were for, with their ids.
 */
import type { Redis } from 'ioredis';
import { FINAL_STATUSES } from '../../delivery/policy.ts';
import { newEventId } from '../event-id.ts';
import type { RedisKeys } from './keys.ts';
import type { StoredDelivery } from './records.ts';

/** The layout this release writes. */
const LAYOUT = 2;

/** @example await migrate(commands, redisKeys(prefix)); */
export async function migrate(commands: Redis, key: RedisKeys): Promise<void> {
  if (Number(await commands.get(key.layout)) >= LAYOUT) return;
  await countOpenRecipients(commands, key);
  await moveOldQueue(commands, key, { consumer: 'webhook', pending: `${key.prefix}:wh-pending`, list: (k) => `${key.prefix}:wh:${k}` });
  await moveOldQueue(commands, key, { consumer: 'notice', pending: `${key.prefix}:ntc-pending`, list: (k) => `${key.prefix}:ntc:${k}` });
  await commands.del(`${key.prefix}:wh-attempts`, `${key.prefix}:ntc-attempts`, `${key.prefix}:wh-seq`);
  await commands.set(key.layout, String(LAYOUT));
}

async function countOpenRecipients(commands: Redis, key: RedisKeys): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await commands.scan(cursor, 'MATCH', key.meta('*'), 'COUNT', 500);
    cursor = next;
    for (const metaKey of found) {
      if (/:(d|f|ev)$/.test(metaKey) || (await commands.hexists(metaKey, 'open'))) continue;
      const id = metaKey.slice(key.meta('').length);
      const records = Object.values(await commands.hgetall(key.deliveries(id))).map((json) => JSON.parse(json) as StoredDelivery);
      const open = records.filter((r) => !FINAL_STATUSES.has(r.status)).length;
      const multi = commands.multi().hset(metaKey, 'open', open);
      if (open === 0) multi.zadd(key.final, Math.max(...records.map((r) => r.updatedAt)), id);
      await multi.exec();
    }
  } while (cursor !== '0');
}

async function moveOldQueue(commands: Redis, key: RedisKeys, old: { consumer: string; pending: string; list: (k: string) => string }): Promise<void> {
  for (const [oldKey, score] of pairs(await commands.zrange(old.pending, '0', '-1', 'WITHSCORES'))) {
    const entries = await commands.lrange(old.list(oldKey), 0, -1);
    const multi = commands.multi();
    for (const entry of entries) {
      const { id, payload } = JSON.parse(entry) as { id: string; payload: string };
      const { timestamp, data } = JSON.parse(payload) as { timestamp: string; data: { notificationId: string } };
      const seq = await commands.incr(key.factSequence);
      multi.hset(key.facts(data.notificationId), String(seq), JSON.stringify({ ...data, at: Date.parse(timestamp) }));
      multi.rpush(key.eventList(old.consumer, oldKey), JSON.stringify({ id: id ?? newEventId(), seq, nid: data.notificationId }));
      multi.sadd(key.eventLists(data.notificationId), `${old.consumer}\t${oldKey}`);
    }
    multi.zadd(key.eventsDue(old.consumer), 'NX', score, oldKey).del(old.list(oldKey)).zrem(old.pending, oldKey);
    await multi.exec();
  }
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
