/**
 * The iCalendar object of a notification (iMIP, RFC 6047; iTIP, RFC 5546):
 * what makes Gmail, Outlook, Thunderbird and Apple Mail show Accept / Decline
 * and keep the event in the reader's calendar up to date.
 *
 * Pure: a validated request and the moment it was accepted in, text out.
 * Every time is a luxon value in its own zone, so the output does not depend
 * on the process `TZ` (a JS Date plus an event zone came out 3 hours off here).
 */
import ical, {
  escape as escapeText,
  foldLines,
  ICalAttendeeRole,
  ICalAttendeeStatus,
  ICalCalendarMethod,
  ICalEventRepeatingFreq,
  ICalEventStatus,
  type ICalRepeatingOptions,
  ICalWeekday,
} from 'ical-generator';
import type { DateTime } from 'luxon';
import { tzlib_get_ical_block } from 'timezones-ical-library';
import { telUri } from '../conference/dial-in.ts';
import { conferenceProvider } from '../conference/providers.ts';
import { resolveEventTime } from '../model/datetime.ts';
import { type EventTimes, mustResolve, resolveEventTimes } from '../model/event-times.ts';
import { type CalendarMethod, calendarMethod } from '../model/itip-method.ts';
import { peopleOf } from '../model/people.ts';
import type { Attendee, NotificationRequest, Recurrence } from '../model/schema.ts';
import { paramValue, withoutDoubleQuotes } from './content-line.ts';

export { type CalendarMethod, calendarMethod } from '../model/itip-method.ts';

/** Words of the calendar in one language (DESCRIPTION's join block, CONFERENCE labels). */
export interface CalendarWords {
  /** The provider's name: "TrueConf", "Яндекс Телемост". */
  readonly provider: string;
  /** Join block appended to DESCRIPTION, or null without a conference. */
  readonly joinBlock: string | null;
}

export interface CalendarOptions {
  /** DTSTAMP: when the notification was accepted (RFC 5545 §3.8.7.2), written in UTC. */
  readonly stamp: DateTime;
  readonly words: CalendarWords;
  /** PRODID (RFC 5545 §3.7.3). */
  readonly productId?: string;
  /** ORGANIZER;SENT-BY when mail goes out from the service's mailbox for the organizer. */
  readonly sentBy?: string;
  /**
   * Above this many attendees, each recipient's invite lists only that
   * recipient: 1600 ATTENDEE lines, twice per message, would be ~600 KB per
   * email, and clients need only their own line to offer Accept / Decline.
   * The full list stays in the email itself. Default 100.
   */
  readonly attendeesLimit?: number;
  /** The request's times, when the caller has resolved them already (the renderer has). */
  readonly times?: EventTimes;
}

/** The calendar of a notification, ready for each of its recipients. */
export interface CalendarForRecipients {
  readonly method: CalendarMethod;
  /**
   * The calendar a recipient gets: the whole event, or (for large events) the
   * event with that recipient's ATTENDEE only. A recipient who is not an
   * attendee (an assistant, a delegate, a copy) of an invitation or update gets
   * it as PUBLISH: the event to keep, no answer asked (RFC 5546 §3.2.1), since
   * a REQUEST would offer them Accept / Decline as if they were invited.
   */
  forRecipient(email: string): CalendarPart;
}

/** REQUEST, CANCEL, REPLY, or PUBLISH for a recipient who is not an attendee. */
export type CalendarPartMethod = CalendarMethod | 'PUBLISH';

export interface CalendarPart {
  readonly method: CalendarPartMethod;
  /** The VCALENDAR text with CRLF line ends, every line at most 75 octets. */
  readonly content: string;
}

const ROLES = { chair: ICalAttendeeRole.CHAIR, required: ICalAttendeeRole.REQ, optional: ICalAttendeeRole.OPT } as const;
const PARTSTATS = {
  'needs-action': ICalAttendeeStatus.NEEDSACTION,
  accepted: ICalAttendeeStatus.ACCEPTED,
  declined: ICalAttendeeStatus.DECLINED,
  tentative: ICalAttendeeStatus.TENTATIVE,
} as const;
const FREQUENCIES = {
  daily: ICalEventRepeatingFreq.DAILY,
  weekly: ICalEventRepeatingFreq.WEEKLY,
  monthly: ICalEventRepeatingFreq.MONTHLY,
  yearly: ICalEventRepeatingFreq.YEARLY,
} as const;

/**
 * Builds the calendar for a validated request, once for all its recipients.
 *
 * @example
 * const calendar = buildCalendar(request, { stamp: DateTime.utc(), words });
 * calendar.forRecipient('a.smirnov@mydomain.ru').content // 'BEGIN:VCALENDAR\r\n…METHOD:REQUEST\r\n…'
 */
export function buildCalendar(request: NotificationRequest, options: CalendarOptions): CalendarForRecipients {
  const attendees = attendeesFor(request);
  const large = attendees.length > (options.attendeesLimit ?? 100);
  const method = calendarMethod(request.type);
  // One text with a place for the ATTENDEE lines (RFC 5545 §3.8.4.1): all of them, or the recipient's own.
  const marker = 'X-INVITE-MAILER-ATTENDEES:here';
  const [before, after] = calendarText(request, options, method, marker).split(`${marker}\r\n`) as [string, string];
  const allLines = large ? '' : attendees.map((a) => `${attendeeLine(a, method)}\r\n`).join('');
  const whole: CalendarPart = { method, content: `${before}${allLines}${after}` };
  const byAddress = new Map(attendees.map((a) => [a.email.toLowerCase(), a]));
  let published: CalendarPart | undefined;
  return {
    method,
    forRecipient(email: string): CalendarPart {
      const attendee = byAddress.get(email.toLowerCase());
      if (!attendee && method === 'REQUEST') {
        published ??= { method: 'PUBLISH', content: calendarText(request, options, 'PUBLISH') };
        return published;
      }
      if (!large) return whole;
      return { method, content: attendee ? `${before}${attendeeLine(attendee, method)}\r\n${after}` : `${before}${after}` };
    },
  };
}

/**
 * One ATTENDEE content line, folded: CN, ROLE, PARTSTAT, CUTYPE, and
 * RSVP=TRUE while an answer is awaited (RFC 5546 §3.2.2). The address is
 * written `mailto:` in lower case, as ORGANIZER is: iTIP brokers (sabre/vobject,
 * so Nextcloud and Baikal) compare a reply's address byte for byte.
 */
function attendeeLine(attendee: Attendee, method: CalendarMethod): string {
  const rsvp = method === 'REQUEST' && attendee.status === 'needs-action';
  return foldLines(
    `ATTENDEE;ROLE=${ROLES[attendee.role]};CUTYPE=INDIVIDUAL;PARTSTAT=${PARTSTATS[attendee.status]};RSVP=${rsvp ? 'TRUE' : 'FALSE'};CN=${paramValue(attendee.name)}:mailto:${attendee.email}`,
  );
}

function calendarText(request: NotificationRequest, options: CalendarOptions, method: CalendarPartMethod, marker?: string): string {
  const times = options.times ?? resolveEventTimes(request);
  const { event } = request;
  const calendar = ical({ method: ICalCalendarMethod[method], prodId: options.productId ?? '//invite-mailer//invite-mailer//EN' });
  // A generator without a calendar-level zone: every event zone gets its VTIMEZONE,
  // and DTSTAMP keeps its Z (a calendar-level zone dropped it).
  calendar.timezone({ name: null, generator: vtimezone });
  // RFC 5545 §3.8.4.4: beside RECURRENCE-ID, DTSTART and DTEND are that occurrence's own,
  // and the rule stays with the series (Outlook and Google write it so; a series DTSTART
  // there reads as "the occurrence moved to the series' first day").
  const single = times.occurrence !== null;
  const cancel = method === 'CANCEL';

  const vevent = calendar.createEvent({
    id: event.uid,
    sequence: event.sequence,
    stamp: options.stamp.toUTC(),
    start: single ? times.shown.start : times.start,
    end: single ? times.shown.end : times.end,
    allDay: times.allDay,
    timezone: times.allDay ? null : times.zone,
    summary: event.title,
    description: descriptionWithJoinBlock(event.description, cancel ? null : options.words.joinBlock),
    location: event.location ?? (!cancel && event.conference ? event.conference.joinUrl : null),
    url: event.url ?? null,
    // ical-generator writes CN itself, with RFC 6868 escapes for a double quote.
    organizer: { name: withoutDoubleQuotes(request.organizer.name), email: request.organizer.email, ...(options.sentBy ? { sentBy: options.sentBy } : {}) },
    status: cancel ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
  });
  if (event.recurrence && !single) vevent.repeating(repeatingOf(event.recurrence, times));
  if (times.occurrence) vevent.recurrenceId(times.occurrence);

  const extra: string[] = [];
  if (marker) extra.push(marker);
  const conference = event.conference;
  if (conference && !cancel) {
    for (const property of conferenceProvider(conference.provider).calendarProperties) vevent.x(property, conference.joinUrl);
    // RFC 7986 §5.11: where current clients look for the way to join. The video link goes
    // last: Thunderbird keeps only the last CONFERENCE it reads.
    for (const dial of conference.dialIn ?? []) {
      const label = dial.pin ? `${dial.number} PIN ${dial.pin}` : dial.number;
      extra.push(`CONFERENCE;VALUE=URI;FEATURE=PHONE;LABEL=${paramValue(label)}:${telUri(dial.number)}`);
    }
    extra.push(`CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=${paramValue(options.words.provider)}:${conference.joinUrl}`);
  }
  if (request.type === 'reply' && request.reply?.comment) extra.push(`COMMENT:${escapeText(request.reply.comment, false)}`);

  // RFC 5545 §3.1: every content line, the last one too, ends with CRLF.
  let content = `${calendar.toString().replace(/(?:\r\n)?$/, '')}\r\n`;
  if (extra.length)
    content = content.replace('\r\nEND:VEVENT\r\n', `\r\n${extra.map((line) => (line === marker ? line : foldLines(line))).join('\r\n')}\r\nEND:VEVENT\r\n`);
  return content;
}

/** The attendees a method carries: a REPLY only the one who answered, with the answer (RFC 5546 §3.2.3). */
function attendeesFor(request: NotificationRequest): Attendee[] {
  if (request.type !== 'reply' || !request.reply) return request.attendees;
  const { replier } = peopleOf(request);
  return replier ? [{ ...replier, status: request.reply.status }] : [];
}

function repeatingOf(rule: Recurrence, times: EventTimes): ICalRepeatingOptions {
  const repeating: ICalRepeatingOptions = { freq: FREQUENCIES[rule.frequency] };
  if (rule.interval > 1) repeating.interval = rule.interval;
  if (rule.byWeekday) repeating.byDay = rule.byWeekday.map((day) => ICalWeekday[day]);
  if (rule.byMonthDay) repeating.byMonthDay = rule.byMonthDay;
  if (rule.count !== undefined) repeating.count = rule.count;
  if (rule.until !== undefined) repeating.until = untilOf(rule.until, times);
  if (rule.exceptions?.length) repeating.exclude = rule.exceptions.map((value) => mustResolve(value, times.zone, times.allDay));
  return repeating;
}

/**
 * UNTIL in the form RFC 5545 §3.3.10 asks: a DATE for all-day events, else
 * UTC. A date given for a timed event means "through that day" in the event's zone.
 */
function untilOf(value: string, times: EventTimes): DateTime {
  const dateOnly = value.length === 10;
  const resolved = resolveEventTime(value, times.zone, dateOnly);
  if (typeof resolved === 'string') throw new Error(`unvalidated UNTIL reached the calendar: ${value}`);
  if (times.allDay) return resolved;
  return (dateOnly ? resolved.endOf('day') : resolved).toUTC();
}

function descriptionWithJoinBlock(description: string | undefined, joinBlock: string | null): string | null {
  if (!joinBlock) return description ?? null;
  return description ? `${description}\n\n${joinBlock}` : joinBlock;
}

const vtimezones = new Map<string, string | null>();

/** The VTIMEZONE block of a zone, made once per process (it costs as much as the rest of the calendar). */
function vtimezone(zone: string): string | null {
  let block = vtimezones.get(zone);
  if (block === undefined) {
    const made = tzlib_get_ical_block(zone);
    block = Array.isArray(made) ? (made[0] ?? null) : null;
    vtimezones.set(zone, block);
  }
  return block;
}
