/**
 * What the tests that run the service on both outboxes share: an SMTP sink
 * and a Redis, started once for a file, and the environment of each backend.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { type RedisProcess, startRedis } from './redis.ts';
import { SmtpSink } from './smtp-sink.ts';

/**
 * An SMTP sink and a Redis for the file's tests: started before them, stopped after.
 *
 * @example const relay = sinkAndRedis(); … startTestService({ SMTP_URL: relay.sink.url, ...env });
 */
export function sinkAndRedis(): { readonly sink: SmtpSink; readonly redis: RedisProcess } {
  const started = { sink: new SmtpSink(), redis: undefined as unknown as RedisProcess };
  beforeAll(async () => {
    await started.sink.start();
    started.redis = await startRedis();
  });
  afterAll(async () => {
    await started.sink.stop();
    await started.redis.stop();
  });
  return started;
}

/**
 * Each outbox the configuration can name, as the environment that names it (a Redis prefix of its own each time).
 *
 * @example describe.each(outboxBackends(() => relay.redis))('%s', (_name, backendEnv) => { … backendEnv() … });
 */
export function outboxBackends(redis: () => RedisProcess) {
  return [
    ['SQLite outbox', (): Record<string, string> => ({})],
    ['BullMQ outbox on Redis', (): Record<string, string> => ({ QUEUE_URL: redis().url, QUEUE_PREFIX: `test-${randomUUID()}` })],
  ] as const;
}
