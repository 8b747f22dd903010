/**
 * The Redis outbox's keys, all under one prefix (QUEUE_PREFIX), so that
 * several services can share a Redis. docs/design/outbox.md draws them.
 */

/** @example const key = redisKeys('invite-mailer'); key.meta(id) // 'invite-mailer:n:<id>' */
export function redisKeys(prefix: string) {
  return {
    prefix,
    idempotency: (k: string) => `${prefix}:idem:${k}`,
    /** A notification: its meta (JSON), body (the request), open (recipients not final yet). */
    meta: (id: string) => `${prefix}:n:${id}`,
    /** A notification's deliveries: position → record (JSON). */
    deliveries: (id: string) => `${prefix}:n:${id}:d`,
    /** A notification's facts: sequence number → fact (JSON). */
    facts: (id: string) => `${prefix}:n:${id}:f`,
    /** Every event list holding a notification's events (`consumer\tkey`), so that removing it finds them. */
    eventLists: (id: string) => `${prefix}:n:${id}:ev`,
    order: (k: string) => `${prefix}:order:${k}`,
    counts: `${prefix}:counts`,
    sequence: `${prefix}:seq`,
    factSequence: `${prefix}:fact-seq`,
    probe: `${prefix}:probe`,
    /** Notifications stored whose jobs may not exist yet (score: when accepted). */
    expand: `${prefix}:expand`,
    /** Notifications whose recipients are all final (score: when the last became final, or a later report came). */
    final: `${prefix}:final`,
    /** A consumer's keys with events waiting (score: when due, or when the lease ends). */
    eventsDue: (consumer: string) => `${prefix}:ev-due:${consumer}`,
    /** A consumer's events of one key, oldest first: `{id, seq, nid}` (JSON). */
    eventList: (consumer: string, key: string) => `${prefix}:ev:${consumer}:${key}`,
    /** A consumer's attempts per key. */
    eventAttempts: (consumer: string) => `${prefix}:ev-attempts:${consumer}`,
    /** The tag each delivery class is served at (fair.ts): member the class, score the tag. */
    fairServed: `${prefix}:fair-served`,
    /** Where each organizer's flow ends in a class (fair.ts): field the flow, value the tag after its last job. */
    fairEnds: (deliveryClass: number) => `${prefix}:fair-ends:${deliveryClass}`,
    /** BullMQ's prioritized jobs (every job has a priority: fair.ts). */
    prioritized: `${prefix}:deliveries:prioritized`,
    /** BullMQ's jobs waiting without a priority (none, as every job has one; read all the same). */
    wait: `${prefix}:deliveries:wait`,
    /** BullMQ's delayed jobs (retries and waits, until due). */
    delayed: `${prefix}:deliveries:delayed`,
    /** What BullMQ puts before a job's id in its hash's key. */
    jobPrefix: `${prefix}:deliveries:`,
    /** BullMQ's event stream of the deliveries queue (job ids: notification ids). */
    queueEvents: `${prefix}:deliveries:events`,
    /** The version of these keys' layout (see migrate.ts). */
    layout: `${prefix}:layout`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
