import { load } from 'cheerio';
import LinkifyIt from 'linkify-it';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { type FailedDelivery, failureReason } from '../../src/render/failure-reason.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { example } from '../helpers/examples.ts';

/** U+2024 ONE DOT LEADER: how a dot of another server's words is shown (failure-notice.ts, unlinkable). */
const DOT = '\u2024';

let renderer: Renderer;
beforeAll(async () => {
  renderer = await createRenderer();
});

const bounced = (email: string, status: string, diagnostic: string): FailedDelivery => ({
  email,
  status: 'bounced',
  lastReply: null,
  report: { status, diagnostic },
});
const refused = (email: string, response: string): FailedDelivery => ({
  email,
  status: 'failed',
  lastReply: { responseCode: Number(response.slice(0, 3)), response, message: response },
  report: null,
});

describe('the notice to the organizer of undeliverable invitations', () => {
  it('shows another server’s words quoted and never as a link, in the HTML or to a mail client’s linker', () => {
    const request = parseNotificationRequest(example('trueconf-weekly'));
    const [attendee] = request.attendees.filter((a) => a.email !== request.organizer.email);
    const words = 'smtp; 550 5.1.1 Your invitation is blocked: log in at https://evil.example/login or www.evil.example to release it';
    const notice = renderer.renderFailureNotice(request, [bounced(attendee!.email, '5.1.1', words)]);
    const linkify = new LinkifyIt();
    const $ = load(notice.html);
    const shown = $('p')
      .filter((_, p) => $(p).text().includes('Your invitation is blocked'))
      .text();
    expect(shown).toMatch(/^The server said: “smtp; 550 5․1․1 Your invitation is blocked: log in at https:∕∕evil․example\/login/);
    const textLine = notice.text.split('\n').find((line) => line.includes('Your invitation is blocked'))!;
    expect(textLine).toContain('“smtp; 550 5․1․1 Your invitation is blocked');
    for (const text of [shown, textLine]) expect(linkify.match(text)?.map((m) => m.url) ?? []).toEqual([]);
    expect($('a[href*="evil"]')).toHaveLength(0);
  });

  it("is in organizer.locale, in organizer.timeZone, names each attendee and the reason in plain words, with the server's answer", () => {
    const payload = example('trueconf-weekly');
    payload.organizer.locale = 'ru';
    payload.organizer.timeZone = 'Asia/Yekaterinburg';
    const request = parseNotificationRequest(payload);
    const [first, second] = request.attendees.filter((a) => a.email !== request.organizer.email);
    const notice = renderer.renderFailureNotice(request, [
      bounced(first!.email, '5.1.2', 'smtp; 550 5.1.2 Host or domain name not found'),
      refused(second!.email, '552 5.2.2 Mailbox full'),
    ]);
    expect(notice.to).toEqual({ email: request.organizer.email, name: request.organizer.name });
    expect(notice).toMatchObject({ locale: 'ru', timeZone: 'Asia/Yekaterinburg' });
    expect(notice.subject).toBe(`Не доставлено: ${request.event.title}`);
    expect(notice.text).toContain('Приглашение не доставлено 2 участникам');
    expect(notice.text).toContain(
      `${first!.name} <${first!.email}>\n  Домена из адреса не существует: проверьте часть после @.\n  Ответ сервера: «smtp; 550 5${DOT}1${DOT}2 Host or domain name not found»`,
    );
    expect(notice.text).toContain(`${second!.name} <${second!.email}>\n  Почтовый ящик переполнен.`);
    expect(notice.text).toContain('(GMT+05:00)'); // the organizer's zone, not the event's Moscow
    const $ = load(notice.html);
    expect($('html').attr('lang')).toBe('ru');
    expect($('h1').text()).toBe('Приглашение не доставлено 2 участникам');
    expect($('title').text()).toBe(notice.subject);
    expect(notice.html).toContain(`href="${request.event.url}"`);
  });

  it("takes the language of the organizer's own recipient entry without organizer.locale; one failure is singular", () => {
    const payload = example('trueconf-weekly');
    const own = payload.recipients.find((r: { email: string }) => r.email === payload.organizer.email) ?? { email: payload.organizer.email };
    payload.recipients = [...payload.recipients.filter((r: { email: string }) => r !== own), { ...own, locale: 'en' }];
    const request = parseNotificationRequest(payload);
    const notice = renderer.renderFailureNotice(request, [
      { email: 'someone@partner.invalid', status: 'expired', lastReply: { responseCode: 451, response: '451 4.4.1 no answer', message: '' }, report: null },
    ]);
    expect(notice.locale).toBe('en');
    expect(notice.text).toContain('Your invitation could not be delivered to 1 person');
    expect(notice.text).toContain("* someone@partner.invalid\n  The recipient's mail server did not take the message for too long, so delivery was given up.");
  });

  it('escapes what came from outside once: in HTML as HTML, never in the subject or the text', () => {
    const payload = example('skype-invitation');
    payload.event.title = 'Q&A <draft>';
    const request = parseNotificationRequest(payload);
    const notice = renderer.renderFailureNotice(request, [refused('x@partner.invalid', '550 5.7.1 <x@partner.invalid>: rejected & logged')]);
    expect(notice.subject).toBe('Undeliverable: Q&A <draft>');
    expect(notice.text).toContain(`550 5${DOT}7${DOT}1 <x@partner${DOT}invalid>: rejected & logged`);
    expect(notice.html).toContain('Q&amp;A &lt;draft&gt;');
    expect(notice.html).toContain(`550 5${DOT}7${DOT}1 &lt;x@partner${DOT}invalid&gt;: rejected &amp; logged`);
    expect(notice.html).not.toMatch(/&amp;amp;|<draft>/);
  });
});

describe('failureReason (RFC 3463 enhanced status codes)', () => {
  it.each([
    [bounced('a@x', '5.1.1', ''), 'noSuchUser'],
    [bounced('a@x', '5.1.10', ''), 'noSuchUser'],
    [bounced('a@x', '5.1.2', ''), 'noSuchDomain'],
    [bounced('a@x', '5.1.3', ''), 'badAddress'],
    [bounced('a@x', '5.2.2', ''), 'mailboxFull'],
    [bounced('a@x', '5.2.1', ''), 'mailboxUnavailable'],
    [bounced('a@x', '5.3.4', ''), 'tooLarge'],
    [bounced('a@x', '5.4.4', ''), 'unreachable'],
    [bounced('a@x', '5.7.26', ''), 'policy'],
    [refused('a@x', '550 5.1.1 <a@x>: Recipient address rejected'), 'noSuchUser'],
    [refused('a@x', '550 Requested action not taken: mailbox unavailable'), 'noSuchUser'],
    [refused('a@x', '554 Transaction failed'), 'refused'],
  ] as const)('%o is %s', (failure, reason) => {
    expect(failureReason(failure)).toBe(reason);
  });
});
