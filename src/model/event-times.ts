/**
 * The instants of a validated request, resolved once per request.
 */
import type { DateTime } from 'luxon';
import { resolveEventTime } from './datetime.ts';
import type { NotificationRequest } from './schema.ts';

export interface EventTimes {
  /** The event's own zone. */
  readonly zone: string;
  readonly allDay: boolean;
  /** The event (or series) as the request gives it. */
  readonly start: DateTime;
  readonly end: DateTime;
  /** RECURRENCE-ID: the original start of the one occurrence this request is about. */
  readonly occurrence: DateTime | null;
  /**
   * What a reader is told the time is: for a cancelled occurrence, that
   * occurrence (its original start plus the event's duration); otherwise the event.
   */
  readonly shown: { readonly start: DateTime; readonly end: DateTime; readonly allDay: boolean };
}

/**
 * Resolves a request's date strings in the event's zone. Only for requests
 * that passed `parseNotificationRequest`, which reported every bad date.
 *
 * @example resolveEventTimes(request).start.toISO() // '2023-08-28T10:00:00.000+03:00'
 */
export function resolveEventTimes(request: NotificationRequest): EventTimes {
  const { event } = request;
  const start = mustResolve(event.start, event.timeZone, event.allDay);
  const end = mustResolve(event.end, event.timeZone, event.allDay);
  const occurrence = event.occurrence === undefined ? null : mustResolve(event.occurrence, event.timeZone, event.allDay);
  const shown =
    occurrence && request.type === 'cancellation'
      ? { start: occurrence, end: occurrence.plus(end.diff(start)), allDay: event.allDay }
      : { start, end, allDay: event.allDay };
  return { zone: event.timeZone, allDay: event.allDay, start, end, occurrence, shown };
}

/** Resolves a date string known to be valid (validated at the edge). */
export function mustResolve(value: string, zone: string, allDay: boolean): DateTime {
  const resolved = resolveEventTime(value, zone, allDay);
  if (typeof resolved === 'string') throw new Error(`unvalidated date-time reached rendering: ${value} ${resolved}`);
  return resolved;
}
