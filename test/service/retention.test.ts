/**
 * RETENTION and erasure through the running service, on both backends: with
 * a RETENTION of two seconds a notification leaves no trace (the API, every
 * file under DATA_DIR, every Redis key and value); DELETE erases one now;
 * Redis's memory goes back to where it was after a fan-out and its RETENTION.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { outboxBackends, sinkAndRedis } from '../helpers/backends.ts';
import { example } from '../helpers/examples.ts';
import { freePort } from '../helpers/redis.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const relay = sinkAndRedis();
const { sink } = relay;
let service: TestService | undefined;

afterEach(async () => {
  await service?.dispose();
  service = undefined;
});

/** Every key under a prefix, with every string its value holds. */
async function redisContents(prefix: string): Promise<Map<string, string[]>> {
  const client = new Redis(relay.redis.url);
  try {
    const contents = new Map<string, string[]>();
    for (const key of await client.keys(`${prefix}:*`)) {
      const type = await client.type(key);
      const values =
        type === 'string'
          ? [(await client.get(key)) ?? '']
          : type === 'hash'
            ? Object.entries(await client.hgetall(key)).flat()
            : type === 'list'
              ? await client.lrange(key, 0, -1)
              : type === 'zset'
                ? await client.zrange(key, '0', '-1')
                : type === 'set'
                  ? await client.smembers(key)
                  : type === 'stream'
                    ? (await client.xrange(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields])
                    : [`(a ${type})`];
      contents.set(key, values);
    }
    return contents;
  } finally {
    client.disconnect();
  }
}

/** What a DATA_DIR's files hold, as one string (SQLite keeps text as UTF-8). */
function dataDirBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .map((name) => join(dataDir, name))
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path).toString('utf8'))
    .join('\n');
}

describe.each(outboxBackends(() => relay.redis))('%s', (backend, backendEnv) => {
  async function start(env: Record<string, string>) {
    sink.reset();
    service = await startTestService({ SMTP_URL: sink.url, API_TOKEN: TOKEN, SERVICE_MAILBOX: 'calendar@mydomain.ru', ...env });
    return service;
  }
  const traces = async (env: Record<string, string>, dataDir: string) => {
    if (env.QUEUE_PREFIX) return [...(await redisContents(env.QUEUE_PREFIX)).entries()].flat(2).join('\n');
    return dataDirBytes(dataDir);
  };

  it('with a RETENTION of two seconds, a notification leaves no trace: the API, the files or keys, undelivered webhooks counted', async () => {
    const env = { ...backendEnv(), RETENTION: 'PT2S' };
    // A webhook receiver that is down: its events wait, then go with their notification.
    const down = `http://127.0.0.1:${await freePort()}/hooks`;
    const s = await start({ ...env, WEBHOOK_URL: down, WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}` });
    const { dataDir } = s;
    const payload = example('trueconf-weekly');
    payload.event.title = `Совещание ${randomUUID()}`;
    const posted = await s.app.inject({ method: 'POST', url: '/v1/notifications', headers: { ...auth, 'content-type': 'application/json' }, payload });
    expect(posted.statusCode).toBe(202);
    const { id } = posted.json();
    const emails: string[] = [payload.organizer.email, ...payload.recipients.map((r: { email: string }) => r.email)];
    const secrets = [id, payload.event.title, ...emails];
    await waitFor(async () => (await s.app.inject({ url: `/v1/notifications/${id}`, headers: auth })).json().totals?.sent === 3, 10_000, 'all sent');
    // The search finds them while the notification is kept (else its silence below would prove nothing).
    const before = await traces(env, dataDir);
    for (const secret of secrets) expect(before).toContain(secret);

    const gone = await waitFor(async () => (await s.app.inject({ url: `/v1/notifications/${id}`, headers: auth })).statusCode === 404, 8000, 'purged');
    expect(gone).toBe(true);
    const after = await traces(env, dataDir);
    for (const secret of secrets) expect(after, `${backend} still holds ${secret}`).not.toContain(secret);
    const metrics = (await s.app.inject('/metrics')).body;
    expect(metrics).toContain('invite_mailer_notifications_removed_total{reason="purged"} 1');
    expect(metrics).toContain('invite_mailer_undelivered_events_dropped_total{consumer="webhook"} 3');
  });

  it('DELETE /v1/notifications/{id} erases a notification now: what was not sent is never sent; 404 after; the token is needed', async () => {
    const env = backendEnv();
    const s = await start(env);
    // The relay puts every recipient off: nothing is sent before the erasure.
    sink.rcptPolicy = () => ({ code: 451, message: '4.7.1 try again later' });
    const payload = example('trueconf-weekly');
    const posted = await s.app.inject({ method: 'POST', url: '/v1/notifications', headers: { ...auth, 'content-type': 'application/json' }, payload });
    const { id } = posted.json();
    await waitFor(async () => (await s.app.inject({ url: `/v1/notifications/${id}`, headers: auth })).json().totals?.retrying > 0, 10_000, 'a retry');
    expect((await s.app.inject({ method: 'DELETE', url: `/v1/notifications/${id}` })).statusCode).toBe(401);
    const erased = await s.app.inject({ method: 'DELETE', url: `/v1/notifications/${id}`, headers: auth });
    expect(erased.statusCode).toBe(204);
    expect(erased.body).toBe('');
    // What was on the wire at that moment is refused too; then the relay takes everything.
    await new Promise((resolve) => setTimeout(resolve, 300));
    sink.rcptPolicy = () => undefined;
    const attemptsThen = sink.received.length;
    expect((await s.app.inject({ url: `/v1/notifications/${id}`, headers: auth })).json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await s.app.inject({ method: 'DELETE', url: `/v1/notifications/${id}`, headers: auth })).statusCode).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // past every retry the relay would have taken
    expect(sink.received.length).toBe(attemptsThen);
    expect(attemptsThen).toBe(0);
    expect((await s.app.inject('/metrics')).body).toContain('invite_mailer_notifications_removed_total{reason="erased"} 1');
    expect(s.logs.some((line) => line.msg === 'notification erased on request' && line.notificationId === id)).toBe(true);
  });
});

describe('Redis memory', () => {
  it('goes back to where it was after a 400-recipient fan-out and its RETENTION', async () => {
    const prefix = `test-${randomUUID()}`;
    const client = new Redis(relay.redis.url);
    try {
      service = await startTestService({
        SMTP_URL: sink.url,
        QUEUE_URL: relay.redis.url,
        QUEUE_PREFIX: prefix,
        RETENTION: 'PT2S',
        SERVICE_MAILBOX: 'calendar@mydomain.ru',
      });
      // A first small and large notification and their purge: what stays for good (counters, BullMQ's queue keys,
      // each class's served tag and where its flows end) is there before the measure.
      for (const payload of [example('skype-invitation'), seedFanOut(12)]) {
        const warmUp = await service.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'application/json' }, payload });
        await waitFor(async () => (await service!.app.inject(`/v1/notifications/${warmUp.json().id}`)).statusCode === 404, 10_000, 'the first purges');
      }
      // What the keys hold (used_memory less Redis's own overhead: client buffers, the append-only file's buffer, which vary with load).
      const memory = async () => Number(/used_memory_dataset:(\d+)/.exec(await client.info('memory'))![1]);
      const keysBefore = (await client.keys(`${prefix}:*`)).sort();
      const before = await memory();
      const posted = await service.app.inject({
        method: 'POST',
        url: '/v1/notifications',
        headers: { 'content-type': 'application/json' },
        payload: seedFanOut(400),
      });
      const { id } = posted.json();
      await waitFor(async () => (await service!.app.inject(`/v1/notifications/${id}`)).json().totals?.sent === 400, 20_000, 'the fan-out');
      const during = await memory();
      await waitFor(async () => (await service!.app.inject(`/v1/notifications/${id}`)).statusCode === 404, 10_000, 'the purge');
      expect(during - before).toBeGreaterThan(200_000); // what 400 recipients take
      expect((await client.keys(`${prefix}:*`)).sort()).toEqual(keysBefore);
      // Freed memory may be counted a moment later (lazy freeing): the dataset is back within 32 KB soon after, or this fails.
      await waitFor(async () => (await memory()) - before < 32_768, 5000, 'the dataset back within 32 KB of where it was');
    } finally {
      client.disconnect();
    }
  });
});
