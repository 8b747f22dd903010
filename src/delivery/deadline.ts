/**
 * How long a notification is worth retrying: until its event has ended, but
 * at least a short window (an update to a meeting that just ended still
 * deserves a few tries) and at most a configured age (5 days by default).
 */
import { resolveEventTimes } from '../model/event-times.ts';
import type { NotificationRequest } from '../model/schema.ts';

export interface DeadlineOptions {
  /** Never retry longer than this after acceptance. */
  readonly maxAgeMs: number;
  /** Always retry at least this long after acceptance. */
  readonly minAgeMs: number;
}

/**
 * The moment (ms) after which transient failures become `expired`.
 * A recurring event has no end we can trust here: it gets the maximum.
 *
 * @example deadlineFor(request, Date.now(), { maxAgeMs: 5 * 86_400_000, minAgeMs: 3_600_000 })
 */
export function deadlineFor(request: NotificationRequest, acceptedAt: number, options: DeadlineOptions): number {
  const latest = acceptedAt + options.maxAgeMs;
  if (request.event.recurrence) return latest;
  const eventEnd = resolveEventTimes(request).shown.end.toMillis();
  return Math.min(latest, Math.max(eventEnd, acceptedAt + options.minAgeMs));
}
