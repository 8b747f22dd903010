/**
 * What the transport makes of a relay that misbehaves: each fault becomes a
 * verdict the delivery rules act on. The ones that matter most: a relay that
 * took the whole message but whose answer did not come in time is `unknown`
 * (it may have the message), never `transient` (which would resend it at
 * every retry); a connection reset or closed before the answer is `transient`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../src/message/compose.ts';
import { createSmtpTransport, type MailTransport } from '../../src/transport/smtp.ts';
import { FaultRelay } from '../helpers/fault-relay.ts';

const message: OutgoingMessage = {
  from: 'calendar@mydomain.ru',
  envelope: { from: 'bounces@mydomain.ru', to: ['a.smirnov@mydomain.ru'] },
  messageId: '<fault@mydomain.ru>',
  raw: Buffer.from(
    `From: calendar@mydomain.ru\r\nTo: a.smirnov@mydomain.ru\r\nMessage-ID: <fault@mydomain.ru>\r\nSubject: test\r\n\r\n${'body line\r\n'.repeat(2000)}`,
  ),
};

let relay: FaultRelay;
let transport: MailTransport;
beforeEach(async () => {
  relay = await new FaultRelay().start();
  transport = createSmtpTransport({ url: relay.url, poolSize: 1, timeoutMs: 500, replyTimeoutMs: 700 });
});
afterEach(async () => {
  transport.close();
  await relay.stop();
});

describe('relay faults become verdicts', () => {
  it('a normal relay: accepted, with its reply', async () => {
    expect(await transport.send(message)).toMatchObject({ verdict: 'accepted', reply: { code: 'OK', responseCode: 250, response: '250 2.0.0 Ok: queued' } });
    expect(relay.messages).toHaveLength(1);
  });

  it('421 at the greeting: transient', async () => {
    relay.script.greeting = '421';
    expect((await transport.send(message)).verdict).toBe('transient');
    expect(relay.messages).toHaveLength(0);
  });

  it('a silent server (no greeting): transient, after the connect/greeting timeout', async () => {
    relay.script.greeting = 'silent';
    const started = Date.now();
    const result = await transport.send(message);
    expect(result.verdict).toBe('transient');
    expect(result.reply.code).toBe('ETIMEDOUT');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it.each([
    ['451', 'transient'],
    ['452', 'transient'],
    ['550', 'permanent'],
  ])('%s for the recipient: %s, with the reply', async (code, verdict) => {
    relay.script.rcpt = () => `${code} ${code[0]}.1.1 refused here`;
    const result = await transport.send(message);
    expect(result.verdict).toBe(verdict);
    expect(result.reply).toMatchObject({ responseCode: Number(code), response: `${code} ${code[0]}.1.1 refused here` });
    expect(relay.messages).toHaveLength(0);
  });

  it('a kept connection the relay drops before a byte of the next message was read: that message goes out over a new one', async () => {
    relay.script.dropAtMessage = 2;
    expect((await transport.send(message)).verdict).toBe('accepted');
    // nodemailer's pool sends it again over another connection only when its source says it was not read.
    expect((await transport.send(message)).verdict).toBe('accepted');
    expect(relay.messages).toHaveLength(2);
  });

  it('the connection dropped before DATA ends (mid-DATA): never accepted, and the relay has nothing', async () => {
    relay.script.dropAfterBytes = 1000;
    const result = await transport.send(message);
    expect(result.verdict).not.toBe('accepted');
    expect(relay.messages).toHaveLength(0);
  });

  it('the connection dropped after the whole message, before the answer: transient (resent with the same Message-ID), not unknown', async () => {
    relay.script.afterData = 'drop';
    const result = await transport.send(message);
    expect(result.verdict).toBe('transient');
    expect(relay.messages).toHaveLength(1);
  });

  it('a reset during DATA, the whole message already in the socket: transient', async () => {
    relay.script.dropDuringData = () => true;
    expect((await transport.send(message)).verdict).toBe('transient');
    expect(relay.messages).toHaveLength(0);
  });

  it('an answer to the end of DATA slower than SMTP_REPLY_TIMEOUT_MS: unknown, not transient', async () => {
    relay.script.dataReplyDelayMs = 1500;
    const result = await transport.send(message);
    expect(result).toMatchObject({ verdict: 'unknown', reply: { code: 'ETIMEDOUT', responseCode: null } });
    expect(relay.messages).toHaveLength(1);
  });

  it('a TLS handshake that fails (smtps:// to a relay that does not speak TLS): transient, nothing sent', async () => {
    const tls = createSmtpTransport({ url: `smtps://127.0.0.1:${relay.port}`, poolSize: 1, timeoutMs: 1000 });
    const result = await tls.send(message);
    tls.close();
    expect(result.verdict).toBe('transient');
    expect(relay.messages).toHaveLength(0);
  });

  it('an answer within SMTP_REPLY_TIMEOUT_MS, however slow, is read', async () => {
    relay.script.dataReplyDelayMs = 400; // under the 700 ms reply timeout, over the 500 ms connect timeout
    expect((await transport.send(message)).verdict).toBe('accepted');
  });
});
