import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../src/http/errors.ts';
import { DELIVERY_STATUSES } from '../../src/outbox/outbox.ts';
import { outboxBackends } from '../helpers/backends.ts';
import { BAD_INPUTS } from '../helpers/bad-inputs.ts';
import { expectDeliveredInvite } from '../helpers/delivered.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const sink = new SmtpSink();
let redis: RedisProcess;
let service: TestService;

beforeAll(async () => {
  await sink.start();
  redis = await startRedis();
});
afterAll(async () => {
  await sink.stop();
  await redis.stop();
});

// The same promises, whichever outbox the configuration names.
describe.each(outboxBackends(() => redis))('%s', (_backend, backendEnv) => {
  let env: Record<string, string> = {};
  /** The service again with other settings (the same outbox backend). */
  async function restartWith(overrides: Record<string, string>) {
    await service.dispose();
    service = await startTestService({ ...env, ...overrides });
  }
  beforeEach(async () => {
    sink.reset();
    env = { ...backendEnv() };
    service = await startTestService({ ...env, SMTP_URL: sink.url, API_TOKEN: TOKEN, SERVICE_MAILBOX: 'calendar@mydomain.ru' });
  });
  afterEach(async () => {
    await service.dispose();
  });

  async function post(payload: unknown, headers: Record<string, string> = {}) {
    return service.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { 'content-type': 'application/json', ...auth, ...headers },
      payload: JSON.stringify(payload),
    });
  }

  async function statusOf(id: string) {
    const response = await service.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: auth });
    return response.json();
  }

  async function settled(id: string) {
    return waitFor(
      async () => {
        const status = await statusOf(id);
        return status.recipients.every((r: { status: string }) => ['sent', 'failed', 'expired', 'superseded'].includes(r.status)) ? status : null;
      },
      15_000,
      `notification ${id} to settle`,
    );
  }

  describe('POST /v1/notifications', () => {
    it.each(EXAMPLE_NAMES)('accepts %s with 202 and delivers it to every recipient', async (name) => {
      const payload = example(name);
      const response = await post(payload);
      expect(response.statusCode).toBe(202);
      const body = response.json();
      expect(body.recipients).toEqual(payload.recipients.map((r: { email: string }) => ({ email: r.email, status: 'queued' })));
      const status = await settled(body.id);
      for (const recipient of status.recipients) {
        expect(recipient).toMatchObject({ status: 'sent', attempts: 1, lastReply: { code: 'OK', responseCode: 250 } });
        expect(recipient.messageId).toMatch(/^<[0-9a-f]{40}@mydomain\.ru>$/);
        const received = sink.messageTo(recipient.email)!;
        expect(received.raw.toString()).toContain(`Message-ID: ${recipient.messageId}`);
        await expectDeliveredInvite(received.raw, payload, recipient.email);
      }
    });

    it('logs every line about a delivery with the notification id and recipient', async () => {
      const { id } = (await post(example('trueconf-weekly'))).json();
      await settled(id);
      // the line is written once the outcome is recorded, a moment after the status shows it
      const delivered = await waitFor(
        () => {
          const lines = service.logs.filter((l) => l.msg === 'delivered');
          return lines.length === 3 ? lines : null;
        },
        5000,
        'three delivered lines',
      );
      for (const line of delivered) expect(line).toMatchObject({ notificationId: id, recipient: expect.any(String), messageId: expect.any(String) });
      expect(service.logs.find((l) => l.msg === 'notification accepted')).toMatchObject({ notificationId: id, recipients: 3 });
    });
  });

  describe('Idempotency-Key', () => {
    it('returns the first answer for the same key and body, in any key order at any depth; stores nothing twice', async () => {
      const first = await post(example('trueconf-weekly'), { 'idempotency-key': 'evt-42-v0' });
      const reversed = (value: unknown): unknown =>
        Array.isArray(value)
          ? value.map(reversed)
          : value && typeof value === 'object'
            ? Object.fromEntries(
                Object.entries(value)
                  .reverse()
                  .map(([k, v]) => [k, reversed(v)]),
              )
            : value;
      // The top level in sorted order, every object inside in reverse order.
      const reordered = Object.fromEntries(Object.entries(reversed(example('trueconf-weekly')) as object).sort(([a], [b]) => (a < b ? -1 : 1)));
      expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(example('trueconf-weekly')));
      const second = await post(reordered, { 'idempotency-key': 'evt-42-v0' });
      expect(second.statusCode).toBe(202);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.json()).toEqual(first.json());
      await settled(first.json().id);
      expect(sink.received).toHaveLength(3);
    });

    it('takes any printable ASCII key, spaces included, as docs/api.md says; refuses a control character', async () => {
      const spaced = await post(example('skype-invitation'), { 'idempotency-key': 'event 42 / v0' });
      expect(spaced.statusCode).toBe(202);
      expect((await post(example('skype-invitation'), { 'idempotency-key': 'event 42 / v0' })).headers['idempotent-replayed']).toBe('true');
      const control = await post(example('skype-invitation'), { 'idempotency-key': 'tab\there' });
      expect(control.statusCode).toBe(422);
      expect(control.json().error.issues[0].path).toBe('Idempotency-Key');
    });

    it('refuses the same key with another body: 422', async () => {
      await post(example('trueconf-weekly'), { 'idempotency-key': 'evt-42-v0' });
      const other = example('trueconf-weekly');
      other.event.title = 'Другое';
      const response = await post(other, { 'idempotency-key': 'evt-42-v0' });
      expect(response.statusCode).toBe(422);
      expect(response.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      // A change deep inside, after keys in order: still another body.
      const deeper = example('trueconf-weekly');
      deeper.attendees.at(-1).name = 'Другой участник';
      expect((await post(deeper, { 'idempotency-key': 'evt-42-v0' })).json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('answers 409 while the first request with the key is still being stored', async () => {
      const accept = service.outbox.accept.bind(service.outbox);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      service.outbox.accept = async (n) => {
        await gate;
        return accept(n);
      };
      const first = post(example('skype-invitation'), { 'idempotency-key': 'slow' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = await post(example('skype-invitation'), { 'idempotency-key': 'slow' });
      expect(second.statusCode).toBe(409);
      expect(second.json().error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
      release();
      expect((await first).statusCode).toBe(202);
    });
  });

  describe('GET /v1/notifications/{id}', () => {
    it('answers 404 for an unknown id', async () => {
      const response = await service.app.inject({ method: 'GET', url: '/v1/notifications/nope', headers: auth });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No notification with this id', issues: [] } });
    });
  });

  describe('retries and failures', () => {
    it('451 then 250: retried, then sent', async () => {
      sink.rcptPolicy = (_address, attempt) => (attempt === 1 ? { code: 451, message: '4.7.1 Greylisted' } : undefined);
      const { id } = (await post(example('skype-invitation'))).json();
      const retrying = await waitFor(
        async () => {
          const status = await statusOf(id);
          return status.recipients[0].attempts >= 1 && status.recipients[0].status === 'retrying' ? status : null;
        },
        5000,
        'a retrying delivery',
      ).catch(() => null);
      const status = await settled(id);
      expect(status.recipients[0]).toMatchObject({ status: 'sent', attempts: 2, lastReply: { code: 'OK' } });
      if (retrying) expect(retrying.recipients[0].lastReply).toMatchObject({ responseCode: 451, response: '451 4.7.1 Greylisted' });
      expect(service.logs.some((l) => l.msg === 'delivery will be retried' && (l.reply as { responseCode: number }).responseCode === 451)).toBe(true);
      expect(sink.received).toHaveLength(1);
    });

    it('550 for one recipient: that one failed with the reply, the others sent', async () => {
      sink.rcptPolicy = (address) =>
        address === 'anna.schmidt@partner.example' ? { code: 550, message: '5.1.1 <anna.schmidt@partner.example>: no such user' } : undefined;
      const { id } = (await post(example('trueconf-weekly'))).json();
      const status = await settled(id);
      const byEmail = Object.fromEntries(status.recipients.map((r: { email: string }) => [r.email, r]));
      expect(byEmail['anna.schmidt@partner.example']).toMatchObject({
        status: 'failed',
        attempts: 1,
        lastReply: { code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 <anna.schmidt@partner.example>: no such user' },
      });
      expect(byEmail['d.orlov@mydomain.ru'].status).toBe('sent');
      expect(byEmail['i.volkova@mydomain.ru'].status).toBe('sent');
    });

    it('a transient failure past the deadline expires', async () => {
      // The first attempt has to fail before the deadline for a second one to be made at it: 2 s, as
      // 300 ms was not always enough for the first attempt on a loaded machine (BullMQ, under CI).
      await restartWith({ SMTP_URL: 'smtp://127.0.0.1:9', API_TOKEN: TOKEN, RETRY_MAX_AGE_MS: '2000', RETRY_MIN_AGE_MS: '2000', SMTP_TIMEOUT_MS: '1000' });
      const { id } = (await post(example('skype-invitation'))).json();
      const status = await settled(id);
      expect(status.recipients[0]).toMatchObject({ status: 'expired', lastReply: { message: expect.stringMatching(/ECONNREFUSED/) } });
      expect(status.recipients[0].attempts).toBeGreaterThanOrEqual(2);
    });

    it('a queued invitation made obsolete by a newer update is superseded, not sent', async () => {
      await service.worker.stop();
      const invitation = (await post(example('skype-invitation'))).json();
      const update = (await post(example('update-time-changed'))).json();
      service.worker.start();
      await settled(update.id);
      expect((await statusOf(invitation.id)).recipients[0].status).toBe('superseded');
      expect((await statusOf(update.id)).recipients[0].status).toBe('sent');
      expect(sink.received).toHaveLength(1);
      const mail = await simpleParser(sink.received[0]!.raw);
      expect(mail.attachments.find((a) => a.contentType === 'text/calendar')!.content.toString()).toContain('\r\nSEQUENCE:1\r\n');
    });
  });

  describe('errors', () => {
    const cases: [string, () => Promise<{ statusCode: number; json: () => any }>, number, string][] = [
      [
        'malformed JSON',
        () =>
          service.app.inject({
            method: 'POST',
            url: '/v1/notifications',
            headers: { 'content-type': 'application/json', ...auth },
            payload: '{"type": "invitation",',
          }),
        400,
        'INVALID_JSON',
      ],
      [
        'not JSON',
        () => service.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'text/plain', ...auth }, payload: 'hello' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'no token',
        () =>
          service.app.inject({
            method: 'POST',
            url: '/v1/notifications',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify(example('skype-invitation')),
          }),
        401,
        'UNAUTHORIZED',
      ],
      ['a wrong token', () => post(example('skype-invitation'), { authorization: 'Bearer wrong-token-0123456789ab' }), 401, 'UNAUTHORIZED'],
      [
        'a wrong token on status',
        () => service.app.inject({ method: 'GET', url: '/v1/notifications/x', headers: { authorization: 'Basic abc' } }),
        401,
        'UNAUTHORIZED',
      ],
      ['a body against the contract', () => post({ ...example('skype-invitation'), type: 'reminder' }), 422, 'INVALID_REQUEST'],
      ['an unknown endpoint', () => service.app.inject({ method: 'GET', url: '/v2/anything', headers: auth }), 404, 'NOT_FOUND'],
    ];
    it.each(cases)('%s', async (_what, send, status, code) => {
      const response = await send();
      expect(response.statusCode).toBe(status);
      const body = response.json();
      expect(body).toEqual({ error: { code, message: expect.any(String), issues: expect.any(Array) } });
      expect(API_ERRORS[code as keyof typeof API_ERRORS].status).toBe(status);
    });

    it('413 for a body over BODY_LIMIT_BYTES', async () => {
      await restartWith({ SMTP_URL: sink.url, API_TOKEN: TOKEN, BODY_LIMIT_BYTES: '2000' });
      const payload = example('skype-invitation');
      payload.event.description = 'x'.repeat(3000);
      const response = await post(payload);
      expect(response.statusCode).toBe(413);
      expect(response.json().error.code).toBe('PAYLOAD_TOO_LARGE');
      expect((await service.outbox.counts()).queued).toBe(0);
    });

    it('422 names every wrong field', async () => {
      const payload = example('skype-invitation');
      payload.event.conference.joinUrl = 'javascript:alert(1)';
      payload.attendees[1].email = 'not-an-email';
      const response = await post(payload);
      expect(response.statusCode).toBe(422);
      expect(response.json().error.issues.map((i: { path: string }) => i.path)).toEqual(
        expect.arrayContaining(['event.conference.joinUrl', 'attendees[1].email']),
      );
    });
  });

  describe('health, readiness, metrics, docs', () => {
    it('/healthz is liveness, /readyz readiness (the outbox takes writes); the relay is reported in both and in /metrics, and fails neither', async () => {
      expect((await service.app.inject('/healthz')).json()).toEqual({ status: 'ok', smtp: 'ok' });
      expect((await service.app.inject('/readyz')).json()).toEqual({ status: 'ready', outbox: 'ok', smtp: 'ok' });
      await restartWith({ SMTP_URL: 'smtp://127.0.0.1:9', SMTP_TIMEOUT_MS: '1000' });
      // The relay is down: the outbox should go on taking notifications, so the instance stays in the load balancer.
      const ready = await service.app.inject('/readyz');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ready', outbox: 'ok', smtp: expect.stringMatching(/ECONNREFUSED/) });
      const alive = await service.app.inject('/healthz');
      expect(alive.statusCode).toBe(200);
      expect(alive.json()).toMatchObject({ status: 'ok', smtp: expect.stringMatching(/ECONNREFUSED/) });
      expect((await service.app.inject('/metrics')).body).toContain('\ninvite_mailer_relay_up 0\n');
      expect(service.logs.filter((l) => l.msg === 'the SMTP relay does not answer: notifications are still taken and wait in the outbox')).toHaveLength(1);
      expect((await post(example('skype-invitation'))).statusCode).toBe(202);
      // The outbox that cannot take writes is what takes the instance out.
      service.outbox.checkWritable = async () => {
        throw new Error('disk full');
      };
      expect((await service.app.inject('/readyz')).statusCode).toBe(503);
    });

    it('logs the probes’ requests at debug, every other request at info', async () => {
      const before = service.logs.length;
      await service.app.inject('/healthz');
      await service.app.inject('/readyz');
      await service.app.inject('/metrics');
      const lines = service.logs.slice(before).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
      const levelOf = (url: string) => new Set(lines.filter((l) => (l.req as { url?: string } | undefined)?.url === url).map((l) => l.level));
      expect(levelOf('/healthz')).toEqual(new Set([20]));
      expect(levelOf('/readyz')).toEqual(new Set([20]));
      expect(levelOf('/metrics')).toEqual(new Set([30]));
      expect(lines.filter((l) => l.msg === 'request completed').map((l) => l.level)).toEqual([20, 20, 30]);
    });

    it('a status or /metrics read while the outbox cannot answer is 503 OUTBOX_UNAVAILABLE, not 500', async () => {
      const { id } = (await post(example('skype-invitation'))).json();
      const down = async () => {
        throw new Error('connection lost');
      };
      service.outbox.status = down;
      service.outbox.counts = down;
      const status = await service.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: auth });
      expect(status.statusCode).toBe(503);
      expect(status.json().error.code).toBe('OUTBOX_UNAVAILABLE');
      const metrics = await service.app.inject('/metrics');
      expect(metrics.statusCode).toBe(503);
      expect(metrics.json().error.code).toBe('OUTBOX_UNAVAILABLE');
    });

    it('/metrics counts deliveries in Prometheus text', async () => {
      const { id } = (await post(example('trueconf-weekly'))).json();
      await settled(id);
      // The process counters move once the worker has the outbox's answer, which
      // on Redis can come a moment after the stored status is readable.
      const response = await waitFor(
        async () => {
          const metrics = await service.app.inject('/metrics');
          return metrics.body.includes('invite_mailer_events_total{event="sent"} 3') ? metrics : null;
        },
        5_000,
        'the sent counter',
      );
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(response.body).toContain('invite_mailer_deliveries{status="sent"} 3');
      expect(response.body).toContain('invite_mailer_events_total{event="accepted"} 3');
      expect(response.body).toContain('invite_mailer_events_total{event="sent"} 3');
      expect(response.body).toMatch(/# TYPE invite_mailer_deliveries gauge/);
    });

    it('/ sends a browser to /docs, with no token', async () => {
      const response = await service.app.inject('/');
      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe('/docs');
    });

    it('every contract example in the OpenAPI document, posted as Swagger UI’s "Try it out" sends it, is accepted (202); the status counts recipients by status', async () => {
      const document = (await service.app.inject('/openapi.json')).json();
      const examples = document.paths['/v1/notifications'].post.requestBody.content['application/json'].examples;
      expect(Object.keys(examples).sort()).toEqual([...EXAMPLE_NAMES].sort());
      for (const [name, { summary, value }] of Object.entries(examples as Record<string, { summary: string; value: unknown }>)) {
        expect(summary).toMatch(/^(invitation|update|cancellation|reply): /);
        const response = await post(value);
        expect(response.statusCode, name).toBe(202);
        const status = (await service.app.inject({ method: 'GET', url: `/v1/notifications/${response.json().id}`, headers: auth })).json();
        expect(Object.keys(status.totals).sort()).toEqual([...DELIVERY_STATUSES].sort());
        expect(Object.values(status.totals as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(status.recipients.length);
      }
    });

    it('/openapi.json describes the API and its errors (test/http/docs.test.ts shows it in a browser)', async () => {
      const document = (await service.app.inject('/openapi.json')).json();
      expect(document.openapi).toBe('3.1.0');
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/notifications', '/v1/notifications/{id}', '/healthz', '/readyz', '/metrics']));
      expect(document.components.schemas.NotificationRequest.properties.event.properties.conference).toBeDefined();
      expect(document.components.schemas.Error.properties.error.properties.code.enum).toEqual(Object.keys(API_ERRORS));
      expect(document.webhooks.deliveryStatus.post.requestBody.content['application/json'].schema.properties.type.enum).toContain('delivery.bounced');
      expect(document.paths['/v1/notifications'].post.responses['422'].description).toContain('IDEMPOTENCY_KEY_REUSED');
      // The request's schema is made when the document is first read (openapi.ts): the other forms have it too.
      for (const path of ['/docs/json', '/docs/yaml']) {
        const served = (await service.app.inject(path)).body;
        expect(served, path).toMatch(/NotificationRequest/);
        expect(served, path).toMatch(/joinUrl/);
      }
    });
  });

  describe('bad input over HTTP', () => {
    it.each(BAD_INPUTS)('%s: 422 naming the field, nothing stored', async (_what, breakIt, path) => {
      const payload = example('skype-invitation');
      breakIt(payload);
      const response = await post(payload);
      expect(response.statusCode).toBe(422);
      const { error } = response.json();
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.issues.map((i: { path: string }) => i.path)).toContain(path);
      expect(error.message).toContain(error.issues[0].path || 'request');
      const counts = await service.outbox.counts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    });
  });
});
