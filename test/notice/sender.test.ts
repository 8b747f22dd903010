/**
 * The organizer's notice sender against a real SQLite outbox, the real
 * renderer and an SMTP server on loopback that refuses the first try.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNoticeSender, NOTICE_CONSUMER, type NoticeSenderOptions, noticeConsumer } from '../../src/notice/sender.ts';
import type { Outbox } from '../../src/outbox/outbox.ts';
import { openSqliteOutbox } from '../../src/outbox/sqlite/open.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { createSmtpTransport } from '../../src/transport/smtp.ts';
import { example } from '../helpers/examples.ts';
import { waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { attempt, notificationOf, outcomes } from '../outbox/contract.ts';

let renderer: Renderer;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  renderer = await createRenderer();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An SMTP server on loopback, and a SQLite outbox whose failures are told at once (a window of 0). */
async function relayAndOutbox(): Promise<{ sink: SmtpSink; outbox: Outbox }> {
  const sink = await new SmtpSink().start();
  cleanups.push(() => sink.stop());
  const dataDir = mkdtempSync(join(tmpdir(), 'notice-'));
  const outbox = openSqliteOutbox({ dataDir, consumers: [noticeConsumer(0)] });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => outbox.close());
  return { sink, outbox };
}

/** The sender, polling every 20 ms, retrying within 200 ms, sending through the sink. */
function startSender(sink: SmtpSink, from: Pick<NoticeSenderOptions, 'events' | 'outbox'>): void {
  const transport = createSmtpTransport({ url: sink.url });
  cleanups.push(() => transport.close());
  const sender = createNoticeSender({
    ...from,
    renderer,
    transport,
    serviceMailbox: { name: 'Calendar', address: 'calendar@mydomain.ru' },
    logger: pino({ level: 'silent' }),
    retry: { initialDelayMs: 100, maxDelayMs: 200 },
    pollMs: 20,
  });
  sender.start();
  cleanups.push(() => sender.stop());
}

describe("the organizer's notice sender", () => {
  it('retries a notice the relay refuses for now, sends it once taken, and leaves out mail to the organizer itself', async () => {
    const { sink, outbox } = await relayAndOutbox();

    const payload = example('trueconf-weekly');
    payload.organizer.locale = 'en';
    payload.recipients.push({ email: payload.organizer.email }); // the organizer's own copy
    const n = notificationOf(payload);
    await outbox.accept(n);
    const claimed = await outbox.claim(10, Date.now());
    const refused = { code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 no such user', message: 'no such user' };
    for (const delivery of claimed) await attempt(outbox, delivery, outcomes.final('failed', `<${delivery.position}@x>`, refused));

    const organizer = payload.organizer.email as string;
    sink.rcptPolicy = (address, tries) => (address === organizer && tries === 1 ? { code: 451, message: '4.7.1 try again later' } : undefined);
    startSender(sink, { events: outbox.events, outbox });

    await waitFor(() => sink.received.length === 1, 10_000, 'the notice after the refusal');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.received).toHaveLength(1); // taken once: done, not sent again
    const [message] = sink.received;
    expect(message).toMatchObject({ from: '', to: [organizer] });
    const notice = await simpleParser(message!.raw);
    const others = payload.recipients.filter((r: { email: string }) => r.email !== organizer).map((r: { email: string }) => r.email);
    expect(notice.text).toContain(`could not be delivered to ${others.length} people`);
    for (const email of others) expect(notice.text).toContain(`<${email}>\n  There is no such mailbox`);
    expect(notice.text).not.toContain(`<${organizer}>`);
    expect(await outbox.events.claim(NOTICE_CONSUMER, 10, Date.now() + 60_000, 60_000)).toEqual([]);
  });

  it('tells no one of a notification erased before its notice went, and lets its failures go', async () => {
    const { sink, outbox } = await relayAndOutbox();
    const n = notificationOf(example('skype-invitation'));
    await outbox.accept(n);
    const [delivery] = await outbox.claim(10, Date.now());
    const refused = { code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 no such user', message: 'no such user' };
    await attempt(outbox, delivery!, outcomes.final('failed', '<0@x>', refused));
    // The failure is waiting for its notice; the request's body is what erasure takes first.
    const events = outbox.events;
    let settled = 0;
    const counting = {
      claim: events.claim.bind(events),
      backlog: events.backlog.bind(events),
      settle: async (...args: Parameters<typeof events.settle>) => ((settled += 1), events.settle(...args)),
    };
    const gone = { body: async () => null };
    startSender(sink, { events: counting, outbox: gone });
    await waitFor(() => settled === 1, 10_000, 'the failure let go');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.received).toEqual([]);
    expect(await outbox.events.claim(NOTICE_CONSUMER, 10, Date.now() + 60_000, 60_000)).toEqual([]);
  });
});
