import ICAL from 'ical.js';
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { expectClientSafeCalendar, instantsOf } from '../helpers/delivered.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';

const STAMP = DateTime.fromISO('2026-11-20T08:15:00Z');

let renderer: Renderer;
beforeAll(async () => {
  renderer = await createRenderer();
});

function calendarOf(payload: unknown, index = 0) {
  const email = renderer.render(parseNotificationRequest(payload), { stamp: STAMP })[index]!;
  return email.calendar;
}

/** Reads a calendar as Thunderbird does, with every VTIMEZONE it carries registered. */
function read(content: string) {
  const root = new ICAL.Component(ICAL.parse(content));
  for (const vtimezone of root.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
  const vevent = root.getFirstSubcomponent('vevent')!;
  return { root, vevent, event: new ICAL.Event(vevent) };
}

function assertWellFormed(content: string) {
  expect(content.endsWith('\r\n')).toBe(true);
  const lines = content.slice(0, -2).split('\r\n');
  for (const line of lines) {
    expect(Buffer.byteLength(line, 'utf8'), line).toBeLessThanOrEqual(75);
    expect(line).not.toMatch(/[\r\n]/);
  }
  // no bare LF anywhere: every line ends with CRLF
  expect(content.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
}

/** RFC 5545 §3.1 unfolding. */
const unfold = (content: string) => content.replace(/\r\n[ \t]/g, '');

const expectedMethod = { invitation: 'REQUEST', update: 'REQUEST', cancellation: 'CANCEL', reply: 'REPLY' } as const;

describe.each(EXAMPLE_NAMES)('the calendar of %s', (name) => {
  const payload = example(name);

  it('carries METHOD, UID, SEQUENCE and DTSTAMP in UTC', () => {
    const { method, content } = calendarOf(payload);
    assertWellFormed(content);
    const { root, vevent } = read(content);
    expect(method).toBe(expectedMethod[payload.type as keyof typeof expectedMethod]);
    expect(root.getFirstPropertyValue('method')).toBe(method);
    expect(root.getFirstPropertyValue('version')).toBe('2.0');
    expect(vevent.getFirstPropertyValue('uid')).toBe(payload.event.uid);
    expect(vevent.getFirstPropertyValue('sequence')).toBe(payload.event.sequence);
    expect(content).toMatch(/\r\nDTSTAMP:20261120T081500Z\r\n/);
    expect(vevent.getFirstPropertyValue('summary')).toBe(payload.event.title);
  });

  it('starts at the right instant, with its TZID and a VTIMEZONE for it', () => {
    const { content } = calendarOf(payload);
    const { root, event, vevent } = read(content);
    if (payload.event.allDay) {
      expect(content).toContain(`DTSTART;VALUE=DATE:${payload.event.start.replace(/-/g, '')}`);
      expect(event.startDate.isDate).toBe(true);
      expect(event.endDate.toString()).toBe(payload.event.end);
      return;
    }
    const tzid = vevent.getFirstProperty('dtstart')!.getParameter('tzid');
    expect(tzid).toBe(payload.event.timeZone);
    const zones = root.getAllSubcomponents('vtimezone').map((z) => z.getFirstPropertyValue('tzid'));
    expect(zones).toContain(payload.event.timeZone);
    const instants = instantsOf(payload);
    expect(event.startDate.toUnixTime()).toBe(instants.start.toSeconds());
    expect(event.endDate.toUnixTime()).toBe(instants.end.toSeconds());
  });

  it('has the organizer and the attendees the method needs', () => {
    const { content } = calendarOf(payload);
    const { vevent } = read(content);
    const organizer = vevent.getFirstProperty('organizer')!;
    expect(String(organizer.getFirstValue()).toLowerCase()).toBe(`mailto:${payload.organizer.email}`);
    expect(organizer.getParameter('cn')).toBe(payload.organizer.name);
    const attendees = vevent.getAllProperties('attendee');
    if (payload.type === 'reply') {
      expect(attendees).toHaveLength(1);
      expect(String(attendees[0]!.getFirstValue()).toLowerCase()).toBe(`mailto:${payload.reply.attendee}`);
      expect(attendees[0]!.getParameter('partstat')).toBe(payload.reply.status.toUpperCase());
      return;
    }
    expect(attendees).toHaveLength(payload.attendees.length);
    for (const attendee of payload.attendees) {
      const property = attendees.find((a) => String(a.getFirstValue()).toLowerCase() === `mailto:${attendee.email}`)!;
      expect(property.getParameter('cn')).toBe(attendee.name);
      expect(property.getParameter('partstat')).toBe(attendee.status.toUpperCase());
      expect(property.getParameter('cutype')).toBe('INDIVIDUAL');
      expect(property.getParameter('role')).toBe({ chair: 'CHAIR', required: 'REQ-PARTICIPANT', optional: 'OPT-PARTICIPANT' }[attendee.role as string]);
      const awaited = payload.type !== 'cancellation' && attendee.status === 'needs-action';
      expect(property.getParameter('rsvp') === 'TRUE').toBe(awaited);
    }
  });

  it("reads the same in every client we tried: mailto:, no ^', an ATTENDEE in every REQUEST, video CONFERENCE last, no rule beside RECURRENCE-ID", () => {
    const request = parseNotificationRequest(payload);
    for (const email of renderer.render(request, { stamp: STAMP })) expectClientSafeCalendar(email.calendar.content);
  });

  it('is cancelled exactly when the notification is a cancellation', () => {
    const { vevent } = read(calendarOf(payload).content);
    expect(vevent.getFirstPropertyValue('status')).toBe(payload.type === 'cancellation' ? 'CANCELLED' : 'CONFIRMED');
  });

  it('carries the conference where clients look for it, or none of it', () => {
    const { content } = calendarOf(payload);
    const { vevent } = read(content);
    const conferences = vevent.getAllProperties('conference');
    const conference = payload.type === 'cancellation' ? null : payload.event.conference;
    if (!conference) {
      expect(conferences).toHaveLength(0);
      expect(content).not.toMatch(/X-MICROSOFT-SKYPETEAMSMEETINGURL|X-MICROSOFT-ONLINEMEETINGEXTERNALLINK|X-GOOGLE-CONFERENCE/);
      if (payload.event.conference) expect(content.replace(/\r\n /g, '')).not.toContain(payload.event.conference.joinUrl);
      return;
    }
    const video = conferences.find((c) => c.getParameter('feature') === 'VIDEO')!;
    expect(video.getFirstValue()).toBe(conference.joinUrl);
    expect(unfold(content)).toContain(`\r\nCONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=`);
    expect(video.getParameter('label')).toBe({ trueconf: 'TrueConf', 'skype-for-business': 'Skype for Business' }[conference.provider as string]);
    for (const dial of conference.dialIn ?? []) {
      const phone = conferences.find((c) => c.getParameter('feature') === 'PHONE')!;
      expect(phone.getFirstValue()).toBe(`tel:${dial.number.replace(/[^+\d]/g, '')}`);
      expect(phone.getParameter('label')).toContain(dial.pin);
    }
    expect(vevent.getFirstPropertyValue('description')).toContain(conference.joinUrl);
    expect(vevent.getFirstPropertyValue('location')).toBe(payload.event.location ?? conference.joinUrl);
    if (conference.provider === 'skype-for-business') expect(vevent.getFirstPropertyValue('x-microsoft-onlinemeetingexternallink')).toBe(conference.joinUrl);
  });
});

describe('recurrence', () => {
  it('writes RRULE from the structured rule, EXDATE for exceptions', () => {
    const payload = example('trueconf-weekly');
    payload.event.recurrence.exceptions = ['2026-12-21T11:00:00'];
    const { content } = calendarOf(payload);
    const { vevent, event } = read(content);
    expect(content).toContain('\r\nRRULE:FREQ=WEEKLY;COUNT=12;BYDAY=MO\r\n');
    expect(content).toContain('\r\nEXDATE;TZID=Europe/Moscow:20261221T110000\r\n');
    expect(vevent.getFirstPropertyValue('rrule')).toBeTruthy();
    const iterator = event.iterator();
    const starts: number[] = [];
    for (let next = iterator.next(); next && starts.length < 4; next = iterator.next()) starts.push(next.toUnixTime());
    expect(starts.map((s) => DateTime.fromSeconds(s, { zone: 'Europe/Moscow' }).toISO({ suppressMilliseconds: true, includeOffset: false }))).toEqual([
      '2026-12-07T11:00:00',
      '2026-12-14T11:00:00',
      '2026-12-28T11:00:00',
      '2027-01-04T11:00:00',
    ]);
  });

  it('writes UNTIL in UTC for a timed event (RFC 5545 §3.3.10)', () => {
    const payload = example('trueconf-weekly');
    delete payload.event.recurrence.count;
    payload.event.recurrence.until = '2027-02-22';
    payload.event.recurrence.interval = 2;
    const { content } = calendarOf(payload);
    const rule = read(content).vevent.getFirstPropertyValue('rrule') as ICAL.Recur;
    expect(rule.interval).toBe(2);
    expect(rule.until!.toString()).toBe('2027-02-22T20:59:59Z');
    expect(content).toMatch(/\r\nRRULE:[^\r]*UNTIL=20270222T205959Z[;\r]/);
  });

  it('names the one cancelled occurrence with RECURRENCE-ID, and gives it its own start and end, without the rule', () => {
    const { content, method } = calendarOf(example('occurrence-cancelled'));
    const { vevent, event } = read(content);
    expect(method).toBe('CANCEL');
    expect(content).toContain('\r\nRECURRENCE-ID;TZID=Europe/Moscow:20261228T110000\r\n');
    expect(vevent.getFirstPropertyValue('recurrence-id')!.toString()).toBe('2026-12-28T11:00:00');
    // RFC 5545 §3.8.4.4: DTSTART beside RECURRENCE-ID is that instance's start (was: the series' 7 Dec)
    expect(content).toContain('\r\nDTSTART;TZID=Europe/Moscow:20261228T110000\r\n');
    expect(content).toContain('\r\nDTEND;TZID=Europe/Moscow:20261228T114500\r\n');
    expect(event.isRecurring()).toBe(false);
    expect(content).not.toMatch(/\r\n(RRULE|EXDATE)[;:]/);
  });

  it('an update of one occurrence carries that occurrence’s (new) times and no rule', () => {
    const payload = example('trueconf-weekly');
    payload.type = 'update';
    payload.event.sequence = 2;
    payload.event.occurrence = '2026-12-14T11:00:00';
    payload.event.start = '2026-12-15T15:00:00';
    payload.event.end = '2026-12-15T15:45:00';
    payload.event.recurrence.exceptions = ['2026-12-21T11:00:00'];
    payload.changes = { fields: ['time'], previous: { start: '2026-12-14T11:00:00', end: '2026-12-14T11:45:00' } };
    const { content } = calendarOf(payload);
    expect(content).toContain('\r\nRECURRENCE-ID;TZID=Europe/Moscow:20261214T110000\r\n');
    expect(content).toContain('\r\nDTSTART;TZID=Europe/Moscow:20261215T150000\r\n');
    expect(content).not.toMatch(/\r\n(RRULE|EXDATE)[;:]/);
  });
});

describe('text in the calendar', () => {
  it('escapes commas, semicolons, backslashes and newlines, folds Cyrillic and emoji by octets', () => {
    const payload = example('trueconf-weekly');
    payload.event.title = 'Планёрка; итоги, планы \\ задачи 🚀🚀 — очень длинное название встречи для переноса строк';
    payload.event.description = 'Строка 1\nСтрока 2; с запятой, и \\ обратной чертой 👩‍💻';
    payload.event.location = 'Переговорная «Байкал», 5 этаж; вход со двора';
    payload.organizer.name = 'Ольга "Оля" Кузнецова; главная';
    const { content } = calendarOf(payload);
    assertWellFormed(content);
    const { vevent } = read(content);
    expect(vevent.getFirstPropertyValue('summary')).toBe(payload.event.title);
    expect(vevent.getFirstPropertyValue('description')).toContain(payload.event.description);
    expect(vevent.getFirstPropertyValue('location')).toBe(payload.event.location);
    // a parameter cannot hold a double quote: typographic quotes, which every reader shows
    expect(vevent.getFirstProperty('organizer')!.getParameter('cn')).toBe('Ольга “Оля” Кузнецова; главная');
    expect(unfold(content)).toContain('SUMMARY:Планёрка\\; итоги\\, планы \\\\ задачи');
  });

  it('folds the lines it adds (ATTENDEE, CONFERENCE, COMMENT) at 75 octets without splitting a character', () => {
    const payload = structuredClone(example('trueconf-weekly')) as Record<string, any>;
    payload.attendees[0].name = `${'Анна-Мария 🚀'.repeat(8)} Смирнова`;
    payload.event.conference.dialIn = [{ number: '+7 495 123-45-67', pin: '1234567890'.repeat(2) }];
    const { content } = calendarOf(payload);
    assertWellFormed(content);
    const reply = structuredClone(example('reply-accepted')) as Record<string, any>;
    reply.reply.comment = `Буду; подключусь, ${'🚀'.repeat(40)}`;
    const replyContent = calendarOf(reply).content;
    assertWellFormed(replyContent);
    expect(read(replyContent).vevent.getFirstPropertyValue('comment')).toBe(reply.reply.comment);
    expect(content).not.toContain('\uFFFD');
    const attendee = read(content)
      .vevent.getAllProperties('attendee')
      .find((p) => String(p.getFirstValue()).endsWith(payload.attendees[0].email));
    expect(attendee!.getParameter('cn')).toBe(payload.attendees[0].name);
    expect(unfold(content)).toContain(`LABEL=+7 495 123-45-67 PIN ${'1234567890'.repeat(2)}:tel:`);
  });

  it('carries the reply comment', () => {
    const { vevent } = read(calendarOf(example('reply-accepted')).content);
    expect(vevent.getFirstPropertyValue('comment')).toBe('Буду, подключусь из офиса.');
  });
});

describe('provider extras', () => {
  it.each([
    ['teams', 'X-MICROSOFT-SKYPETEAMSMEETINGURL', 'Microsoft Teams'],
    ['google-meet', 'X-GOOGLE-CONFERENCE', 'Google Meet'],
    ['zoom', null, 'Zoom'],
  ])('%s', (provider, property, label) => {
    const payload = example('skype-invitation');
    payload.event.conference = { provider, joinUrl: 'https://meet.example/abc-defg-hij' };
    const { content } = calendarOf(payload);
    const { vevent } = read(content);
    if (property) expect(vevent.getFirstPropertyValue(property.toLowerCase())).toBe('https://meet.example/abc-defg-hij');
    expect(vevent.getFirstProperty('conference')!.getParameter('label')).toBe(label);
  });

  it('uses the request’s own label for provider other', () => {
    const payload = example('skype-invitation');
    payload.event.conference = { provider: 'other', label: 'Vinteo: зал 5', joinUrl: 'https://vc.example/5' };
    const { content } = calendarOf(payload);
    expect(unfold(content)).toContain('LABEL="Vinteo: зал 5":https://vc.example/5');
    expect(read(content).vevent.getFirstProperty('conference')!.getParameter('label')).toBe('Vinteo: зал 5');
  });
});

describe('the process time zone does not matter', () => {
  it(`writes 10:00 Moscow as 10:00 Moscow under TZ=${process.env.TZ}`, () => {
    expect(Intl.DateTimeFormat().resolvedOptions().timeZone).toBe(process.env.TZ === 'UTC' ? 'UTC' : process.env.TZ);
    const { content } = calendarOf(example('skype-invitation'));
    expect(content).toContain('\r\nDTSTART;TZID=Europe/Moscow:20230828T100000\r\n');
    expect(content).toContain('\r\nDTEND;TZID=Europe/Moscow:20230828T123000\r\n');
  });
});

describe('what real clients read', () => {
  it('writes ATTENDEE values as lower-case mailto:, like ORGANIZER (sabre/vobject compares them byte for byte)', () => {
    const { content } = calendarOf(example('skype-invitation'));
    const unfolded = unfold(content);
    expect(unfolded).toMatch(/\r\nORGANIZER;[^\r]*:mailto:/);
    expect(unfolded.match(/\r\nATTENDEE;[^\r]*:mailto:/g)!.length).toBe(example('skype-invitation').attendees.length);
    expect(unfolded).not.toContain('MAILTO:');
  });

  it("writes a double quote in a name as typographic quotes, never RFC 6868 ^' (shown literally by Python icalendar and vobject)", () => {
    const payload = example('skype-invitation');
    payload.attendees[1].name = 'Иван "Ваня" Петров';
    payload.organizer.name = 'ООО "Ромашка"';
    const { content } = calendarOf(payload);
    expect(content).not.toContain("^'");
    const { vevent } = read(content);
    expect(vevent.getAllProperties('attendee')[1]!.getParameter('cn')).toBe('Иван “Ваня” Петров');
    expect(vevent.getFirstProperty('organizer')!.getParameter('cn')).toBe('ООО “Ромашка”');
  });

  it('puts the video CONFERENCE after the phone ones (Thunderbird keeps only the last)', () => {
    const payload = example('trueconf-weekly');
    expect(payload.event.conference.dialIn?.length).toBeGreaterThan(0);
    const conferences = read(calendarOf(payload).content).vevent.getAllProperties('conference');
    expect(conferences.map((c) => c.getParameter('feature'))).toEqual([...payload.event.conference.dialIn.map(() => 'PHONE'), 'VIDEO']);
  });

  it('a recipient who is not an attendee (an assistant, a copy) gets the invitation as PUBLISH: the event to keep, no answer asked', () => {
    const payload = example('skype-invitation');
    payload.recipients.push({ email: 'assistant@mydomain.ru', locale: 'ru' });
    const emails = renderer.render(parseNotificationRequest(payload), { stamp: STAMP });
    const assistant = emails.find((e) => e.to.email === 'assistant@mydomain.ru')!;
    expect(assistant.calendar.method).toBe('PUBLISH');
    const { root, vevent } = read(assistant.calendar.content);
    expect(root.getFirstPropertyValue('method')).toBe('PUBLISH');
    expect(vevent.getAllProperties('attendee')).toHaveLength(0); // RFC 5546 §3.2.1: none in PUBLISH
    expect(vevent.getFirstPropertyValue('uid')).toBe(payload.event.uid);
    // the invited still get a REQUEST with every attendee
    const invited = emails.find((e) => e.to.email === payload.recipients[0].email)!;
    expect(invited.calendar.method).toBe('REQUEST');
  });
});

describe('large events', () => {
  function withAttendees(count: number) {
    const payload = example('skype-invitation');
    payload.attendees = [payload.attendees[0]];
    payload.recipients = [];
    for (let i = 0; i < count; i++) {
      const email = `p${i}@mydomain.ru`;
      payload.attendees.push({ name: `Участник ${i}`, email, role: i % 2 ? 'optional' : 'required', status: 'needs-action' });
      payload.recipients.push({ email, locale: 'ru' });
    }
    return payload;
  }

  it('lists every attendee up to the limit', () => {
    const { vevent } = read(calendarOf(withAttendees(99)).content);
    expect(vevent.getAllProperties('attendee')).toHaveLength(100);
  });

  it('past the limit, lists only the recipient, with their own role and RSVP', () => {
    const payload = withAttendees(1600);
    const emails = renderer.render(parseNotificationRequest(payload), { stamp: STAMP });
    for (const index of [0, 1, 1599]) {
      const { content } = emails[index]!.calendar;
      assertWellFormed(content);
      expect(Buffer.byteLength(content)).toBeLessThan(8000);
      const { vevent } = read(content);
      const attendees = vevent.getAllProperties('attendee');
      expect(attendees).toHaveLength(1);
      expect(String(attendees[0]!.getFirstValue()).toLowerCase()).toBe(`mailto:p${index}@mydomain.ru`);
      expect(attendees[0]!.getParameter('cn')).toBe(`Участник ${index}`);
      expect(attendees[0]!.getParameter('rsvp')).toBe('TRUE');
      expect(attendees[0]!.getParameter('role')).toBe(index % 2 ? 'OPT-PARTICIPANT' : 'REQ-PARTICIPANT');
      expect(vevent.getFirstPropertyValue('uid')).toBe(payload.event.uid);
      expect(content).not.toContain('X-INVITE-MAILER');
    }
  });

  it('past the limit, a recipient who is not an attendee gets PUBLISH, never a REQUEST without ATTENDEE', () => {
    const payload = withAttendees(150);
    payload.recipients.push({ email: 'assistant@mydomain.ru', locale: 'ru' });
    const emails = renderer.render(parseNotificationRequest(payload), { stamp: STAMP });
    const assistant = emails.find((e) => e.to.email === 'assistant@mydomain.ru')!;
    expect(assistant.calendar.method).toBe('PUBLISH');
    expectClientSafeCalendar(assistant.calendar.content);
    for (const email of emails) expectClientSafeCalendar(email.calendar.content);
  });
});
