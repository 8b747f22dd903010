/**
 * Delivery truth past the relay, over two real SMTP hops: the service sends
 * through a relay (smtp-server) that accepts everything and, for addresses at
 * a domain that does not exist, later sends a RFC 3464 DSN to the envelope
 * sender, over SMTP, to the service's bounce listener.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bounceAddressFor } from '../../src/bounce/verp.ts';
import { invitationMessageIdFor } from '../../src/message/message-id.ts';
import { example } from '../helpers/examples.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';

const TOKEN = 'test-token-0123456789abcdef';
const VERP = { local: 'bounces', domain: 'mail.mydomain.ru', secret: 'bounce-secret-for-the-two-hop-test-0123' };
const FIXTURES = new URL('./fixtures/', import.meta.url);

interface Relayed {
  readonly mailFrom: string;
  readonly to: string;
  readonly envid: string | null;
  readonly ret: string | null;
  readonly notify: string[] | null;
  readonly orcpt: string | null;
  /** The message as it arrived. */
  readonly raw: Buffer;
}

/** A relay that takes everything, and bounces what was for `*.invalid` a moment later, as Postfix would. */
class BouncingRelay {
  readonly relayed: Relayed[] = [];
  bounceTo = 0;
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideDSN: false, // advertise DSN (RFC 3461), so that the service asks for reports
    logger: false,
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        // Read the envelope before answering: smtp-server starts the next transaction with the answer.
        const envelope = structuredClone(session.envelope);
        callback();
        for (const rcpt of envelope.rcptTo)
          this.relay(envelope, rcpt as unknown as { address: string; dsn?: { notify?: string[]; orcpt?: string } }, Buffer.concat(chunks));
      });
    },
  });
  port = 0;

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  stop() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(envelope: SMTPServerSession['envelope'], rcpt: { address: string; dsn?: { notify?: string[]; orcpt?: string } }, raw: Buffer) {
    const mailFrom = envelope.mailFrom ? envelope.mailFrom.address : '';
    const dsn = (envelope as unknown as { dsn?: { envid?: string; ret?: string } }).dsn;
    this.relayed.push({
      mailFrom,
      to: rcpt.address,
      envid: dsn?.envid ?? null,
      ret: dsn?.ret ?? null,
      notify: rcpt.dsn?.notify ?? null,
      orcpt: rcpt.dsn?.orcpt ?? null,
      raw,
    });
    if (!rcpt.address.endsWith('.invalid')) return;
    const report = [
      'From: MAILER-DAEMON@relay.mydomain.ru (Mail Delivery System)',
      `To: ${mailFrom}`,
      'Subject: Undelivered Mail Returned to Sender',
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="R"',
      '',
      '--R',
      'Content-Type: text/plain',
      '',
      `<${rcpt.address}>: Host or domain name not found.`,
      '--R',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; relay.mydomain.ru',
      ...(dsn?.envid ? [`Original-Envelope-Id: ${dsn.envid}`] : []),
      '',
      `Final-Recipient: rfc822; ${rcpt.address}`,
      'Action: failed',
      'Status: 5.1.2',
      `Diagnostic-Code: X-Postfix; Host or domain name not found. Name service error for name=${rcpt.address.split('@')[1]} type=MX: Host not found`,
      '',
      '--R--',
      '',
    ].join('\r\n');
    const bouncer = nodemailer.createTransport({ host: '127.0.0.1', port: this.bounceTo, secure: false, ignoreTLS: true });
    setTimeout(() => void bouncer.sendMail({ envelope: { from: '', to: [mailFrom] }, raw: report }).finally(() => bouncer.close()), 50);
  }
}

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
let relay: BouncingRelay;
let receiver: WebhookReceiver;
let service: TestService;
async function startService(extra: Record<string, string> = {}) {
  service = await startTestService({
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET,
    SMTP_URL: `smtp://127.0.0.1:${relay.port}`,
    API_TOKEN: TOKEN,
    BOUNCE_ADDRESS: `${VERP.local}@${VERP.domain}`,
    BOUNCE_SECRET: VERP.secret,
    BOUNCE_SMTP_PORT: '0',
    BOUNCE_SMTP_HOST: '127.0.0.1',
    ...extra,
  });
  relay.bounceTo = service.bounceListener!.port;
}
beforeEach(async () => {
  relay = await new BouncingRelay().start();
  receiver = await new WebhookReceiver(WEBHOOK_SECRET).start();
  await startService();
});
afterEach(async () => {
  await service.dispose();
  await receiver.stop();
  await relay.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };
const status = async (id: string) => (await service.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: auth })).json();

function invitationWithAMistypedAddress() {
  const payload = example('skype-invitation');
  payload.attendees.push({ name: 'Mistyped', email: 'someone@partner.invalid', role: 'required', status: 'needs-action' });
  payload.recipients.push({ email: 'someone@partner.invalid', locale: 'en' });
  return payload;
}

describe('bounces after the relay said 250', () => {
  it('a DSN over SMTP to the VERP address makes that recipient bounced, with the status, diagnostic and reporting MTA', async () => {
    const post = await service.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: invitationWithAMistypedAddress(),
    });
    const { id } = post.json();
    const bounced = await waitFor(
      async () => {
        const s = await status(id);
        return s.recipients.find((r: { email: string; status: string }) => r.email === 'someone@partner.invalid' && r.status === 'bounced') ? s : null;
      },
      10_000,
      'the bounce',
    );
    const [good, bad] = bounced.recipients;
    expect(good).toMatchObject({ status: 'sent', report: null });
    expect(bad).toMatchObject({
      status: 'bounced',
      messageId: expect.stringMatching(/^<.+>$/),
      report: {
        action: 'failed',
        status: '5.1.2',
        diagnostic: expect.stringContaining('Host or domain name not found'),
        reportingMta: 'dns; relay.mydomain.ru',
      },
    });
    // Each delivery had its own envelope sender, and asked for DSNs (RFC 3461) where the relay offers them.
    const toBad = relay.relayed.find((r) => r.to === 'someone@partner.invalid')!;
    const toGood = relay.relayed.find((r) => r.to !== 'someone@partner.invalid')!;
    expect(toBad.mailFrom).toBe(bounceAddressFor({ notificationId: id, position: 1 }, VERP));
    expect(toGood.mailFrom).toBe(bounceAddressFor({ notificationId: id, position: 0 }, VERP));
    expect(toBad).toMatchObject({ ret: 'HDRS', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;someone@partner.invalid' });
    expect(toBad.envid).toBe(toBad.mailFrom.split('+')[1]!.split('@')[0]);
    const metrics = (await service.app.inject('/metrics')).body;
    expect(metrics).toContain('invite_mailer_deliveries{status="bounced"} 1');
    expect(metrics).toContain('invite_mailer_events_total{event="bounced"} 1');
    expect(metrics).toContain('invite_mailer_bounces_total{outcome="bounced",reason=""} 1');
    // The backend hears it at once, signed: the sent event, then exactly that bounce.
    const events = await waitFor(() => (receiver.of(id).length === 3 ? receiver.of(id) : null), 10_000, 'three webhook events');
    expect(receiver.refused).toEqual([]);
    const forBad = events.filter((e) => e.data.recipient === 'someone@partner.invalid');
    expect(forBad.map((e) => e.type)).toEqual(['delivery.sent', 'delivery.bounced']);
    expect(forBad[1]!.data).toMatchObject({
      notificationId: id,
      position: 1,
      status: 'bounced',
      report: { action: 'failed', status: '5.1.2', reportingMta: 'dns; relay.mydomain.ru' },
    });
    expect(events.filter((e) => e.data.recipient !== 'someone@partner.invalid').map((e) => e.type)).toEqual(['delivery.sent']);
  });

  it('NOTIFY_ORGANIZER=failures: the organizer gets one notice in their language for the recipients that bounced, threaded with the invitation, from the service, with a null envelope sender', async () => {
    await service.dispose();
    await startService({ NOTIFY_ORGANIZER: 'failures', NOTIFY_ORGANIZER_WINDOW_MS: '1500' });
    const payload = invitationWithAMistypedAddress();
    payload.organizer.locale = 'ru';
    payload.attendees.push({ name: 'Ещё одна опечатка', email: 'other@partner2.invalid', role: 'optional', status: 'needs-action' });
    payload.recipients.push({ email: 'other@partner2.invalid' });
    const { id } = (
      await service.app.inject({ method: 'POST', url: '/v1/notifications', headers: { ...auth, 'content-type': 'application/json' }, payload })
    ).json();
    const notices = () => relay.relayed.filter((r) => r.to === payload.organizer.email && r.mailFrom === '');
    await waitFor(() => notices().length > 0, 15_000, "the organizer's notice");
    await new Promise((resolve) => setTimeout(resolve, 2000)); // a second notice would come within another window
    expect(notices()).toHaveLength(1); // both bounces in one notice

    const final = await status(id);
    const failedIds = final.recipients.filter((r: { status: string }) => r.status === 'bounced').map((r: { messageId: string }) => r.messageId);
    expect(failedIds).toHaveLength(2);
    const notice = await simpleParser(notices()[0]!.raw);
    expect(notice.from?.value).toEqual([{ name: 'Calendar', address: 'notifications@invite-mailer.localhost' }]);
    expect(notice.to).toMatchObject({ value: [{ name: payload.organizer.name, address: payload.organizer.email }] });
    expect(notice.subject).toBe(`Не доставлено: ${payload.event.title}`);
    expect(notice.headers.get('auto-submitted')).toBe('auto-generated');
    expect(notice.inReplyTo).toBe(invitationMessageIdFor(payload.event.uid, payload.organizer.email, 'invite-mailer.localhost'));
    // the invitation's thread, then each bounced message (in the order the bounces came)
    expect(notice.references![0]).toBe(notice.inReplyTo);
    expect([...notice.references!.slice(1)].sort()).toEqual([...failedIds].sort());
    expect(notice.text).toContain('Приглашение не доставлено 2 участникам');
    expect(notice.text).toContain('Mistyped <someone@partner.invalid>\n  Домена из адреса не существует: проверьте часть после @.');
    expect(notice.text).toContain('Ещё одна опечатка <other@partner2.invalid>');
    expect(notice.text).toContain('Ответ сервера: «X-Postfix; Host or domain name not found\u2024');
    expect(notice.html).toContain('<h1');
    // The notice itself asks for no DSN and carries no VERP address: a notice that fails ends there.
    expect(notices()[0]).toMatchObject({ envid: null, notify: null });
  });

  it('the listener refuses mail for a bounce address that does not verify (550), and mail over its size', async () => {
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: service.bounceListener!.port, ignoreTLS: true });
    const forged = `bounces+${'a'.repeat(29)}.${'b'.repeat(16)}@${VERP.domain}`;
    await expect(client.sendMail({ envelope: { from: '', to: [forged] }, raw: 'Subject: x\r\n\r\nx\r\n' })).rejects.toMatchObject({ responseCode: 550 });
    const real = bounceAddressFor({ notificationId: randomUUID(), position: 0 }, VERP);
    await expect(client.sendMail({ envelope: { from: '', to: [real] }, raw: `Subject: x\r\n\r\n${'x'.repeat(1_100_000)}\r\n` })).rejects.toMatchObject({
      responseCode: 552,
    });
    client.close();
  });
});

describe('the bounce listener faces anyone on the network', () => {
  const listenerClient = () =>
    nodemailer.createTransport({ host: '127.0.0.1', port: service.bounceListener!.port, ignoreTLS: true, connectionTimeout: 5000, socketTimeout: 10_000 });

  it('refuses (550, not 250) a bounce for a delivery its outbox does not hold: another instance’s, with the same secret', async () => {
    const client = listenerClient();
    const elsewhere = bounceAddressFor({ notificationId: randomUUID(), position: 0 }, VERP);
    const raw = readFileSync(new URL('postfix-failed.eml', FIXTURES), 'utf8').replaceAll('bounces+TOKEN@mail.mydomain.ru', elsewhere);
    await expect(client.sendMail({ envelope: { from: '', to: [elsewhere] }, raw })).rejects.toMatchObject({ responseCode: 550 });
    client.close();
  });

  it('a crafted megabyte to a bounce address holds nothing: the API answers at once while it is read, and it changes nothing', async () => {
    const client = listenerClient();
    const address = bounceAddressFor({ notificationId: randomUUID(), position: 0 }, VERP);
    // What made the old reader's pattern quadratic: 17–43 s for 120 KB.
    const raw = `From: MAILER-DAEMON@x\r\nSubject: failure notice\r\nTo: ${address}\r\n\r\nHi. This is the qmail-send program\r\n<${'a@'.repeat(450_000)}\r\n`;
    const sending = client.sendMail({ envelope: { from: '', to: [address] }, raw }).then(
      (info) => info.response,
      (error: { responseCode?: number }) => error.responseCode,
    );
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      expect((await service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      answers.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Math.max(...answers)).toBeLessThan(1000);
    expect(await sending).toBe(550); // read, and about no delivery here
    client.close();
  });

  it('takes BOUNCE_CLIENT_MESSAGES_PER_MINUTE messages a minute from one client, then says 450 (try later), and logs that once', async () => {
    await service.dispose();
    await startService({ BOUNCE_CLIENT_MESSAGES_PER_MINUTE: '3' });
    const client = listenerClient();
    const address = bounceAddressFor({ notificationId: randomUUID(), position: 0 }, VERP);
    const replies: (string | number | undefined)[] = [];
    for (let i = 0; i < 5; i++)
      replies.push(
        await client.sendMail({ envelope: { from: '', to: [address] }, raw: 'Subject: hello\r\n\r\nnot a bounce\r\n' }).then(
          () => 250,
          (error: { responseCode?: number }) => error.responseCode,
        ),
      );
    expect(replies).toEqual([250, 250, 250, 450, 450]);
    expect(service.logs.filter((l) => l.msg === 'a client sends more bounces than the listener takes: told to try later')).toHaveLength(1);
    client.close();
  });

  it('keeps at most five connections open from one address (421 past that)', async () => {
    const { connect } = await import('node:net');
    const greetings = await Promise.all(
      Array.from(
        { length: 7 },
        () =>
          new Promise<string>((resolve) => {
            const socket = connect(service.bounceListener!.port, '127.0.0.1');
            socket.once('data', (data) => {
              resolve(String(data).slice(0, 3));
              setTimeout(() => socket.destroy(), 200);
            });
            socket.once('error', () => resolve('error'));
          }),
      ),
    );
    expect(greetings.filter((g) => g === '220')).toHaveLength(5);
    expect(greetings.filter((g) => g === '421')).toHaveLength(2);
  });
});

describe('POST /v1/bounces (a bounce piped in by a mail server)', () => {
  async function sent() {
    const { id } = (
      await service.app.inject({
        method: 'POST',
        url: '/v1/notifications',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: example('skype-invitation'),
      })
    ).json();
    await waitFor(async () => (await status(id)).recipients[0].status === 'sent', 10_000, 'sent');
    return id as string;
  }
  const pipe = (raw: string) =>
    service.app.inject({ method: 'POST', url: '/v1/bounces', headers: { ...auth, 'content-type': 'message/rfc822' }, payload: raw });
  const fixture = (name: string, address: string) =>
    readFileSync(new URL(name, FIXTURES), 'utf8').replaceAll('bounces+TOKEN@mail.mydomain.ru', address).replaceAll('ENVID', 'none');

  it.each(['postfix-failed.eml', 'exchange-failed.eml', 'gmail-failed.eml', 'qmail-failed.eml', 'exim-failed.eml', 'mailru-failed.eml', 'sendmail-failed.eml'])(
    '%s, addressed to a delivery’s VERP address, bounces it',
    async (name) => {
      const id = await sent();
      const response = await pipe(fixture(name, bounceAddressFor({ notificationId: id, position: 0 }, VERP)));
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ outcome: 'bounced', delivery: { notificationId: id, position: 0 } });
      expect((await status(id)).recipients[0]).toMatchObject({ status: 'bounced', report: { action: 'failed', status: expect.stringMatching(/^5\./) } });
    },
  );

  it('keeps remote words cleaned: no control characters, at most 500 characters, the same in the status and the webhook', async () => {
    const id = await sent();
    const hostile = `smtp; 550 5.1.1 \u0000\u001b[31mlog in at https://evil.example\u202e ${'x'.repeat(5000)}`;
    const raw = fixture('postfix-failed.eml', bounceAddressFor({ notificationId: id, position: 0 }, VERP)).replace(
      /Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@partner\.example>: Recipient address\r?\n {4}rejected: User unknown/,
      `Diagnostic-Code: ${hostile}`,
    );
    expect((await pipe(raw)).json().outcome).toBe('bounced');
    const { report } = (await status(id)).recipients[0];
    expect(report.diagnostic).toHaveLength(500);
    expect(report.diagnostic).toMatch(/^smtp; 550 5\.1\.1 \[31mlog in at https:\/\/evil\.example x{400,}…$/);
    const event = await waitFor(() => receiver.of(id).find((e) => e.data.status === 'bounced'));
    expect(event.data.report).toMatchObject({ diagnostic: report.diagnostic });
  });

  it('a delay report is kept on a sent recipient as information', async () => {
    const id = await sent();
    expect((await pipe(fixture('postfix-delayed.eml', bounceAddressFor({ notificationId: id, position: 0 }, VERP)))).json().outcome).toBe('noted');
    expect((await status(id)).recipients[0]).toMatchObject({ status: 'sent', report: { action: 'delayed', status: '4.4.1' } });
  });

  it('a forged bounce, an auto-reply and a bounce for an unknown delivery change nothing', async () => {
    const id = await sent();
    const real = bounceAddressFor({ notificationId: id, position: 0 }, VERP);
    const forged = bounceAddressFor({ notificationId: id, position: 0 }, { ...VERP, secret: 'not-the-secret-not-the-secret-000000' });
    expect((await pipe(fixture('postfix-failed.eml', forged))).json()).toMatchObject({ outcome: 'ignored', reason: 'unverified' });
    expect((await pipe(fixture('out-of-office.eml', real))).json()).toMatchObject({ outcome: 'ignored', reason: 'auto-reply' });
    const unknown = bounceAddressFor({ notificationId: randomUUID(), position: 0 }, VERP);
    expect((await pipe(fixture('postfix-failed.eml', unknown))).json()).toMatchObject({ outcome: 'ignored', reason: 'no-such-delivery' });
    expect((await status(id)).recipients[0]).toMatchObject({ status: 'sent', report: null });
    expect(service.logs.some((l) => l.msg === 'a bounce names no delivery of ours (forged, or mangled): ignored')).toBe(true);
  });

  it('needs the token like every other route', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/v1/bounces',
      headers: { 'content-type': 'message/rfc822' },
      payload: 'Subject: x\r\n\r\nx',
    });
    expect(response.statusCode).toBe(401);
  });
});
