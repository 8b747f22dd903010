import { type CheerioAPI, load } from 'cheerio';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type RenderedEmail, type Renderer } from '../../src/render/renderer.ts';
import { EXAMPLE_NAMES, example, exampleIn } from '../helpers/examples.ts';

let renderer: Renderer;
beforeAll(async () => {
  renderer = await createRenderer();
});

function render(payload: unknown): RenderedEmail[] {
  return renderer.render(parseNotificationRequest(payload));
}

function html(email: RenderedEmail): CheerioAPI {
  return load(email.html);
}

const text = ($: CheerioAPI, selector: string) => $(selector).first().text().replace(/\s+/g, ' ').trim();

const LABELS = {
  ru: {
    join: 'Присоединиться к конференции',
    open: 'Открыть календарь',
    agenda: 'Другие события дня',
    accept: 'Принять',
    tentative: 'Возможно',
    decline: 'Отклонить',
  },
  en: { join: 'Join conference', open: 'Open calendar', agenda: 'Other events of the day', accept: 'Accept', tentative: 'Maybe', decline: 'Decline' },
} as const;

const PROVIDER_LABELS: Record<string, Record<string, string>> = {
  'skype-for-business': { ru: 'Skype for Business', en: 'Skype for Business' },
  trueconf: { ru: 'TrueConf', en: 'TrueConf' },
};

describe.each(['ru', 'en'] as const)('every example in %s', (locale) => {
  it.each(EXAMPLE_NAMES)('%s: every recipient gets every fact', (name) => {
    const payload = exampleIn(name, locale);
    const emails = render(payload);
    expect(emails.map((e) => e.to.email)).toEqual(payload.recipients.map((r: { email: string }) => r.email));
    for (const email of emails) {
      expect(email.locale).toBe(locale);
      for (const part of [email.subject, email.html, email.text]) {
        expect(part).not.toMatch(/undefined|null|\{\{|\}\}|Invalid Date|NaN|\[object Object\]|⟦/);
      }
      expect(email.missingKeys).toEqual([]);
      const $ = html(email);
      expect($('html').attr('lang')).toBe(locale);
      expect(text($, 'h1')).toBe(payload.event.title);
      expect(email.subject).toContain(payload.event.title);
      expect(email.text).toContain(payload.event.title);

      // organizer, with email, in HTML and text
      expect(text($, '.organizer')).toBe(`${payload.organizer.name} <${payload.organizer.email}>`);
      expect(email.text).toContain(`${payload.organizer.name} <${payload.organizer.email}>`);

      // every participant but the organizer, with role and answer
      const participants = $('.participant')
        .map((_, el) => $(el).text().replace(/\s+/g, ' ').trim())
        .get();
      const expected = payload.attendees.filter((a: { email: string }) => a.email !== payload.organizer.email);
      expect(participants).toHaveLength(expected.length);
      expected.forEach((attendee: { name: string; email: string }, i: number) => expect(participants[i]).toContain(`${attendee.name} <${attendee.email}>`));

      // the conference: provider label, join button, id, dial-in; or none at all (nothing to join once cancelled)
      const conference = payload.type === 'cancellation' ? null : payload.event.conference;
      if (conference) {
        expect(text($, '.conference-title')).toContain(PROVIDER_LABELS[conference.provider]![locale]);
        const join = $('a').filter((_, a) => $(a).text().trim() === LABELS[locale].join);
        expect(join.attr('href')).toBe(conference.joinUrl);
        expect(email.text).toContain(`${LABELS[locale].join}: ${conference.joinUrl}`);
        // the link shown as text: whole in its href, short enough for any phone in its text
        expect($('a.join-link').attr('href')).toBe(conference.joinUrl);
        expect($('a.join-link').text().length).toBeLessThanOrEqual(40);
        if (conference.conferenceId) expect(text($, '.conference-id')).toBe(conference.conferenceId);
        for (const dial of conference.dialIn ?? []) {
          expect($(`a.dial-in[href="tel:${dial.number.replace(/[^+\d]/g, '')}"]`).text()).toBe(dial.number.replace(/ /g, '\u00a0').replace(/-/g, '\u2011'));
          expect(text($, '.pin')).toBe(dial.pin);
          expect(email.text).toContain(dial.number);
        }
      } else {
        expect(email.html).not.toContain(LABELS[locale].join);
        expect(email.text).not.toContain(LABELS[locale].join);
        expect($('.join-link')).toHaveLength(0);
      }

      // "Open calendar"
      if (payload.event.url) {
        expect($('a.open-calendar').attr('href')).toBe(payload.event.url);
        expect($('a.open-calendar').text()).toBe(LABELS[locale].open);
        expect(email.text).toContain(`${LABELS[locale].open}: ${payload.event.url}`);
      }

      // location and description, line breaks kept
      if (payload.event.location) expect(text($, '.location')).toBe(payload.event.location);
      if (payload.event.description) {
        expect($('.description').html()!.split('<br>')).toEqual(payload.event.description.split('\n'));
        expect(email.text).toContain(payload.event.description);
      }

      // answer buttons only where the recipient can answer
      const recipient = payload.recipients.find((r: { email: string }) => r.email === email.to.email);
      const canAnswer = (payload.type === 'invitation' || payload.type === 'update') && recipient.rsvp;
      if (canAnswer) {
        for (const answer of ['accept', 'tentative', 'decline'] as const) {
          expect($(`a.rsvp-${answer}`).attr('href')).toBe(recipient.rsvp[answer]);
          expect($(`a.rsvp-${answer}`).text()).toBe(LABELS[locale][answer]);
          expect(email.text).toContain(recipient.rsvp[answer]);
        }
      } else {
        expect($('.rsvp a')).toHaveLength(0);
      }

      // the agenda of the day, this event among it
      if (recipient.agenda) {
        expect(email.html).toContain(LABELS[locale].agenda);
        const items = $('.agenda-item')
          .map((_, el) => $(el).text().replace(/\s+/g, ' ').trim())
          .get();
        expect(items).toHaveLength(recipient.agenda.length + 1);
        for (const item of recipient.agenda) expect(items.some((line) => line.includes(item.title))).toBe(true);
        expect($('.agenda-item.this-event').text()).toContain(payload.event.title);
      } else {
        expect(email.html).not.toContain(LABELS[locale].agenda);
      }
    }
  });
});

describe('the seed notification (Mailion + Skype for Business, Figure 3)', () => {
  it('shows the time as the product does, in Russian', () => {
    const [email] = render(example('skype-invitation'));
    const $ = html(email!);
    expect(email!.subject).toBe('Приглашение: Собрание акционеров');
    expect(text($, '.when')).toBe('пн, 28 августа 2023 в 10:00 — пн, 28 августа 2023 в 12:30 (GMT+03:00)');
    expect(text($, '.card-time')).toBe('28 августа, пн, 10:00 – 12:30 (GMT+03:00)');
    expect($('.event-zone')).toHaveLength(0);
    expect(email!.text).toContain('Время: пн, 28 августа 2023 в 10:00 — пн, 28 августа 2023 в 12:30 (GMT+03:00)');
    const agenda = $('.agenda-item')
      .map((_, row) =>
        $(row)
          .find('td')
          .map((_, cell) => $(cell).text().trim())
          .get()
          .join(' '),
      )
      .get();
    expect(agenda).toEqual(['9:00 – 9:30 Планёрка отдела', '10:00 – 12:30 ● Собрание акционеров (это событие)', '13:00 – 14:00 Обед с партнёрами']);
  });

  it('and in English', () => {
    const [email] = render(exampleIn('skype-invitation', 'en'));
    const $ = html(email!);
    expect(email!.subject).toBe('Invitation: Собрание акционеров');
    expect(text($, '.when')).toBe('Mon, August 28, 2023 at 10:00 AM – Mon, August 28, 2023 at 12:30 PM (GMT+03:00)');
    expect(text($, '.card-time')).toBe('Mon, August 28, 10:00 AM – 12:30 PM (GMT+03:00)');
  });
});

describe('times in the reader’s zone', () => {
  it('moves the weekly TrueConf meeting to Yekaterinburg and names the event’s own zone', () => {
    const emails = render(example('trueconf-weekly'));
    const byEmail = Object.fromEntries(emails.map((e) => [e.to.email, html(e)]));
    const orlov = byEmail['d.orlov@mydomain.ru']!;
    expect(text(orlov, '.when')).toBe('пн, 7 декабря 2026 в 13:00 — пн, 7 декабря 2026 в 13:45 (GMT+05:00)');
    expect(text(orlov, '.event-zone')).toBe('По времени события (Москва, стандартное время): 7 декабря, пн, 11:00 – 11:45 (GMT+03:00)');
    const schmidt = byEmail['anna.schmidt@partner.example']!;
    expect(text(schmidt, '.when')).toBe('Mon, December 7, 2026 at 9:00 AM – Mon, December 7, 2026 at 9:45 AM (GMT+01:00)');
    expect(text(schmidt, '.event-zone')).toContain('Moscow Standard Time');
    const volkova = byEmail['i.volkova@mydomain.ru']!;
    expect(text(volkova, '.when')).toBe('пн, 7 декабря 2026 в 11:00 — пн, 7 декабря 2026 в 11:45 (GMT+03:00)');
    expect(volkova('.event-zone')).toHaveLength(0);
  });

  it('says the recurrence in words, in each language', () => {
    const emails = render(example('trueconf-weekly'));
    expect(text(html(emails[0]!), '.recurrence')).toBe('каждую неделю по понедельникам, 12 раз');
    expect(text(html(emails[1]!), '.recurrence')).toBe('Weekly on Monday, 12 times');
  });

  it('keeps all-day dates on their calendar days whatever the zone, end exclusive', () => {
    const [carter, belov] = render(example('all-day-offsite'));
    expect(text(html(carter!), '.when')).toBe('Thu, December 10, 2026 – Fri, December 11, 2026, all day');
    expect(text(html(belov!), '.when')).toBe('чт, 10 декабря 2026 — пт, 11 декабря 2026, весь день');
    expect(html(carter!)('.event-zone')).toHaveLength(0);
  });

  it('shows a one-day all-day event once', () => {
    const payload = example('all-day-offsite');
    payload.event.end = '2026-12-11';
    const [carter] = render(payload);
    expect(text(html(carter!), '.card-time')).toBe('Thu, December 10, all day');
  });

  it('follows the reader’s DST, not the event’s', () => {
    const payload = example('skype-invitation');
    // 29 March 2026: Europe switches to summer time; Moscow does not.
    payload.event.start = '2026-03-30T10:00:00';
    payload.event.end = '2026-03-30T11:00:00';
    payload.recipients[0].timeZone = 'Europe/Berlin';
    delete payload.recipients[0].agenda;
    const [email] = render(payload);
    expect(text(html(email!), '.card-time')).toBe('30 марта, пн, 9:00 – 10:00 (GMT+02:00)');
  });

  it('spells out a multi-day timed event on the card', () => {
    const payload = example('skype-invitation');
    payload.event.end = '2023-08-29T01:00:00';
    delete payload.recipients[0].agenda;
    const [email] = render(payload);
    expect(text(html(email!), '.card-time')).toBe('28 августа, пн, 10:00 – 29 августа, вт, 1:00 (GMT+03:00)');
  });

  it('uses the configured default language and the event’s zone for a recipient without them', async () => {
    const payload = example('skype-invitation');
    payload.recipients = [{ email: 'a.smirnov@mydomain.ru' }];
    const [email] = (await createRenderer({ defaultLocale: 'ru' })).render(parseNotificationRequest(payload));
    expect(email).toMatchObject({ locale: 'ru', timeZone: 'Europe/Moscow' });
    payload.recipients = [{ email: 'a.smirnov@mydomain.ru', locale: 'pt-BR' }];
    expect(renderer.render(parseNotificationRequest(payload))[0]!.locale).toBe('en');
    payload.recipients = [{ email: 'a.smirnov@mydomain.ru', locale: 'ru-RU' }];
    expect(renderer.render(parseNotificationRequest(payload))[0]!.locale).toBe('ru');
  });

  it('sends to every attendee but the organizer when recipients is absent', () => {
    const payload = example('trueconf-weekly');
    delete payload.recipients;
    expect(render(payload).map((e) => e.to.email)).toEqual(['d.orlov@mydomain.ru', 'anna.schmidt@partner.example', 'i.volkova@mydomain.ru']);
  });
});

describe('what happened', () => {
  it('update: the old time beside the new', () => {
    const [email] = render(example('update-time-changed'));
    const $ = html(email!);
    expect(email!.subject).toBe('Изменено: Собрание акционеров');
    expect(text($, '.change-time .was')).toBe('пн, 28 августа 2023 в 10:00 — пн, 28 августа 2023 в 12:30 (GMT+03:00)');
    expect(text($, '.change-time .now')).toBe('вт, 29 августа 2023 в 15:00 — вт, 29 августа 2023 в 17:30 (GMT+03:00)');
    expect(email!.text).toMatch(/Было: пн, 28 августа 2023 в 10:00[^\n]*\n\s*Стало: вт, 29 августа 2023 в 15:00/);
    expect(
      $('a')
        .filter((_, a) => $(a).text().trim() === LABELS.ru.join)
        .attr('href'),
    ).toBe('https://meet.mydomain.ru/e.smirnova/8KZ2Q4R1');
  });

  it('update: a removed conference is said plainly and its link is gone', () => {
    const [email] = render(example('update-conference-removed'));
    const $ = html(email!);
    expect(text($, '.conference-removed')).toBe('Видеоконференция Skype for Business удалена из события: ссылка для подключения больше не действует.');
    expect(email!.text).toContain('Видеоконференция Skype for Business удалена из события');
    expect(email!.html).not.toContain('meet.mydomain.ru');
    expect(email!.text).not.toContain('meet.mydomain.ru');
    expect(text($, '.change-location .was')).toBe('не указано');
    expect(text($, '.change-location .now')).toBe('Москва, Пресненская наб., 10, конференц-зал');
  });

  it('cancellation: unmistakably cancelled, nothing to join or answer', () => {
    const [email] = render(example('cancellation'));
    const $ = html(email!);
    expect(email!.subject).toBe('Отменено: Собрание акционеров');
    expect(text($, '.badge')).toBe('Событие отменено');
    expect($('h1 s').text()).toBe('Собрание акционеров');
    expect(text($, '.intro')).toContain('отменил это событие');
    expect(email!.text.split('\n')[0]).toBe('Событие отменено');
  });

  it('cancelled occurrence: names the one occurrence, in the reader’s zone', () => {
    const [orlov, schmidt] = render(example('occurrence-cancelled'));
    expect(orlov!.subject).toBe('Отменено: Еженедельный статус проекта «Север» (28 декабря, пн)');
    expect(text(html(orlov!), '.intro')).toContain('28 декабря, пн, 13:00 – 13:45 (GMT+05:00)');
    expect(text(html(orlov!), '.badge')).toBe('Повторение отменено');
    expect(schmidt!.subject).toBe('Cancelled: Еженедельный статус проекта «Север» (Mon, December 28)');
    expect(text(html(schmidt!), '.when')).toBe('Mon, December 28, 2026 at 9:00 AM – Mon, December 28, 2026 at 9:45 AM (GMT+01:00)');
  });

  it('reply: who answered what, with the comment', () => {
    const [email] = render(example('reply-accepted'));
    const $ = html(email!);
    expect(email!.to.email).toBe('e.smirnova@mydomain.ru');
    expect(email!.subject).toBe('Александр Смирнов принял приглашение: Собрание акционеров');
    expect(text($, '.reply-text')).toBe('Александр Смирнов принял приглашение.');
    expect(text($, '.reply-comment')).toBe('Буду, подключусь из офиса.');
    expect(email!.text).toContain('Комментарий:\nБуду, подключусь из офиса.');
    const declined = example('reply-accepted');
    declined.reply = { attendee: 'a.smirnov@mydomain.ru', status: 'declined' };
    declined.recipients[0].locale = 'en';
    const [en] = render(declined);
    expect(en!.subject).toBe('Александр Смирнов declined: Собрание акционеров');
    expect(html(en!)('.reply-comment')).toHaveLength(0);
  });
});

describe('a long link shown as text', () => {
  it('keeps its href whole and shows its start, without the scheme, in 40 characters', () => {
    const payload = example('skype-invitation');
    const teams = `https://teams.microsoft.com/l/meetup-join/19%3ameeting_${'N2Q5ZTk'.repeat(20)}%40thread.v2/0?context=%7b%22Tid%22%3a%22x%22%7d`;
    payload.event.conference = { provider: 'teams', joinUrl: teams };
    const [email] = render(payload);
    const $ = html(email!);
    expect($('a.join-link').attr('href')).toBe(teams);
    expect($('a.join-link').text()).toBe('teams.microsoft.com/l/meetup-join/19%3a…');
    expect(email!.text).toContain(teams); // the text part keeps it whole, to copy
  });
});

describe('participants past the limit', () => {
  function withParticipants(count: number, locale: string) {
    const payload = example('skype-invitation');
    payload.attendees = [payload.attendees[0]];
    for (let i = 0; i < count; i++) payload.attendees.push({ name: `Участник ${i}`, email: `p${i}@mydomain.ru`, role: 'required', status: 'needs-action' });
    payload.recipients = [{ email: 'p0@mydomain.ru', locale }];
    return html(render(payload)[0]!);
  }

  it.each([
    [11, 'ru', 'и ещё 1 участник'],
    [12, 'ru', 'и ещё 2 участника'],
    [15, 'ru', 'и ещё 5 участников'],
    [31, 'ru', 'и ещё 21 участник'],
    [1600, 'ru', 'и ещё 1590 участников'],
    [11, 'en', 'and 1 more participant'],
    [1600, 'en', 'and 1590 more participants'],
  ])('%i participants in %s: «%s»', (count, locale, more) => {
    const $ = withParticipants(count, locale);
    expect($('.participant')).toHaveLength(10);
    expect(text($, '.more')).toBe(more);
  });

  it('lists everyone when they fit', () => {
    const $ = withParticipants(10, 'ru');
    expect($('.participant')).toHaveLength(10);
    expect($('.more')).toHaveLength(0);
    expect($('.answer-counts')).toHaveLength(0);
  });

  it.each([
    ['en', '12 accepted · 3 maybe · 5 declined · 130 not answered yet', 'and 140 more participants'],
    ['ru', 'примут участие: 12 · возможно: 3 · отказались: 5 · не ответили: 130', 'и ещё 140 участников'],
  ])('a long list in %s says how many answered what, in the HTML and the text', (locale, counts, more) => {
    const payload = example('skype-invitation');
    const statuses = [...Array(12).fill('accepted'), ...Array(3).fill('tentative'), ...Array(5).fill('declined'), ...Array(130).fill('needs-action')];
    payload.attendees = [
      payload.attendees[0],
      ...statuses.map((status, i) => ({ name: `Участник ${i}`, email: `p${i}@mydomain.ru`, role: 'required', status })),
    ];
    payload.recipients = [{ email: 'p0@mydomain.ru', locale }];
    const [email] = render(payload);
    const $ = html(email!);
    expect(text($, '.more')).toBe(more);
    expect(text($, '.answer-counts')).toBe(counts);
    expect(email!.text).toContain(`  ${more}\n  ${counts}\n`);
  });
});

describe('user text is inert', () => {
  const hostile = '<script>alert(1)</script> {{t.subject.invitation}} {{{brand}}} <mj-button>x</mj-button> $t(actions.accept) & "q" \'s';

  it('renders HTML, scripts, Handlebars, MJML and i18next syntax as the text it is', () => {
    const payload = example('skype-invitation');
    payload.event.title = hostile;
    payload.event.location = hostile;
    payload.event.description = `${hostile}\n<b>второй</b> ряд`;
    payload.organizer.name = hostile;
    payload.attendees[0].name = hostile;
    payload.attendees[1].name = hostile;
    payload.recipients[0].agenda[0].title = hostile;
    const [email] = render(payload);
    const $ = html(email!);
    expect($('script')).toHaveLength(0);
    expect($('mj-button')).toHaveLength(0);
    expect(email!.html).not.toContain('<script>');
    // escaped exactly once: the reader sees the characters typed, never &lt; or &amp;amp;
    expect(text($, 'h1')).toBe(hostile.replace(/\s+/g, ' '));
    expect(text($, '.location')).toBe(hostile.replace(/\s+/g, ' '));
    expect(text($, '.organizer')).toBe(`${hostile} <e.smirnova@mydomain.ru>`.replace(/\s+/g, ' '));
    expect($('.description').html()).toContain('&lt;b&gt;второй&lt;/b&gt; ряд');
    expect(text($, '.intro')).toBe(`${hostile} приглашает вас на событие.`.replace(/\s+/g, ' '));
    // subject and text are not HTML: never escaped
    expect(email!.subject).toBe(`Приглашение: ${hostile}`.replace(/\s+/g, ' '));
    expect(email!.text).toContain(`${hostile}\n<b>второй</b> ряд`);
    expect(email!.text).not.toContain('&lt;');
  });
});

describe('branding', () => {
  it('takes product name, accent colour, logo and footer from configuration', async () => {
    const branded = await createRenderer({
      branding: { productName: 'МойОфис Почта', accentColor: '#c2410c', logoUrl: 'https://cdn.example/logo.png', footer: 'ООО «Пример», Москва' },
    });
    const [email] = branded.render(parseNotificationRequest(example('skype-invitation')));
    const $ = html(email!);
    expect($('img').attr('src')).toBe('https://cdn.example/logo.png');
    expect($('img').attr('alt')).toBe('МойОфис Почта');
    expect(email!.html).toContain('background:#c2410c');
    expect(email!.html).toContain('ООО «Пример», Москва');
    expect(email!.text).toContain('ООО «Пример», Москва');
  });

  it('is neutral by default', () => {
    const [email] = render(example('skype-invitation'));
    expect(html(email!)('img')).toHaveLength(0);
    expect(email!.text).toContain('Это уведомление отправлено сервисом «Календарь».');
    const [english] = render(exampleIn('skype-invitation', 'en'));
    expect(english!.text).toContain('This notification was sent by Calendar.');
  });

  it('refuses a colour that is not one', async () => {
    await expect(createRenderer({ branding: { accentColor: 'red;background:url(x)' } })).rejects.toThrow(/hex colour/);
  });
});
