import ICAL from 'ical.js';
import { DateTime } from 'luxon';
import { simpleParser } from 'mailparser';
import { expect } from 'vitest';
import { contentTypeParameter, mediaType, mimeTree } from './mime-tree.ts';

const METHODS: Record<string, string> = { invitation: 'REQUEST', update: 'REQUEST', cancellation: 'CANCEL', reply: 'REPLY' };

/**
 * Checks a message as it arrived at an SMTP server for one recipient of an
 * example payload: its MIME tree, headers and the calendar inside, read with
 * mailparser and ical.js. Used against the in-test server and against Mailpit.
 */
export async function expectDeliveredInvite(raw: Buffer | string, payload: any, recipient: string): Promise<void> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const method = METHODS[payload.type]!;

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
  const component = new ICAL.Component(ICAL.parse(ics));
  for (const zone of component.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(new ICAL.Timezone(zone));
  expect(component.getFirstPropertyValue('method')).toBe(method);
  const vevent = component.getFirstSubcomponent('vevent')!;
  expect(vevent.getFirstPropertyValue('uid')).toBe(payload.event.uid);
  expect(vevent.getFirstPropertyValue('sequence')).toBe(payload.event.sequence);
  const event = new ICAL.Event(vevent);
  if (payload.event.allDay) {
    expect(event.startDate.toString()).toBe(payload.event.start);
  } else {
    expect(vevent.getFirstProperty('dtstart')!.getParameter('tzid')).toBe(payload.event.timeZone);
    expect(component.getAllSubcomponents('vtimezone').map((z) => z.getFirstPropertyValue('tzid'))).toContain(payload.event.timeZone);
    expect(event.startDate.toUnixTime()).toBe(DateTime.fromISO(payload.event.start, { zone: payload.event.timeZone }).toSeconds());
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
