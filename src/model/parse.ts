/**
 * The one entry point from untrusted JSON to a request the rest of the
 * service trusts: shape (schema.ts), then the rules that need several fields
 * at once (zones, dates, who answered, what changed).
 */

import { isKnownTimeZone, resolveEventTime } from './datetime.ts';
import { formatPath, InvalidRequestError, issuesFromZod, type RequestIssue } from './errors.ts';
import { type NotificationRequest, notificationRequestSchema } from './schema.ts';

/**
 * Validates a notification request and returns it typed, with defaults
 * filled in (`role`, `status`, `interval`, `allDay`, `conference`).
 *
 * @throws InvalidRequestError naming every wrong field.
 * @example
 * const request = parseNotificationRequest(JSON.parse(body));
 * request.event.conference?.joinUrl;
 */
export function parseNotificationRequest(input: unknown): NotificationRequest {
  const parsed = notificationRequestSchema.safeParse(input);
  if (!parsed.success) throw new InvalidRequestError(issuesFromZod(parsed.error));
  const issues = crossFieldIssues(parsed.data);
  if (issues.length > 0) throw new InvalidRequestError(issues);
  return parsed.data;
}

function crossFieldIssues(request: NotificationRequest): RequestIssue[] {
  const issues: RequestIssue[] = [];
  const report = (path: PropertyKey[], message: string) => issues.push({ path: formatPath(path), message });
  const { event } = request;

  if (!isKnownTimeZone(event.timeZone)) {
    report(['event', 'timeZone'], `is not a known IANA time zone (such as Europe/Moscow): ${event.timeZone}`);
    return issues; // every date below is read in this zone
  }
  const zone = event.timeZone;

  /** Resolves one request time, reporting a problem at its path; undefined when wrong. */
  const time = (value: string | undefined, path: PropertyKey[], allDay: boolean) => {
    if (value === undefined) return undefined;
    const resolved = resolveEventTime(value, zone, allDay);
    if (typeof resolved === 'string') {
      report(path, resolved);
      return undefined;
    }
    return resolved;
  };

  const start = time(event.start, ['event', 'start'], event.allDay);
  const end = time(event.end, ['event', 'end'], event.allDay);
  if (start && end && end <= start) {
    report(['event', 'end'], event.allDay ? 'must be after event.start (all-day end is exclusive: the day after the last day)' : 'must be after event.start');
  }

  const { recurrence } = event;
  if (recurrence) {
    const until = recurrence.until;
    if (until !== undefined) {
      // UNTIL may be a date or a date-time whatever the event's kind (RFC 5545 §3.3.10 asks for the same kind; we convert).
      const resolved = until.length === 10 ? time(until, ['event', 'recurrence', 'until'], true) : time(until, ['event', 'recurrence', 'until'], false);
      if (resolved && start && resolved < start.startOf('day')) report(['event', 'recurrence', 'until'], 'must not be before event.start');
    }
    recurrence.exceptions?.forEach((value, index) => {
      time(value, ['event', 'recurrence', 'exceptions', index], event.allDay);
    });
    if (recurrence.byMonthDay && recurrence.frequency !== 'monthly' && recurrence.frequency !== 'yearly') {
      report(['event', 'recurrence', 'byMonthDay'], 'applies to monthly and yearly recurrence only');
    }
  }
  if (event.occurrence !== undefined) {
    if (!recurrence) report(['event', 'occurrence'], 'is only allowed for a recurring event (event.recurrence)');
    else time(event.occurrence, ['event', 'occurrence'], event.allDay);
  }

  checkUniqueEmails(
    request.attendees.map((a) => a.email),
    ['attendees'],
    report,
  );
  if (request.recipients)
    checkUniqueEmails(
      request.recipients.map((r) => r.email),
      ['recipients'],
      report,
    );

  if (request.organizer.timeZone !== undefined && !isKnownTimeZone(request.organizer.timeZone)) {
    report(['organizer', 'timeZone'], `is not a known IANA time zone (such as Europe/Moscow): ${request.organizer.timeZone}`);
  }
  request.recipients?.forEach((recipient, index) => {
    if (recipient.timeZone !== undefined && !isKnownTimeZone(recipient.timeZone)) {
      report(['recipients', index, 'timeZone'], `is not a known IANA time zone (such as Europe/Moscow): ${recipient.timeZone}`);
    }
    recipient.agenda?.forEach((item, itemIndex) => {
      const path = ['recipients', index, 'agenda', itemIndex];
      const itemStart = time(item.start, [...path, 'start'], item.allDay);
      const itemEnd = time(item.end, [...path, 'end'], item.allDay);
      if (itemStart && itemEnd && itemEnd < itemStart) report([...path, 'end'], 'must not be before its start');
    });
  });

  if (request.type === 'update') {
    if (!request.changes) report(['changes'], 'is required for an update (which fields changed, with previous values)');
    else {
      const previous = request.changes.previous;
      const previousAllDay = previous.allDay ?? event.allDay;
      const previousStart = time(previous.start, ['changes', 'previous', 'start'], previousAllDay);
      const previousEnd = time(previous.end, ['changes', 'previous', 'end'], previousAllDay);
      if (previousStart && previousEnd && previousEnd <= previousStart) report(['changes', 'previous', 'end'], 'must be after changes.previous.start');
      if (request.changes.fields.includes('time') && previous.start === undefined && previous.end === undefined) {
        report(['changes', 'previous'], 'must hold start and/or end when "time" is among changes.fields');
      }
    }
  } else if (request.changes) {
    report(['changes'], `is only allowed for type "update", not "${request.type}"`);
  }

  if (request.type === 'reply') {
    if (!request.reply) report(['reply'], 'is required for a reply (which attendee answered what)');
    else if (!request.attendees.some((a) => sameAddress(a.email, request.reply!.attendee))) {
      report(['reply', 'attendee'], `must be one of the attendees' emails: ${request.reply.attendee}`);
    }
  } else if (request.reply) {
    report(['reply'], `is only allowed for type "reply", not "${request.type}"`);
  }
  return issues;
}

function checkUniqueEmails(emails: string[], path: PropertyKey[], report: (path: PropertyKey[], message: string) => void) {
  const seen = new Set<string>();
  emails.forEach((email, index) => {
    const key = email.toLowerCase();
    if (seen.has(key)) report([...path, index, 'email'], `repeats ${email}: each person appears once`);
    seen.add(key);
  });
}

/**
 * Compares addresses as mail systems do in practice: case-insensitively.
 * (RFC 5321 lets the local part be case-sensitive; no mailbox provider uses that.)
 */
export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
