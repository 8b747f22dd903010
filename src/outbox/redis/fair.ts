/**
 * Fair delivery on Redis (delivery/fairness.ts): where a new notification's
 * jobs start in BullMQ's priority order, and the tag each class is served at.
 * The tag served is the largest any instance took (`<prefix>:fair-served`, a
 * sorted set by class); a class with no job waiting starts again at 0, so
 * that tags stay within BullMQ's priorities.
 */
import type { Redis } from 'ioredis';
import { type DeliveryClass, jobPriority, TAGS_PER_CLASS, tagOfPriority } from '../../delivery/fairness.ts';
import type { RedisKeys } from './keys.ts';
import type { FairStart } from './records.ts';

/** BullMQ's score of a prioritized job: its priority times 2^32, plus a counter. */
const PRIORITY_SCORE = 2 ** 32;

/** @example const fair = await fairStart(commands, key, 2); jobs.queueJobs(id, count, fair); */
export async function fairStart(commands: Redis, key: RedisKeys, deliveryClass: DeliveryClass): Promise<FairStart> {
  const first = jobPriority(deliveryClass, 0);
  const answers = await commands
    .pipeline()
    .zscore(key.fairServed, String(deliveryClass))
    .zcount(key.prioritized, String(first * PRIORITY_SCORE), `(${(first + TAGS_PER_CLASS) * PRIORITY_SCORE}`)
    .exec();
  const [served, waiting] = (answers ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  if (Number(waiting) === 0) {
    await commands.zadd(key.fairServed, 0, String(deliveryClass));
    return { deliveryClass, startTag: 0 };
  }
  return { deliveryClass, startTag: Number(served ?? 0) };
}

/** Notes the tags of jobs just taken: each class's served tag moves up to the largest (not awaited: a lost note only makes the next start earlier). */
export function noteServed(commands: Redis, key: RedisKeys, priorities: readonly (number | undefined)[]): void {
  const largest = new Map<DeliveryClass, number>();
  for (const priority of priorities) {
    if (!priority) continue;
    const { deliveryClass, tag } = tagOfPriority(priority);
    largest.set(deliveryClass, Math.max(largest.get(deliveryClass) ?? 0, tag));
  }
  for (const [deliveryClass, tag] of largest) commands.zadd(key.fairServed, 'GT', tag, String(deliveryClass)).catch(() => undefined);
}
