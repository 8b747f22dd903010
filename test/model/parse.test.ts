import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/model/errors.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';

function issuesOf(payload: unknown) {
  try {
    parseNotificationRequest(payload);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return (error as InvalidRequestError).issues;
  }
  throw new Error('the request was accepted');
}

describe('parseNotificationRequest', () => {
  it.each(EXAMPLE_NAMES)('accepts the example %s exactly as it is', (name) => {
    const request = parseNotificationRequest(example(name));
    expect(request.event.uid).toBe(example(name).event.uid);
  });

  it('fills the defaults the contract leaves optional', () => {
    const payload = example('skype-invitation');
    delete payload.attendees[1].role;
    delete payload.attendees[1].status;
    const request = parseNotificationRequest(payload);
    expect(request.attendees[1]).toMatchObject({ role: 'required', status: 'needs-action' });
    expect(request.event.allDay).toBe(false);
  });

  it('names every wrong field at once, not only the first', () => {
    const payload = example('trueconf-weekly');
    payload.event.title = 'a\nb';
    payload.event.conference.joinUrl = 'javascript:alert(1)';
    const paths = issuesOf(payload).map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['event.title', 'event.conference.joinUrl']));
  });

  // Each case: what a backend might send wrong, and the field the error must name.
  const cases: [string, (p: any) => void, string][] = [
    ['not an object', (p) => Object.keys(p).forEach((k) => delete p[k]), 'type'],
    ['unknown type', (p) => (p.type = 'reminder'), 'type'],
    ['unknown top-level field', (p) => (p.priority = 'high'), 'priority'],
    ['misspelled event field', (p) => (p.event.timezone = 'Europe/Moscow'), 'event.timezone'],
    ['missing uid', (p) => delete p.event.uid, 'event.uid'],
    ['uid with a space', (p) => (p.event.uid = 'a b@x'), 'event.uid'],
    ['negative sequence', (p) => (p.event.sequence = -1), 'event.sequence'],
    ['fractional sequence', (p) => (p.event.sequence = 1.5), 'event.sequence'],
    ['sequence as a string', (p) => (p.event.sequence = '1'), 'event.sequence'],
    ['empty title', (p) => (p.event.title = '   '), 'event.title'],
    ['CR/LF in the title (header injection)', (p) => (p.event.title = 'Hi\r\nBcc: x@evil.example'), 'event.title'],
    ['bidi override in the title', (p) => (p.event.title = 'invoice\u202Efdp.exe'), 'event.title'],
    ['bidi isolate in a name', (p) => (p.organizer.name = 'Eve\u2066Admin'), 'organizer.name'],
    ['LF in an attendee name', (p) => (p.attendees[1].name = 'A\nB'), 'attendees[1].name'],
    ['oversize title', (p) => (p.event.title = 'x'.repeat(501)), 'event.title'],
    ['NUL in the description', (p) => (p.event.description = 'a\u0000b'), 'event.description'],
    ['unknown time zone', (p) => (p.event.timeZone = 'Mars/Olympus'), 'event.timeZone'],
    ['an offset instead of a zone', (p) => (p.event.timeZone = 'GMT+3'), 'event.timeZone'],
    ['impossible date', (p) => (p.event.start = '2023-02-30T10:00:00'), 'event.start'],
    ['impossible hour', (p) => (p.event.end = '2023-08-28T25:00:00'), 'event.end'],
    ['not a date-time', (p) => (p.event.start = 'tomorrow at ten'), 'event.start'],
    ['end before start', (p) => (p.event.end = '2023-08-28T09:00:00'), 'event.end'],
    ['end equal to start', (p) => (p.event.end = p.event.start), 'event.end'],
    ['a date for a timed event', (p) => (p.event.start = '2023-08-28'), 'event.start'],
    ['wall time skipped by DST', (p) => ((p.event.timeZone = 'Europe/Berlin'), (p.event.start = '2023-03-26T02:30:00'), (p.event.end = '2023-03-26T04:00:00')), 'event.start'],
    ['javascript: join link', (p) => (p.event.conference.joinUrl = 'javascript:alert(1)'), 'event.conference.joinUrl'],
    ['data: link', (p) => (p.event.url = 'data:text/html,<script>alert(1)</script>'), 'event.url'],
    ['relative link', (p) => (p.event.url = '/calendar/event/1'), 'event.url'],
    ['credentials in a link', (p) => (p.event.conference.joinUrl = 'https://user:pass@meet.example/x'), 'event.conference.joinUrl'],
    ['unsafe RSVP link', (p) => (p.recipients[0].rsvp.accept = 'ftp://mail.mydomain.ru/rsvp'), 'recipients[0].rsvp.accept'],
    ['unknown provider', (p) => (p.event.conference.provider = 'webex-classic'), 'event.conference.provider'],
    ['provider other without a label', (p) => (p.event.conference.provider = 'other'), 'event.conference.label'],
    ['letters in a dial-in number', (p) => (p.event.conference.dialIn = [{ number: 'call me' }]), 'event.conference.dialIn[0].number'],
    ['too many digits in a dial-in number', (p) => (p.event.conference.dialIn = [{ number: '+1234567890123456' }]), 'event.conference.dialIn[0].number'],
    ['letters in a PIN', (p) => (p.event.conference.dialIn = [{ number: '+74951234567', pin: '12ab' }]), 'event.conference.dialIn[0].pin'],
    ['malformed organizer email', (p) => (p.organizer.email = 'e.smirnova@'), 'organizer.email'],
    ['email with a display name', (p) => (p.attendees[1].email = 'Alex <a.smirnov@mydomain.ru>'), 'attendees[1].email'],
    ['internationalised address (needs SMTPUTF8)', (p) => (p.attendees[1].email = 'александр@почта.рф'), 'attendees[1].email'],
    ['header injection in an email', (p) => (p.recipients[0].email = 'a@x.ru\r\nBcc: y@evil.example'), 'recipients[0].email'],
    ['duplicate attendee', (p) => p.attendees.push({ ...p.attendees[1], email: p.attendees[1].email.toUpperCase() }), 'attendees[2].email'],
    ['unknown role', (p) => (p.attendees[1].role = 'boss'), 'attendees[1].role'],
    ['unknown answer', (p) => (p.attendees[1].status = 'maybe'), 'attendees[1].status'],
    ['no attendees', (p) => (p.attendees = []), 'attendees'],
    ['recipients not a list', (p) => (p.recipients = { email: 'a@b.ru' }), 'recipients'],
    ['unknown recipient zone', (p) => (p.recipients[0].timeZone = 'Europe/Atlantis'), 'recipients[0].timeZone'],
    ['bad locale', (p) => (p.recipients[0].locale = 'русский'), 'recipients[0].locale'],
    ['impossible agenda time', (p) => (p.recipients[0].agenda[0].start = '2023-08-28T09:61:00'), 'recipients[0].agenda[0].start'],
    ['occurrence of a one-off event', (p) => (p.event.occurrence = '2023-08-28T10:00:00'), 'event.occurrence'],
    ['changes on an invitation', (p) => (p.changes = { fields: ['time'], previous: {} }), 'changes'],
    ['reply data on an invitation', (p) => (p.reply = { attendee: 'a.smirnov@mydomain.ru', status: 'accepted' }), 'reply'],
  ];

  it.each(cases)('rejects %s, naming the field', (_what, breakIt, path) => {
    const payload = example('skype-invitation');
    breakIt(payload);
    const issues = issuesOf(payload);
    expect(issues.map((issue) => issue.path)).toContain(path);
    for (const issue of issues) expect(issue.message).toMatch(/\S/);
  });

  it('has at least 30 distinct bad inputs', () => {
    expect(new Set(cases.map(([what]) => what)).size).toBeGreaterThanOrEqual(30);
  });

  const crossCases: [string, string, (p: any) => void, string][] = [
    ['an update without changes', 'update-time-changed', (p) => delete p.changes, 'changes'],
    ['a time change without previous times', 'update-time-changed', (p) => (p.changes.previous = {}), 'changes.previous'],
    ['a reply without reply', 'reply-accepted', (p) => delete p.reply, 'reply'],
    ['a reply from a stranger', 'reply-accepted', (p) => (p.reply.attendee = 'stranger@example.com'), 'reply.attendee'],
    ['a reply status of needs-action', 'reply-accepted', (p) => (p.reply.status = 'needs-action'), 'reply.status'],
    ['count and until together', 'trueconf-weekly', (p) => (p.event.recurrence.until = '2027-03-01'), 'event.recurrence.until'],
    ['an unknown weekday', 'trueconf-weekly', (p) => (p.event.recurrence.byWeekday = ['MON']), 'event.recurrence.byWeekday[0]'],
    ['a repeated weekday', 'trueconf-weekly', (p) => (p.event.recurrence.byWeekday = ['MO', 'MO']), 'event.recurrence.byWeekday[1]'],
    ['interval zero', 'trueconf-weekly', (p) => (p.event.recurrence.interval = 0), 'event.recurrence.interval'],
    ['an impossible exception date', 'trueconf-weekly', (p) => (p.event.recurrence.exceptions = ['2026-12-32T11:00:00']), 'event.recurrence.exceptions[0]'],
    ['an all-day event with times', 'all-day-offsite', (p) => (p.event.start = '2026-12-10T00:00:00'), 'event.start'],
    ['an all-day event ending on its first day', 'all-day-offsite', (p) => (p.event.end = '2026-12-10'), 'event.end'],
  ];

  it.each(crossCases)('rejects %s', (_what, name, breakIt, path) => {
    const payload = example(name);
    breakIt(payload);
    expect(issuesOf(payload).map((issue) => issue.path)).toContain(path);
  });

  it('accepts an explicit offset or Z, and an internationalised domain in punycode', () => {
    const payload = example('skype-invitation');
    payload.event.start = '2023-08-28T07:00:00Z';
    payload.event.end = '2023-08-28T12:30:00+03:00';
    payload.attendees[1].email = 'a.smirnov@xn--80ak6aa92e.xn--p1ai';
    payload.recipients[0].email = 'a.smirnov@xn--80ak6aa92e.xn--p1ai';
    expect(() => parseNotificationRequest(payload)).not.toThrow();
  });

  it('says what is wrong in the error message, starting with the field', () => {
    const payload = example('skype-invitation');
    payload.event.conference.joinUrl = 'javascript:alert(1)';
    expect(() => parseNotificationRequest(payload)).toThrow(/event\.conference\.joinUrl must be an https: or http: URL/);
  });
});
