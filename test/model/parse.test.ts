import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/model/errors.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { BAD_INPUTS as cases } from '../helpers/bad-inputs.ts';
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
