import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { type ChildService, startChildService } from '../helpers/child-service.ts';
import { example } from '../helpers/examples.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { startTestService, type TestService, waitFor, waitForAllSent } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const POOL_SIZE = 5;
let redis: RedisProcess;
let sink: SmtpSink;
let prefix: string;
const services: TestService[] = [];
const children: ChildService[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  sink = await new SmtpSink().start();
  prefix = `test-${randomUUID()}`;
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.process.exitCode === null) child.process.kill('SIGKILL');
  for (const service of services.splice(0)) await service.dispose().catch(() => undefined);
  await sink.stop();
});

function env(extra: Record<string, string> = {}) {
  return { QUEUE_URL: redis.url, QUEUE_PREFIX: prefix, SMTP_URL: sink.url, SMTP_POOL_SIZE: String(POOL_SIZE), ...extra };
}

async function instance(extra: Record<string, string> = {}) {
  const service = await startTestService(env(extra));
  services.push(service);
  return service;
}

const post = (service: TestService, payload: unknown, headers: Record<string, string> = {}) =>
  service.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(payload),
  });

describe('several instances on one Redis', () => {
  it('an Idempotency-Key holds across instances, and any instance answers the status', async () => {
    const [a, b] = [await instance(), await instance()];
    const first = await post(a, example('trueconf-weekly'), { 'idempotency-key': 'evt-1' });
    const second = await post(b, example('trueconf-weekly'), { 'idempotency-key': 'evt-1' });
    expect(second.statusCode).toBe(202);
    expect(second.json().id).toBe(first.json().id);
    const other = example('trueconf-weekly');
    other.event.title = 'Другое';
    expect((await post(b, other, { 'idempotency-key': 'evt-1' })).json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const status = await waitForAllSent(async () => (await b.app.inject(`/v1/notifications/${first.json().id}`)).json());
    expect(status.recipients).toHaveLength(3);
    expect(sink.received).toHaveLength(3);
  });

  it('answers 503 at once when Redis is down, and sends what was accepted once it is back', async () => {
    const service = await instance();
    await service.worker.stop();
    const before = await post(service, example('skype-invitation'));
    expect(before.statusCode).toBe(202);
    await redis.halt();
    const started = Date.now();
    const during = await post(service, example('trueconf-weekly'));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(during.statusCode).toBe(503);
    expect(during.json().error.code).toBe('OUTBOX_UNAVAILABLE');
    // reads too: 503 at once, never a 500
    for (const url of [`/v1/notifications/${before.json().id}`, '/metrics']) {
      const read = await service.app.inject(url);
      expect(read.statusCode).toBe(503);
      expect(read.json().error.code).toBe('OUTBOX_UNAVAILABLE');
    }
    expect((await service.app.inject('/readyz')).statusCode).toBe(503);
    await redis.start();
    service.worker.start();
    await waitFor(() => sink.received.length === 1, 20_000, 'the notification accepted before the outage');
    expect(sink.received[0]!.to).toEqual(['a.smirnov@mydomain.ru']);
  });

  it('holds one send rate across instances (SEND_RATE_LIMIT)', async () => {
    await instance({ SEND_RATE_LIMIT: '20' });
    const b = await instance({ SEND_RATE_LIMIT: '20' });
    const started = Date.now();
    await post(b, seedFanOut(60));
    await waitFor(() => sink.received.length === 60, 20_000, '60 messages');
    // 60 messages at 20 per second across both instances: at least two full seconds
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });
});

describe('failover', () => {
  it('SIGKILL one of two instances mid-way through 1000 recipients: the other delivers all and answers the status', async () => {
    sink.dataDelayMs = 5;
    const first = await startChildService(env());
    children.push(first);
    const second = await startChildService(env());
    children.push(second);
    const response = await fetch(`${first.url}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(seedFanOut(1000)),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => sink.received.length >= 200, 30_000, '200 messages');
    first.process.kill('SIGKILL');
    await first.exited;
    await waitFor(() => sink.messageIdsByRecipient().size === 1000, 60_000, 'all 1000 recipients');
    const status = await waitForAllSent(async () => await (await fetch(`${second.url}/v1/notifications/${id}`)).json());
    expect(status.recipients).toHaveLength(1000);
    const duplicated = [...sink.messageIdsByRecipient().values()].filter((ids) => ids.length > 1);
    // Duplicates only for messages on the wire at the kill: at most the dead instance's pool.
    expect(duplicated.length).toBeLessThanOrEqual(POOL_SIZE);
    for (const ids of duplicated) expect(new Set(ids).size).toBe(1);
  });

  it('three Redis kills (SIGKILL, restart on its append-only file) during a fan-out with two instances: all delivered, final, duplicates within twice the pool per kill', async () => {
    sink.dataDelayMs = 5;
    const total = 600;
    const kills = 3;
    const first = await startChildService(env());
    children.push(first);
    const second = await startChildService(env());
    children.push(second);
    const response = await fetch(`${first.url}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(seedFanOut(total)),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    for (let kill = 0; kill < kills; kill++) {
      const threshold = sink.received.length + 60 + Math.floor(Math.random() * 40);
      await waitFor(() => sink.received.length >= threshold, 60_000, `${threshold} messages`);
      await redis.kill();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await redis.start();
    }
    await waitFor(() => sink.messageIdsByRecipient().size === total, 60_000, `all ${total} recipients within a minute of the last restart`);
    const status = await waitForAllSent(async () => await (await fetch(`${second.url}/v1/notifications/${id}`)).json(), 60_000);
    expect(status.recipients).toHaveLength(total);
    const counts = await (await fetch(`${first.url}/metrics`)).text();
    expect(counts).toContain(`invite_mailer_deliveries{status="sent"} ${total}`);
    expect(counts).toContain('invite_mailer_deliveries{status="sending"} 0');
    const duplicated = [...sink.messageIdsByRecipient().values()].filter((ids) => ids.length > 1);
    expect(sink.received.length - total).toBeLessThanOrEqual(kills * 2 * POOL_SIZE);
    for (const ids of duplicated) expect(new Set(ids).size).toBe(1);
  }, 240_000);

  it('Redis killed in the middle of accepting a large notification: it is stored whole and sent whole, or answered 503 and not at all', async () => {
    const service = await instance();
    await service.worker.stop();
    const accepting = post(service, seedFanOut(2000));
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 30));
    await redis.kill();
    const answer = await accepting;
    await redis.start();
    service.worker.start();
    if (answer.statusCode === 202) {
      await waitFor(() => sink.messageIdsByRecipient().size === 2000, 60_000, 'all 2000 recipients');
    } else {
      expect(answer.statusCode).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(sink.received).toHaveLength(0);
    }
  });

  it('a Redis restart in the middle of a fan-out loses nothing accepted', async () => {
    sink.dataDelayMs = 5;
    const service = await instance();
    const { id } = (await post(service, seedFanOut(300))).json();
    await waitFor(() => sink.received.length >= 50, 20_000, '50 messages');
    await redis.restart();
    await waitFor(() => sink.messageIdsByRecipient().size === 300, 60_000, 'all 300 recipients');
    const status = await waitForAllSent(async () => (await service.app.inject(`/v1/notifications/${id}`)).json());
    expect(status.recipients).toHaveLength(300);
  });
});
