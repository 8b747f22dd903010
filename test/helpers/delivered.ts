import ICAL from 'ical.js';
import { DateTime } from 'luxon';
import { simpleParser } from 'mailparser';
import { expect } from 'vitest';
import { contentTypeParameter, mediaType, mimeTree } from './mime-tree.ts';

const METHODS: Record<string, string> = { invitation: 'REQUEST', update: 'REQUEST', cancellation: 'CANCEL', reply: 'REPLY' };

/** The calendar method a recipient's invite carries: PUBLISH for a recipient who is not an attendee of a REQUEST. */
export function methodFor(payload: any, recipient: string): string {
  const method = METHODS[payload.type]!;
  return method === 'REQUEST' && !payload.attendees.some((a: any) => a.email.toLowerCase() === recipient.toLowerCase()) ? 'PUBLISH' : method;
}

/**
 * The instants DTSTART and DTEND must name: the event's, or with RECURRENCE-ID
 * that occurrence's own (RFC 5545 §3.8.4.4): for a cancelled occurrence its
 * original start and the event's duration.
 */
export function instantsOf(payload: any): { start: DateTime; end: DateTime } {
  const zone = payload.event.allDay ? 'utc' : payload.event.timeZone;
  const start = DateTime.fromISO(payload.event.start, { zone });
  const end = DateTime.fromISO(payload.event.end, { zone });
  if (!payload.event.occurrence || payload.type !== 'cancellation') return { start, end };
  const occurrence = DateTime.fromISO(payload.event.occurrence, { zone });
  return { start: occurrence, end: occurrence.plus(end.diff(start)) };
}

/**
 * What the clients we tried read differently, checked on a calendar's text:
 * lower-case `mailto:` everywhere (sabre/vobject compares byte for byte), no
 * RFC 6868 `^'` (shown literally by Python icalendar and vobject), at least one
 * ATTENDEE in a REQUEST (RFC 5546 §3.2.2), the video CONFERENCE last
 * (Thunderbird keeps only the last), and beside RECURRENCE-ID no RRULE or EXDATE.
 */
export function expectClientSafeCalendar(ics: string): void {
  const unfolded = ics.replace(/\r\n[ \t]/g, '');
  expect(unfolded).not.toMatch(/MAILTO:/);
  expect(unfolded).not.toContain("^'");
  const method = /^METHOD:(.+)$/m.exec(unfolded)![1]!.trim();
  const attendees = unfolded.match(/^ATTENDEE[;:]/gm) ?? [];
  if (method === 'REQUEST') expect(attendees.length).toBeGreaterThanOrEqual(1);
  if (method === 'PUBLISH') expect(attendees).toHaveLength(0);
  const conferences = unfolded.match(/^CONFERENCE[;:].*$/gm) ?? [];
  if (conferences.length) expect(conferences.at(-1)).toMatch(/FEATURE=VIDEO/);
  if (/^RECURRENCE-ID[;:]/m.test(unfolded)) expect(unfolded).not.toMatch(/^(RRULE|EXDATE)[;:]/m);
}

/**
 * Checks a message as it arrived at an SMTP server for one recipient of an
 * example payload: its MIME tree, headers and the calendar inside, read with
 * mailparser and ical.js. Used against the in-test server and against Mailpit.
 */
export async function expectDeliveredInvite(raw: Buffer | string, payload: any, recipient: string): Promise<void> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const method = methodFor(payload, recipient);

  // The tree iMIP clients look for (RFC 6047 §2.4).
  const root = mimeTree(text);
  expect(mediaType(root)).toBe('multipart/mixed');
  expect(root.children.map(mediaType)).toEqual(['multipart/alternative', 'application/ics']);
  const [alternative, attachment] = root.children;
  expect(alternative!.children.map(mediaType)).toEqual(['text/plain', 'text/html', 'text/calendar']);
  const calendarPart = alternative!.children[2]!;
  expect(contentTypeParameter(calendarPart, 'method')).toBe(method);
  expect(contentTypeParameter(calendarPart, 'charset')?.toLowerCase()).toBe('utf-8');
  expect(attachment!.headers).toMatch(/content-disposition:\s*attachment;\s*filename="?invite\.ics/i);

  // Headers: no line over 998 octets (RFC 5322 §2.1.1), non-ASCII only as RFC 2047 encoded words.
  const headerBlock = text.slice(0, text.indexOf('\r\n\r\n'));
  for (const line of headerBlock.split('\r\n')) {
    expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(998);
    expect(line).toMatch(/^[\x20-\x7e\t]*$/);
  }

  const mail = await simpleParser(text);
  expect(mail.subject).toContain(payload.event.title);
  expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]!.address : undefined).toBe(recipient);
  expect(mail.html).toContain(payload.event.title.replace(/«/g, '«'));
  expect(mail.text).toContain(payload.event.title);
  expect(mail.messageId).toMatch(/^<[0-9a-f]{40}@/);
  const author = payload.type === 'reply' ? payload.attendees.find((a: any) => a.email === payload.reply.attendee) : payload.organizer;
  const from = mail.from!.value[0]!;
  expect(from.address).toBe(author.email);
  expect(from.name).toBe(author.name);

  // The calendar, as Thunderbird reads it.
  const calendars = mail.attachments.filter((a) => a.contentType === 'text/calendar' || a.contentType === 'application/ics');
  expect(calendars.length).toBeGreaterThanOrEqual(1);
  const ics = calendars[0]!.content.toString('utf8');
  expectClientSafeCalendar(ics);
  const component = new ICAL.Component(ICAL.parse(ics));
  for (const zone of component.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(new ICAL.Timezone(zone));
  expect(component.getFirstPropertyValue('method')).toBe(method);
  const vevent = component.getFirstSubcomponent('vevent')!;
  expect(vevent.getFirstPropertyValue('uid')).toBe(payload.event.uid);
  expect(vevent.getFirstPropertyValue('sequence')).toBe(payload.event.sequence);
  const event = new ICAL.Event(vevent);
  const instants = instantsOf(payload);
  if (payload.event.allDay) {
    expect(event.startDate.toString()).toBe(instants.start.toISODate());
  } else {
    expect(vevent.getFirstProperty('dtstart')!.getParameter('tzid')).toBe(payload.event.timeZone);
    expect(component.getAllSubcomponents('vtimezone').map((z) => z.getFirstPropertyValue('tzid'))).toContain(payload.event.timeZone);
    expect(event.startDate.toUnixTime()).toBe(instants.start.toSeconds());
    expect(event.endDate.toUnixTime()).toBe(instants.end.toSeconds());
  }
  expect(vevent.getFirstPropertyValue('status')).toBe(payload.type === 'cancellation' ? 'CANCELLED' : 'CONFIRMED');
  if (payload.event.occurrence) {
    expect(vevent.getFirstPropertyValue('recurrence-id')!.toString()).toBe(payload.event.occurrence);
  } else {
    expect(vevent.getFirstProperty('recurrence-id')).toBeNull();
  }
  const me = vevent.getAllProperties('attendee').find((a) => String(a.getFirstValue()).toLowerCase() === `mailto:${recipient}`);
  const myAttendee = payload.attendees.find((a: any) => a.email === recipient);
  if (method === 'REQUEST' && myAttendee) expect(me!.getParameter('rsvp')).toBe(myAttendee.status === 'needs-action' ? 'TRUE' : 'FALSE');
  const conference = payload.type === 'cancellation' ? null : payload.event.conference;
  const conferences = vevent.getAllProperties('conference');
  if (conference) {
    expect(conferences.find((c) => c.getParameter('feature') === 'VIDEO')!.getFirstValue()).toBe(conference.joinUrl);
  } else {
    expect(conferences).toHaveLength(0);
  }
}
