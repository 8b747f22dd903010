/**
 * Fair delivery through the running service, on both backends, with and
 * without SEND_RATE_LIMIT: a one-recipient cancellation posted while a large
 * invitation is going out reaches the relay long before the invitation's
 * last message does (it used to wait for the end of the fan-out); and one
 * organizer's fan-outs do not hold back another organizer's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { outboxBackends, sinkAndRedis } from '../helpers/backends.ts';
import { example } from '../helpers/examples.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';

const relay = sinkAndRedis();
const { sink } = relay;
let service: TestService | undefined;

afterEach(async () => {
  await service?.dispose();
  service = undefined;
});

describe.each(outboxBackends(() => relay.redis))('%s', (_backend, backendEnv) => {
  it.each([
    ['with no rate limit', 1000, {}],
    ['with SEND_RATE_LIMIT=200', 300, { SEND_RATE_LIMIT: '200' }],
  ] as const)('a cancellation posted during a large fan-out goes ahead of it, %s', async (_how, size, limit) => {
    sink.reset();
    service = await startTestService({ ...backendEnv(), ...limit, SMTP_URL: sink.url, SERVICE_MAILBOX: 'calendar@mydomain.ru' });
    const post = (payload: unknown) =>
      service!.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'application/json' }, payload: payload as object });
    expect((await post(seedFanOut(size))).statusCode).toBe(202);
    await waitFor(() => sink.received.length >= 20, 10_000, 'the fan-out under way');
    const cancellation = example('cancellation');
    const recipient = cancellation.recipients[0].email as string;
    expect((await post(cancellation)).statusCode).toBe(202);
    const postedAt = sink.received.length;
    await waitFor(() => sink.received.length >= size + 1, 30_000, 'every message');
    const arrivedAt = sink.received.findIndex((m) => m.to.includes(recipient));
    // Behind at most what was already claimed when it came (runtime/worker.ts, claimBatchSize; on Redis, whole
    // jobs of 25), never the rest of the fan-out. How long that is in time is the benchmark's to say.
    expect(arrivedAt - postedAt).toBeLessThan(size === 1000 ? 250 : 90);
    expect(size - arrivedAt).toBeGreaterThan(size / 2);
  });

  it("another organizer's large invitation shares the relay with one organizer's two, rather than a third of it", async () => {
    sink.reset();
    service = await startTestService({ ...backendEnv(), SEND_RATE_LIMIT: '200', SMTP_URL: sink.url, SERVICE_MAILBOX: 'calendar@mydomain.ru' });
    const post = (payload: unknown) =>
      service!.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'application/json' }, payload: payload as object });
    /** 150 recipients of their own (`<tag>participant<i>@…`), for an event of its own, by `organizer`. */
    const fanOut = (tag: string, organizer: string) => {
      const payload = JSON.parse(JSON.stringify(seedFanOut(150)).replaceAll('participant', `${tag}participant`));
      payload.event.uid = `${tag}@mydomain.ru`;
      payload.organizer = { name: 'Организатор', email: organizer };
      payload.attendees[0] = { ...payload.attendees[0], name: 'Организатор', email: organizer };
      return payload;
    };
    for (const tag of ['a', 'b']) expect((await post(fanOut(tag, 'e.smirnova@mydomain.ru'))).statusCode).toBe(202);
    await waitFor(() => sink.received.length >= 10, 10_000, 'the first fan-out under way');
    expect((await post(fanOut('c', 'o.kuznetsova@partner.ru'))).statusCode).toBe(202);
    await waitFor(() => sink.received.length >= 450, 30_000, 'every message');
    const lastOf = (tag: string) => sink.received.findLastIndex((m) => m.to.some((to) => to.startsWith(`${tag}participant`)));
    // Half the relay from its POST on: done when about two thirds are out, and the first organizer's second
    // invitation after it. (Each notification a third: it would end with the last messages.)
    expect(450 - lastOf('c')).toBeGreaterThan(90);
    expect(lastOf('b')).toBeGreaterThan(lastOf('c'));
    expect(lastOf('a')).toBeLessThan(lastOf('b'));
  });
});
