import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressObject, simpleParser } from 'mailparser';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { loadConfig } from '../../src/config/config.ts';
import { messageOptionsOf, rendererFor, rendererOptionsOf } from '../../src/config/parts.ts';
import type { Outbox } from '../../src/outbox/outbox.ts';
import { openSqliteOutbox } from '../../src/outbox/sqlite/open.ts';
import { createPreparer } from '../../src/prepare/preparer.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import { createWorker } from '../../src/runtime/worker.ts';
import { createSmtpTransport } from '../../src/transport/smtp.ts';
import { example } from '../helpers/examples.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { notificationOf } from '../outbox/contract.ts';

let sink: SmtpSink;
let service: TestService;
beforeEach(async () => {
  sink = await new SmtpSink().start();
  service = await startTestService({ SMTP_URL: sink.url });
});
afterEach(async () => {
  await service.dispose();
  await sink.stop();
});

/** Posts the seed invitation with `count` recipients and waits until the sink has every message. */
async function fanOutDelivered(count: number): Promise<void> {
  await service.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(seedFanOut(count)),
  });
  await waitFor(() => sink.received.length === count, 20_000, `${count} messages`);
}

describe.each(['0', '1'])('the delivery worker, RENDER_THREADS=%s', (threads) => {
  beforeEach(async () => {
    await service.dispose();
    service = await startTestService({ SMTP_URL: sink.url, RENDER_THREADS: threads });
  });

  it('fails, permanently and at once, a stored request the contract no longer accepts', async () => {
    const broken = notificationOf(example('skype-invitation'));
    const body = JSON.parse(broken.body);
    body.event.conference.joinUrl = 'javascript:alert(1)'; // as if the contract had tightened since it was stored
    await service.outbox.accept({ ...broken, body: JSON.stringify(body) });
    service.worker.kick();
    const status = await waitFor(async () => {
      const s = await service.outbox.status(broken.id);
      return s!.recipients[0]!.status === 'failed' ? s : null;
    });
    expect(status.recipients[0]!.lastReply).toMatchObject({ code: 'EINVALID', message: expect.stringContaining('event.conference.joinUrl') });
    expect(status.recipients[0]!.attempts).toBe(1);
    expect(sink.received).toHaveLength(0);
  });

  it('writes messages over the memory of those already sent, and every recipient gets their own, whole', async () => {
    await fanOutDelivered(120);
    for (const received of sink.received) {
      const parsed = await simpleParser(received.raw);
      const [recipient] = received.to;
      const name = /^(participant\d+)@/.exec(recipient!)![1]!;
      expect((parsed.to as AddressObject).value[0]!.address).toBe(recipient);
      // their own answer links, in both parts, and both calendars whole
      expect(parsed.text).toContain(`/${name}?answer=accept`);
      expect(parsed.html).toContain(`/${name}?answer`);
      const calendars = parsed.attachments.filter((a) => a.contentType === 'text/calendar' || a.contentType === 'application/ics');
      expect(calendars.map((c) => c.content.toString().trimEnd().endsWith('END:VCALENDAR'))).toEqual([true, true]);
    }
  });
});

describe('rendering threads that cannot take a task', () => {
  it("fail the task's deliveries for now (ERENDER, retried): nothing is lost, nothing sent half-made", async () => {
    const config = loadConfig({ SMTP_URL: sink.url, RETRY_INITIAL_DELAY_MS: '60000' });
    const dataDir = mkdtempSync(join(tmpdir(), 'worker-'));
    const outbox = openSqliteOutbox({ dataDir });
    const preparer = createPreparer({
      threads: 1,
      renderer: await rendererFor(config),
      rendererOptions: rendererOptionsOf(config),
      message: messageOptionsOf(config),
      keptMessages: 10,
    });
    await preparer.close(); // as if the threads had gone: every task is refused
    const transport = createSmtpTransport(config.smtp);
    const worker = createWorker({
      outbox,
      preparer,
      transport,
      retry: config.retry,
      concurrency: 5,
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
    });
    try {
      const accepted = notificationOf(example('skype-invitation'));
      await outbox.accept(accepted);
      worker.start();
      const status = await waitFor(async () => {
        const s = await outbox.status(accepted.id);
        return s!.recipients.every((r) => r.status === 'retrying') ? s : null;
      });
      for (const recipient of status.recipients) expect(recipient.lastReply).toMatchObject({ code: 'ERENDER', message: 'the rendering threads are closed' });
      expect(sink.received).toHaveLength(0);
    } finally {
      await worker.stop();
      transport.close();
      await outbox.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a connection handed on', () => {
  /** The SQLite outbox, noting when the worker asks for each status change and when it is stored. */
  const noting = (outbox: Outbox, events: string[]): Outbox => ({
    ...outbox,
    begin: (id, at) => {
      events.push(`begin ${id}`);
      return outbox.begin(id, at).then(() => void events.push(`begin ${id} stored`));
    },
    settle: (id, outcome) => {
      events.push(`settle ${id}`);
      return outbox.settle(id, outcome).then(() => void events.push(`settle ${id} stored`));
    },
  });

  it('takes the next message once the outcome is known, and sends it only once that outcome and its own `sending` are stored', async () => {
    const events: string[] = [];
    const oneConnection = await startTestService(
      { SMTP_URL: sink.url, SMTP_POOL_SIZE: '1' },
      { outbox: (dataDir) => noting(openSqliteOutbox({ dataDir }), events) },
    );
    try {
      await oneConnection.app.inject({
        method: 'POST',
        url: '/v1/notifications',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(seedFanOut(4)),
      });
      await waitFor(() => events.filter((event) => /^settle \S+ stored$/.test(event)).length === 4, 20_000, 'four outcomes stored');
      const order = events.filter((event) => /^begin \S+$/.test(event)).map((event) => event.slice('begin '.length));
      expect(order).toHaveLength(4);
      const at = (event: string) => events.indexOf(event);
      for (let k = 0; k + 1 < order.length; k++) {
        const [sent, next] = [order[k]!, order[k + 1]!];
        // Asked for before the outcome's write is done: the outbox can store both in one (write-batch.ts).
        expect(at(`begin ${next}`), `${next} taken before ${sent}'s outcome is stored`).toBeLessThan(at(`settle ${sent} stored`));
        // The outcome is stored first, and the next message leaves after its own `sending` is stored.
        expect(at(`settle ${sent} stored`)).toBeLessThan(at(`begin ${next} stored`));
      }
      expect(sink.received).toHaveLength(4);
    } finally {
      await oneConnection.dispose();
    }
  });
});

describe('SEND_RATE_LIMIT on a single instance (SQLite outbox)', () => {
  it('starts at most that many messages per second', async () => {
    await service.dispose();
    service = await startTestService({ SMTP_URL: sink.url, SEND_RATE_LIMIT: '20' });
    const started = Date.now();
    await fanOutDelivered(60);
    // 60 messages at 20 per second: the last starts two full seconds after the first
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });
});

describe("the relay's connections", () => {
  it('are opened for a posted notification while it is stored: an outbox that stores it only once the relay has greeted them finds them open', async () => {
    const withConnections = await startTestService(
      // The default pool of five: a message handed over while the two are still in their EHLO joins
      // one of them (src/transport/smtp.ts, openAhead) rather than opening a third.
      { SMTP_URL: sink.url },
      {
        outbox: (dataDir) => {
          const outbox = openSqliteOutbox({ dataDir });
          return {
            ...outbox,
            accept: async (notification) => {
              // Without connections opened before this, none would be until after it: the wait would fail.
              await waitFor(() => sink.sessions.length === 2, 5_000, 'the two connections greeted before the notification is stored');
              return outbox.accept(notification);
            },
          };
        },
      },
    );
    try {
      const response = await withConnections.app.inject({
        method: 'POST',
        url: '/v1/notifications',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(seedFanOut(2)),
      });
      expect(response.statusCode).toBe(202);
      await waitFor(() => sink.received.length === 2, 10_000, 'both messages');
      // the messages went over the connections opened for them
      expect(sink.sessions).toHaveLength(2);
      expect(sink.received.every((m) => sink.sessions.includes(m.session))).toBe(true);
    } finally {
      await withConnections.dispose();
    }
  });
});

describe('stopping', () => {
  it('says so when the outbox cannot take back what was claimed and not sent, with the reason, and stops all the same', async () => {
    sink.dataDelayMs = 300; // the first message is on the wire while the others wait for the one connection
    const refusing = await startTestService(
      { SMTP_URL: sink.url, SMTP_POOL_SIZE: '1' },
      {
        outbox: (dataDir) => {
          const outbox = openSqliteOutbox({ dataDir });
          return { ...outbox, release: async () => Promise.reject(new Error('1 job(s) could not be given back to the queue (lock gone)')) };
        },
      },
    );
    await refusing.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(seedFanOut(4)),
    });
    await waitFor(() => sink.sessions.length === 1, 5_000, 'the first message on the wire');
    await refusing.dispose();
    const said = refusing.logs.find((line) => String(line.msg).startsWith('could not hand back claimed deliveries'));
    expect(said).toMatchObject({
      level: 50,
      msg: 'could not hand back claimed deliveries; they are due again once their claim runs out (SQLite: at the next start; Redis: when the job lock expires)',
      err: { message: '1 job(s) could not be given back to the queue (lock gone)' },
    });
    expect(sink.received.length).toBeLessThan(4); // some were claimed and not sent: those are what could not go back
  });
});
