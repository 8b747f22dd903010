import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { openRedisOutbox } from '../../src/outbox/redis-outbox.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { NOTICE_WINDOW_MS, outboxContract } from './contract.ts';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

outboxContract('BullMQ on Redis', () => {
  const prefix = `test-${randomUUID()}`;
  // A short lock: a "crashed" holder's jobs come back within about a second.
  const open = () => openRedisOutbox({ url: redis.url, prefix, lockMs: 1500, webhooks: true, notices: { windowMs: NOTICE_WINDOW_MS } });
  return { open, reopen: open, cleanup: async () => undefined };
});
