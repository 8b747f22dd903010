import { describe, expect, it } from 'vitest';
import { deadlineFor } from '../../src/delivery/deadline.ts';
import { nextAttemptAt } from '../../src/delivery/retry-policy.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { example } from '../helpers/examples.ts';

const policy = { initialDelayMs: 1000, maxDelayMs: 60_000 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('retry policy', () => {
  it('doubles the delay per attempt, drawn from its upper half, capped', () => {
    const now = 1_000_000;
    expect(nextAttemptAt(1, now, now + DAY, policy, () => 0)).toBe(now + 500);
    expect(nextAttemptAt(1, now, now + DAY, policy, () => 1)).toBe(now + 1000);
    expect(nextAttemptAt(3, now, now + DAY, policy, () => 1)).toBe(now + 4000);
    expect(nextAttemptAt(3, now, now + DAY, policy, () => 0)).toBe(now + 2000);
    expect(nextAttemptAt(20, now, now + DAY, policy, () => 1)).toBe(now + 60_000);
  });

  it('never schedules past the deadline, and gives up at it', () => {
    const now = 1_000_000;
    expect(nextAttemptAt(10, now, now + 5000, policy, () => 1)).toBe(now + 5000);
    expect(nextAttemptAt(10, now + 5000, now + 5000, policy)).toBeNull();
  });
});

describe('retry deadline', () => {
  const options = { maxAgeMs: 5 * DAY, minAgeMs: HOUR };

  it('is the end of the event, at least the minimum after acceptance', () => {
    const request = parseNotificationRequest(example('skype-invitation')); // ended in 2023
    const acceptedAt = Date.parse('2026-11-20T08:00:00Z');
    expect(deadlineFor(request, acceptedAt, options)).toBe(acceptedAt + HOUR);
    const soon = example('skype-invitation');
    soon.event.start = '2026-11-21T10:00:00';
    soon.event.end = '2026-11-21T12:30:00';
    delete soon.recipients[0].agenda;
    expect(deadlineFor(parseNotificationRequest(soon), acceptedAt, options)).toBe(Date.parse('2026-11-21T09:30:00Z'));
  });

  it('is at most the maximum, and the maximum for a recurring event', () => {
    const acceptedAt = Date.parse('2026-11-20T08:00:00Z');
    const far = example('skype-invitation');
    far.event.start = '2027-06-01T10:00:00';
    far.event.end = '2027-06-01T11:00:00';
    delete far.recipients[0].agenda;
    expect(deadlineFor(parseNotificationRequest(far), acceptedAt, options)).toBe(acceptedAt + 5 * DAY);
    expect(deadlineFor(parseNotificationRequest(example('trueconf-weekly')), acceptedAt, options)).toBe(acceptedAt + 5 * DAY);
  });
});
