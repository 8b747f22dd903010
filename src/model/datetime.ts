/**
 * Date and time values of the request: wall times in the event's zone, or
 * instants with their own offset, and all-day dates.
 *
 * Every value is resolved to a luxon `DateTime` in the zone it must be shown
 * or written in; nothing here depends on the process `TZ`.
 */

import { LRUCache } from 'lru-cache';
import { DateTime, IANAZone } from 'luxon';

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;
const LOCAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * True when `zone` is an IANA time zone this runtime knows.
 *
 * @example isKnownTimeZone('Europe/Moscow') // true
 * @example isKnownTimeZone('GMT+3')         // false
 */
export function isKnownTimeZone(zone: string): boolean {
  let known = knownZones.get(zone);
  if (known === undefined) {
    // Offsets like "GMT+3" or "+03:00" are not zones: they cannot follow DST rules.
    known = /^[A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*$/.test(zone) && IANAZone.isValidZone(zone);
    knownZones.set(zone, known);
  }
  return known;
}

/** Answers of isKnownTimeZone: luxon asks Intl each time, and 1600 recipients share a few zones. */
const knownZones = new LRUCache<string, boolean>({ max: 2000 }); // bounded: zone names come from requests

/** Why a date-time string could not be resolved, as a sentence for the caller. */
export type DateTimeProblem = string;

/**
 * Resolves a request date-time: a wall time in `zone` (`2023-08-28T10:00:00`),
 * or an instant with its own offset or `Z`, to a `DateTime` in `zone`.
 * Impossible dates and wall times skipped by a DST change are problems, never
 * silently moved.
 *
 * @example resolveDateTime('2023-08-28T10:00:00', 'Europe/Moscow').toISO()
 *          // '2023-08-28T10:00:00.000+03:00'
 */
export function resolveDateTime(value: string, zone: string): DateTime<true> | DateTimeProblem {
  const match = LOCAL_DATE_TIME.exec(value);
  if (!match) return 'must be a date-time such as 2023-08-28T10:00:00 (optionally with an offset or Z)';
  const [, y, mo, d, h, mi, s = '0', offset] = match;
  const parsed = DateTime.fromISO(value, { zone, setZone: false });
  if (!parsed.isValid) return `is not a real date-time (${parsed.invalidExplanation ?? parsed.invalidReason})`;
  if (offset === undefined) {
    // luxon moves a wall time inside a DST gap forward; the request meant a time that does not exist.
    const sameWallTime =
      parsed.year === Number(y) &&
      parsed.month === Number(mo) &&
      parsed.day === Number(d) &&
      parsed.hour === Number(h) &&
      parsed.minute === Number(mi) &&
      parsed.second === Number(s);
    if (!sameWallTime) return `does not exist in ${zone} (skipped by a daylight saving change)`;
  }
  return parsed;
}

/**
 * Resolves an all-day date (`2026-12-10`) to the start of that day. All-day
 * dates are floating (RFC 5545 §3.3.4): they are the same calendar day in
 * every zone, so they are kept in the event's zone and never converted.
 *
 * @example resolveDate('2026-12-10', 'Europe/Moscow').toISODate() // '2026-12-10'
 */
export function resolveDate(value: string, zone: string): DateTime<true> | DateTimeProblem {
  if (!LOCAL_DATE.test(value)) return 'must be a date such as 2026-12-10 for an all-day event';
  const parsed = DateTime.fromISO(value, { zone });
  if (!parsed.isValid) return `is not a real date (${parsed.invalidExplanation ?? parsed.invalidReason})`;
  return parsed;
}

const resolved = new LRUCache<string, DateTime<true> | DateTimeProblem>({ max: 20_000 });

/**
 * Resolves a value that is a date for all-day events and a date-time otherwise.
 * Results are cached (luxon values are immutable): a zone offset costs luxon
 * an Intl round trip, and the same agenda times recur across the recipients
 * of one event.
 */
export function resolveEventTime(value: string, zone: string, allDay: boolean): DateTime<true> | DateTimeProblem {
  const key = `${allDay ? 'D' : 'T'}|${zone}|${value}`;
  let result = resolved.get(key);
  if (result === undefined) {
    result = allDay ? resolveDate(value, zone) : resolveDateTime(value, zone);
    resolved.set(key, result);
  }
  return result;
}

/** True when `value` has the shape of an all-day date rather than a date-time. */
export function isDateOnly(value: string): boolean {
  return LOCAL_DATE.test(value);
}
