import { DateTime } from 'luxon';
import { type AddressObject, simpleParser } from 'mailparser';
import { beforeAll, describe, expect, it } from 'vitest';
import { composeMessage, type MessageOptions } from '../../src/message/compose.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { example } from '../helpers/examples.ts';

const DATE = new Date('2026-11-20T08:15:00Z');
const base: MessageOptions = {
  senderPolicy: 'organizer',
  serviceMailbox: { name: 'Calendar', address: 'calendar@mydomain.ru' },
  bounceAddress: 'bounces@mydomain.ru',
  date: DATE,
};

let renderer: Renderer;
beforeAll(async () => {
  renderer = await createRenderer({ branding: { productName: 'МойОфис' } });
});

async function compose(payload: unknown, options: Partial<MessageOptions> = {}, index = 0) {
  const request = parseNotificationRequest(payload);
  const email = renderer.render(request, { stamp: DateTime.fromJSDate(DATE) })[index]!;
  const message = await composeMessage(request, email, { ...base, ...options });
  const raw = message.raw.toString('utf8');
  return { message, raw, headers: raw.slice(0, raw.indexOf('\r\n\r\n')), mail: await simpleParser(message.raw) };
}

const first = (address: AddressObject | AddressObject[] | undefined) => (Array.isArray(address) ? address[0] : address)!.value[0]!;

describe('sender policy', () => {
  it('organizer (default): From is the organizer, Sender the service mailbox', async () => {
    const { mail, message } = await compose(example('skype-invitation'));
    expect(first(mail.from)).toEqual({ name: 'Елена Смирнова', address: 'e.smirnova@mydomain.ru' });
    expect(mail.headers.get('sender')).toMatchObject({ value: [{ address: 'calendar@mydomain.ru', name: 'Calendar' }] });
    expect(mail.replyTo).toBeUndefined();
    expect(message.envelope).toEqual({ from: 'bounces@mydomain.ru', to: ['a.smirnov@mydomain.ru'] });
  });

  it('service: "<organizer> via <product>" from the service mailbox, Reply-To the organizer', async () => {
    const { mail } = await compose(example('skype-invitation'), { senderPolicy: 'service' });
    expect(first(mail.from)).toEqual({ name: 'Елена Смирнова через МойОфис', address: 'calendar@mydomain.ru' });
    expect(first(mail.replyTo)).toEqual({ name: 'Елена Смирнова', address: 'e.smirnova@mydomain.ru' });
    expect(mail.headers.get('sender')).toBeUndefined();
  });

  it('a reply comes from the attendee who answered, to the organizer', async () => {
    const { mail } = await compose(example('reply-accepted'));
    expect(first(mail.from)).toEqual({ name: 'Александр Смирнов', address: 'a.smirnov@mydomain.ru' });
    expect(first(mail.to)).toEqual({ name: 'Елена Смирнова', address: 'e.smirnova@mydomain.ru' });
    const english = example('reply-accepted');
    english.recipients[0].locale = 'en';
    const { mail: service } = await compose(english, { senderPolicy: 'service' });
    expect(first(service.from).name).toBe('Александр Смирнов via МойОфис');
    expect(first(service.replyTo).address).toBe('a.smirnov@mydomain.ru');
  });
});

describe('headers', () => {
  it('To, Subject, Date and Message-ID; Cyrillic as RFC 2047 encoded words', async () => {
    const { mail, headers, message } = await compose(example('skype-invitation'));
    expect(first(mail.to)).toEqual({ name: 'Александр Смирнов', address: 'a.smirnov@mydomain.ru' });
    expect(mail.subject).toBe('Приглашение: Собрание акционеров');
    expect(mail.date?.toISOString()).toBe('2026-11-20T08:15:00.000Z');
    expect(mail.messageId).toBe(message.messageId);
    expect(headers).toMatch(/^Subject: =\?UTF-8\?[BQ]\?/m);
    expect(headers).toMatch(/^Auto-Submitted: auto-generated$/m);
    expect(headers).not.toMatch(/[^\x00-\x7f]/);
  });

  it('a resend has the same Message-ID; another sequence, type, occurrence or recipient another', async () => {
    const id = (await compose(example('trueconf-weekly'))).message.messageId;
    expect((await compose(example('trueconf-weekly'))).message.messageId).toBe(id);
    expect(id).toMatch(/^<[0-9a-f]{40}@mydomain\.ru>$/);
    const later = example('trueconf-weekly');
    later.event.sequence = 1;
    expect((await compose(later)).message.messageId).not.toBe(id);
    expect((await compose(example('trueconf-weekly'), {}, 1)).message.messageId).not.toBe(id);
    const occurrence = (await compose(example('occurrence-cancelled'))).message.messageId;
    const series = example('occurrence-cancelled');
    delete series.event.occurrence;
    expect((await compose(series)).message.messageId).not.toBe(occurrence);
  });

  it('updates and cancellations thread on the invitation', async () => {
    const invitation = await compose(example('skype-invitation'));
    expect(invitation.mail.inReplyTo).toBeUndefined();
    for (const name of ['update-time-changed', 'update-conference-removed', 'cancellation']) {
      const { mail } = await compose(example(name));
      expect(mail.inReplyTo).toBe(invitation.message.messageId);
      expect(mail.references).toBe(invitation.message.messageId);
    }
  });

  it('keeps every header line within 998 octets, however long the names', async () => {
    const payload = example('skype-invitation');
    payload.event.title = 'Очень длинное название собрания '.repeat(15).trim();
    payload.organizer.name = 'Елена Александровна Смирнова-Кузнецова '.repeat(5).trim();
    payload.attendees[0].name = payload.organizer.name;
    payload.attendees[1].name = 'Александр Смирнов '.repeat(10).trim();
    const { headers, mail } = await compose(payload);
    for (const line of headers.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
    expect(mail.subject).toBe(`Приглашение: ${payload.event.title}`);
    expect(first(mail.from).name).toBe(payload.organizer.name);
  });

  it('splits a display name into encoded-words between words, never inside one (a naive decoder keeps every word whole)', async () => {
    const payload = example('skype-invitation');
    payload.organizer.name = 'Александра Константиновна Преображенская-Воскресенская';
    payload.attendees[0].name = payload.organizer.name;
    const { headers, mail } = await compose(payload);
    expect(first(mail.from).name).toBe(payload.organizer.name);
    const from = /^From: ([\s\S]*?)\r\n(?!\s)/m.exec(headers)![1]!.replace(/\r\n\s+/g, ' ');
    const words = [...from.matchAll(/=\?UTF-8\?B\?([^?]*)\?=/g)].map(([, b64]) => Buffer.from(b64!, 'base64').toString('utf8'));
    expect(words.length).toBeGreaterThan(1);
    expect(words.join('')).toBe(payload.organizer.name);
    // each encoded-word ends where a word ends (after a space or a hyphen), never between two letters
    let end = 0;
    for (const word of words.slice(0, -1)) {
      end += word.length;
      expect(payload.organizer.name[end - 1]).toMatch(/[\s-]/);
    }
    for (const line of headers.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('a hostile name cannot add a header or a recipient', async () => {
    const payload = example('skype-invitation');
    payload.organizer.name = 'Eve <eve@evil.example>, "Bob" <bob@evil.example>; Bcc';
    payload.attendees[0].name = payload.organizer.name;
    const { mail, message } = await compose(payload);
    expect(first(mail.from).address).toBe('e.smirnova@mydomain.ru');
    expect(mail.bcc).toBeUndefined();
    expect(message.envelope.to).toEqual(['a.smirnov@mydomain.ru']);
  });
});

describe('the calendar travels twice: alternative and invite.ics', () => {
  it('with the same content and the method of the calendar', async () => {
    const { mail, raw } = await compose(example('cancellation'));
    const calendars = mail.attachments.filter((a) => /calendar|ics/.test(a.contentType));
    expect(calendars.map((a) => a.contentType).sort()).toEqual(['application/ics', 'text/calendar']);
    expect(calendars[0]!.content.toString()).toBe(calendars[1]!.content.toString());
    expect(calendars[0]!.content.toString()).toContain('\r\nMETHOD:CANCEL\r\n');
    expect(raw).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=CANCEL/);
  });
});
