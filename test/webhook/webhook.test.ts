/**
 * Signed status webhooks, with a receiver that verifies every signature with
 * the `standardwebhooks` package, as a backend would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { type ChildService, startChildService } from '../helpers/child-service.ts';
import { example } from '../helpers/examples.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

let sink: SmtpSink;
let receiver: WebhookReceiver;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeEach(async () => {
  sink = await new SmtpSink().start();
  receiver = await new WebhookReceiver(SECRET).start();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await receiver.stop();
  await sink.stop();
});

const webhookEnv = () => ({
  WEBHOOK_URL: receiver.url,
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_RETRY_INITIAL_DELAY_MS: '200',
  WEBHOOK_RETRY_MAX_DELAY_MS: '1000',
  WEBHOOK_TIMEOUT_MS: '1000',
});

async function startService(extra: Record<string, string> = {}): Promise<TestService> {
  const started = await startTestService({ SMTP_URL: sink.url, ...webhookEnv(), ...extra });
  cleanups.push(() => started.dispose());
  return started;
}

const post = (s: TestService, payload: unknown) =>
  s.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe.each([
  ['SQLite outbox', () => ({})],
  ['BullMQ outbox on Redis', () => ({ QUEUE_URL: redis.url, QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}` })],
] as const)('status webhooks (%s)', (_backend, backendEnv) => {
  const service = (extra: Record<string, string> = {}) => startService({ ...backendEnv(), ...extra });

  it('every recipient that reaches a final status is POSTed once, signed, with its data', async () => {
    const s = await service();
    sink.rcptPolicy = (address) => (address === 'anna.schmidt@partner.example' ? { code: 550, message: '5.1.1 no such user' } : undefined);
    const { id } = (await post(s, example('trueconf-weekly'))).json();
    const events = await waitFor(() => (receiver.of(id).length === 3 ? receiver.of(id) : null), 15_000, 'three events');
    expect(receiver.refused).toEqual([]);
    expect(events.map((e) => [e.type, e.data.recipient]).sort()).toEqual([
      ['delivery.failed', 'anna.schmidt@partner.example'],
      ['delivery.sent', 'd.orlov@mydomain.ru'],
      ['delivery.sent', 'i.volkova@mydomain.ru'],
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(receiver.of(id)).toHaveLength(3); // once each
  });

  it('a receiver down for 30 s gets every event afterwards; a repeat carries the same webhook-id', { timeout: 60_000 }, async () => {
    receiver.mode = 'down';
    const s = await service();
    const { id } = (await post(s, example('trueconf-weekly'))).json();
    await waitFor(async () => (await s.outbox.status(id))!.recipients.every((r) => r.status === 'sent'), 10_000, 'all sent');
    await new Promise((resolve) => setTimeout(resolve, 30_000)); // down for 30 s: retry after retry refused
    expect(receiver.of(id)).toHaveLength(0);
    // Every event refused again and again, and one line said so: a line a minute at most, not one a try.
    const refusedLines = s.logs.filter((l) => l.msg === 'webhooks not taken; they will be sent again (one line a minute while this lasts)');
    expect(refusedLines).toHaveLength(1);
    receiver.mode = 'ok';
    const events = await waitFor(() => (receiver.of(id).length === 3 ? receiver.of(id) : null), 15_000, 'three events after the outage');
    expect(events.every((e) => e.type === 'delivery.sent')).toBe(true);
    const recovered = await waitFor(() => s.logs.find((l) => l.msg === 'the webhook receiver takes events again'), 5000, 'the recovery line');
    expect(recovered.refusedSinceLastLine).toBeGreaterThan(3);
  });
});

describe('webhooks survive a crash', () => {
  it('SIGKILL while webhooks are in flight: after a restart every event arrives, a repeat with the same webhook-id', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'webhook-crash-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const children: ChildService[] = [];
    cleanups.push(() => children.forEach((c) => c.process.exitCode === null && c.process.kill('SIGKILL')));
    receiver.mode = 'hang';
    const first = await startChildService({ DATA_DIR: dataDir, SMTP_URL: sink.url, ...webhookEnv() });
    children.push(first);
    const response = await fetch(`${first.url}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(seedFanOut(40)),
    });
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => sink.received.length === 40, 15_000, 'all 40 sent');
    await waitFor(() => receiver.of(id).length >= 4, 10_000, 'webhooks in flight, never answered');
    first.process.kill('SIGKILL');
    const inFlight = new Set(receiver.of(id).map((e) => e.id));
    await first.exited;
    receiver.mode = 'ok';
    const second = await startChildService({ DATA_DIR: dataDir, SMTP_URL: sink.url, ...webhookEnv() });
    children.push(second);
    const events = await waitFor(
      () => {
        const all = receiver.of(id);
        const again = [...inFlight].every((eventId) => all.filter((e) => e.id === eventId).length >= 2);
        return new Set(all.map((e) => e.data.recipient)).size === 40 && again ? all : null;
      },
      30_000,
      'an event per recipient, and the unanswered ones again',
    );
    const byRecipient = new Map<string, Set<string>>();
    for (const event of events) byRecipient.set(event.data.recipient, (byRecipient.get(event.data.recipient) ?? new Set()).add(event.id));
    for (const ids of byRecipient.values()) expect(ids.size).toBe(1); // at least once, and a repeat is the same event
    expect(events.length).toBeGreaterThan(40); // the ones unanswered at the kill came again, with their ids
  });
});
