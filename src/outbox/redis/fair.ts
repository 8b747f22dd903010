/**
 * Fair delivery on Redis (delivery/fairness.ts): where a new notification's
 * jobs start in BullMQ's priority order, and the tag each class is served at.
 * The tag served is the largest any instance took (`<prefix>:fair-served`, a
 * sorted set by class); where each organizer's flow ends, `<prefix>:fair-ends:<class>`
 * (a hash by flow). A class with no job waiting starts again at 0, its flows'
 * ends forgotten, so that tags stay within BullMQ's priorities. Two
 * notifications of one organizer accepted at the same moment (two requests in
 * flight, on one instance or two) may both start where its flow ended: those
 * two then take turns with each other, as every notification did before flows.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { type DeliveryClass, fairStartTag, jobPriority, TAGS_PER_CLASS, tagOfPriority } from '../../delivery/fairness.ts';
import type { RedisKeys } from './keys.ts';
import type { FairStart } from './records.ts';

/** BullMQ's score of a prioritized job: its priority times 2^32, plus a counter. */
const PRIORITY_SCORE = 2 ** 32;

/** Flows' ends a class keeps before those the served tag has passed are forgotten. */
const FLOWS_KEPT = 1000;

/**
 * Where a new notification of `flow` starts. Its flow's new end goes into the write that stores the
 * notification (extendFlow): a notification not stored moves no flow.
 *
 * @example const fair = await fairStart(commands, key, 2, organizerFlow(email)); extendFlow(multi, key, fair, flow, jobs.jobsFor(1600));
 */
export async function fairStart(commands: Redis, key: RedisKeys, deliveryClass: DeliveryClass, flow: string): Promise<FairStart> {
  const first = jobPriority(deliveryClass, 0);
  const ends = key.fairEnds(deliveryClass);
  const answers = await commands
    .pipeline()
    .zscore(key.fairServed, String(deliveryClass))
    .zcount(key.prioritized, String(first * PRIORITY_SCORE), `(${(first + TAGS_PER_CLASS) * PRIORITY_SCORE}`)
    .hget(ends, flow)
    .hlen(ends)
    .exec();
  const [served, waiting, end, flows] = (answers ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  if (Number(waiting) === 0) {
    await commands.multi().zadd(key.fairServed, 0, String(deliveryClass)).del(ends).exec();
    return { deliveryClass, startTag: 0 };
  }
  if (Number(flows) > FLOWS_KEPT) await forgetPassedFlows(commands, ends, Number(served ?? 0));
  return { deliveryClass, startTag: fairStartTag(Number(served ?? 0), end === null ? undefined : Number(end)) };
}

/**
 * Adds to `write` the end of `flow` after a notification that starts at `fair` and takes `tags` tags (its jobs).
 *
 * @example extendFlow(multi, key, fair, n.flow, jobs.jobsFor(n.recipients.length)); await multi.exec();
 */
export function extendFlow(write: ChainableCommander, key: RedisKeys, fair: FairStart, flow: string, tags: number): void {
  write.hset(key.fairEnds(fair.deliveryClass), flow, fair.startTag + tags);
}

/** Forgets flows whose end the served tag has passed: their next notification starts at the served tag anyway. */
async function forgetPassedFlows(commands: Redis, ends: string, served: number): Promise<void> {
  const passed = Object.entries(await commands.hgetall(ends)).flatMap(([flow, end]) => (Number(end) <= served ? [flow] : []));
  if (passed.length) await commands.hdel(ends, ...passed);
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
