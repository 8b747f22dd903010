/**
 * When to try a transient failure again: exponential backoff with jitter, so
 * that a relay that comes back is not hit by every waiting message at once.
 */

export interface RetryPolicy {
  /** Delay before the second attempt (RETRY_INITIAL_DELAY_MS). */
  readonly initialDelayMs: number;
  /** The longest delay between two attempts. */
  readonly maxDelayMs: number;
}

/**
 * The moment of the next attempt after `attempt` failed, or null when the
 * deadline has passed (the delivery is then `expired`). The delay doubles per
 * attempt, capped, and is drawn from its upper half ("equal jitter").
 *
 * @example nextAttemptAt(1, Date.now(), deadline, { initialDelayMs: 1000, maxDelayMs: 3_600_000 }) // now + 500…1000 ms
 */
export function nextAttemptAt(attempt: number, now: number, deadline: number, policy: RetryPolicy, random: () => number = Math.random): number | null {
  if (now >= deadline) return null;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  const delay = ceiling / 2 + random() * (ceiling / 2);
  return Math.min(now + Math.round(delay), deadline);
}

/**
 * When to try again something that waits for its receiver without an age
 * limit (a webhook event, an organizer's notice): the same backoff, no deadline.
 *
 * @example nextRetryAt(3, Date.now(), { initialDelayMs: 5000, maxDelayMs: 3_600_000 }) // now + 10…20 s
 */
export function nextRetryAt(attempt: number, now: number, policy: RetryPolicy): number {
  return nextAttemptAt(attempt, now, Number.MAX_SAFE_INTEGER, policy)!;
}
