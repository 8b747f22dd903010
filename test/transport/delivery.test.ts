import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { composeMessage, type OutgoingMessage } from '../../src/message/compose.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { createSmtpTransport, type MailTransport } from '../../src/transport/smtp.ts';
import { expectDeliveredInvite } from '../helpers/delivered.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';
import { startRelayProcess } from '../helpers/relay-process.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const sink = new SmtpSink();
let renderer: Renderer;
let transport: MailTransport;
const options = {
  senderPolicy: 'organizer' as const,
  serviceMailbox: { name: 'Calendar', address: 'calendar@mydomain.ru' },
  bounceAddress: 'bounces@mydomain.ru',
  date: new Date('2026-11-20T08:15:00Z'),
};

beforeAll(async () => {
  await sink.start();
  renderer = await createRenderer();
  transport = createSmtpTransport({ url: sink.url, poolSize: 2 });
});
afterAll(async () => {
  transport.close();
  await sink.stop();
});
beforeEach(() => sink.reset());

async function messagesOf(payload: unknown): Promise<OutgoingMessage[]> {
  const request = parseNotificationRequest(payload);
  return Promise.all(renderer.render(request, { stamp: DateTime.fromJSDate(options.date) }).map((email) => composeMessage(request, email, options)));
}

describe('every example over real SMTP on loopback', () => {
  it.each(EXAMPLE_NAMES)('%s arrives as an iMIP message for each recipient', async (name) => {
    const payload = example(name);
    const messages = await messagesOf(payload);
    for (const message of messages) {
      const outcome = await transport.send(message);
      expect(outcome).toMatchObject({ verdict: 'accepted', reply: { code: 'OK', responseCode: 250 } });
      expect(outcome.reply.response).toMatch(/^250 /);
    }
    expect(sink.received).toHaveLength(payload.recipients.length);
    for (const recipient of payload.recipients) {
      const received = sink.messageTo(recipient.email)!;
      expect(received.from).toBe('bounces@mydomain.ru');
      expect(received.to).toEqual([recipient.email]);
      // the bytes that were sent are the bytes that were composed
      expect(received.raw.toString('utf8').replace(/\r?\n$/, '')).toBe(
        messages
          .find((m) => m.envelope.to[0] === recipient.email)!
          .raw.toString('utf8')
          .replace(/\r?\n$/, ''),
      );
      await expectDeliveredInvite(received.raw, payload, recipient.email);
    }
  });
});

describe('failures keep the server’s reply and say whether to retry', () => {
  it('a 550 for one recipient is permanent; the others are delivered', async () => {
    sink.rcptPolicy = (address) =>
      address === 'anna.schmidt@partner.example' ? { code: 550, message: '5.1.1 <anna.schmidt@partner.example>: mailbox unavailable' } : undefined;
    const outcomes = await Promise.all((await messagesOf(example('trueconf-weekly'))).map((m) => transport.send(m)));
    expect(outcomes.map((o) => o.verdict)).toEqual(['accepted', 'permanent', 'accepted']);
    expect(outcomes[1]!.reply).toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
    expect(outcomes[1]!.reply.response).toBe('550 5.1.1 <anna.schmidt@partner.example>: mailbox unavailable');
    expect(sink.received.map((m) => m.to[0])).toEqual(expect.arrayContaining(['d.orlov@mydomain.ru', 'i.volkova@mydomain.ru']));
    expect(sink.received).toHaveLength(2);
  });

  it('a 451 is transient, and the same message goes through once the server takes it', async () => {
    sink.rcptPolicy = (_address, attempt) => (attempt === 1 ? { code: 451, message: '4.7.1 Greylisted, try again later' } : undefined);
    const [message] = await messagesOf(example('skype-invitation'));
    const first = await transport.send(message!);
    expect(first).toMatchObject({ verdict: 'transient', reply: { responseCode: 451 } });
    expect(first.reply.response).toContain('Greylisted');
    expect(await transport.send(message!)).toMatchObject({ verdict: 'accepted' });
    expect(sink.received).toHaveLength(1);
  });

  it('a relay that is not there is transient, with the reason', async () => {
    const nowhere = createSmtpTransport({ url: 'smtp://127.0.0.1:9', timeoutMs: 2000 });
    const [message] = await messagesOf(example('skype-invitation'));
    const outcome = await nowhere.send(message!);
    nowhere.close();
    expect(outcome.verdict).toBe('transient');
    expect(outcome.reply.message).toMatch(/ECONNREFUSED/);
  });
});

describe("a message's memory is handed back only once the relay has all of it", () => {
  it('after the reply to the end of DATA, once; never after a refusal', async () => {
    sink.rcptPolicy = (address) => (address === 'anna.schmidt@partner.example' ? { code: 451, message: '4.7.1 Try again later' } : undefined);
    sink.dataDelayMs = 50; // the relay takes its time over the message: a release before its reply comes too early
    const messages = await messagesOf(example('trueconf-weekly'));
    const released: { to: string; receivedThen: boolean }[] = [];
    const outcomes = await Promise.all(
      messages.map((message) => {
        const to = message.envelope.to[0]!;
        const release = () => released.push({ to, receivedThen: sink.messageTo(to) !== undefined });
        return transport.send({ ...message, release });
      }),
    );
    sink.dataDelayMs = 0;
    expect(outcomes.map((o) => o.verdict)).toEqual(['accepted', 'transient', 'accepted']);
    expect(released.map((r) => r.to).sort()).toEqual(['d.orlov@mydomain.ru', 'i.volkova@mydomain.ru']);
    expect(released.every((r) => r.receivedThen)).toBe(true);
  });
});

describe('connections opened before the messages need them (openConnections)', () => {
  it("opens as many as the messages need, up to the pool's size; the messages then go over those", async () => {
    const pooled = createSmtpTransport({ url: sink.url, poolSize: 2 });
    await pooled.openConnections(100);
    expect(sink.sessions).toHaveLength(2); // ready: greeted and past EHLO, nothing sent yet
    expect(sink.received).toHaveLength(0);
    await pooled.openConnections(100); // those open count
    const outcomes = await Promise.all((await messagesOf(example('trueconf-weekly'))).map((m) => pooled.send(m)));
    pooled.close();
    expect(outcomes.map((o) => o.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(sink.sessions).toHaveLength(2);
    expect(sink.received.every((m) => sink.sessions.includes(m.session))).toBe(true);
  });

  it('opens no more than the messages need', async () => {
    const pooled = createSmtpTransport({ url: sink.url, poolSize: 5 });
    await pooled.openConnections(2);
    pooled.close();
    expect(sink.sessions).toHaveLength(2);
  });

  it('messages handed over while the connections are still being opened wait for them: none is connected twice', async () => {
    const pooled = createSmtpTransport({ url: sink.url, poolSize: 2 });
    const opening = pooled.openConnections(2);
    const outcomes = await Promise.all((await messagesOf(example('trueconf-weekly'))).map((m) => pooled.send(m)));
    await opening;
    pooled.close();
    expect(outcomes.map((o) => o.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(sink.sessions).toHaveLength(2);
  });

  it('with room in the pool, messages handed over while their connections are being opened go over those: no other is opened', async () => {
    const pooled = createSmtpTransport({ url: sink.url, poolSize: 5 });
    const messages = await messagesOf(example('trueconf-weekly'));
    const opening = pooled.openConnections(messages.length);
    const outcomes = await Promise.all(messages.map((m) => pooled.send(m)));
    await opening;
    pooled.close();
    expect(outcomes.map((o) => o.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(sink.sessions).toHaveLength(messages.length);
  });

  it('connects while the caller is still busy (a POST being stored), not once it is done', async () => {
    const relay = await startRelayProcess();
    const pooled = createSmtpTransport({ url: relay.url, poolSize: 1 });
    try {
      const opening = pooled.openConnections(1);
      // As the POST handler goes on: its first await lets process.nextTick's queue run (where Node
      // makes a socket's connect to an IP address), not a turn of the event loop; then storing and
      // rendering hold the event loop up.
      await new Promise((resolve) => process.nextTick(resolve));
      const busyUntil = Date.now() + 500;
      while (Date.now() < busyUntil);
      const busyEnded = Date.now();
      await opening;
      await vi.waitFor(() => expect(relay.connectedAt).toHaveLength(1)); // its stdout may come after the greeting
      // The relay, in its own process, accepted the connection while this one was busy: a relay's
      // greeting (smtp-server holds it 100 ms) is then on its way by the time the work is done.
      expect(relay.connectedAt[0]).toBeLessThan(busyEnded);
    } finally {
      pooled.close();
      await relay.stop();
    }
  });

  it('a relay that is not there: a message handed over while its connection was being opened gets the reason as a transient outcome', async () => {
    const nowhere = createSmtpTransport({ url: 'smtp://127.0.0.1:9', poolSize: 2, timeoutMs: 2000 });
    const opening = nowhere.openConnections(1);
    const [message] = await messagesOf(example('skype-invitation'));
    const outcome = await nowhere.send(message!);
    await expect(opening).rejects.toThrow(/ECONNREFUSED/);
    nowhere.close();
    expect(outcome).toMatchObject({ verdict: 'transient', reply: { message: expect.stringMatching(/ECONNREFUSED/) } });
  });

  it('a relay that is not there: rejects with the reason, and a message still gets it as a transient outcome', async () => {
    const nowhere = createSmtpTransport({ url: 'smtp://127.0.0.1:9', poolSize: 2, timeoutMs: 2000 });
    await expect(nowhere.openConnections(2)).rejects.toThrow(/ECONNREFUSED/);
    const [message] = await messagesOf(example('skype-invitation'));
    const outcome = await nowhere.send(message!);
    nowhere.close();
    expect(outcome).toMatchObject({ verdict: 'transient', reply: { message: expect.stringMatching(/ECONNREFUSED/) } });
  });
});
