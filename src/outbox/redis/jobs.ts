/**
 * The BullMQ jobs behind the Redis outbox's deliveries: made for an accepted
 * notification (RECIPIENTS_PER_JOB recipients each), taken and held (their
 * locks renewed) while their deliveries are claimed, and moved on (completed,
 * delayed, or handed back) once every delivery claimed from them is done with.
 * Only the records decide what is sent (claim.ts); a job says where to look.
 */
import { randomUUID } from 'node:crypto';
import { Job, type Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type DeliveryClass, jobPriority } from '../../delivery/fairness.ts';
import { type ClaimedDelivery, StaleDeliveryError } from '../outbox.ts';
import type { RedisKeys } from './keys.ts';
import { deliveryIdOf, type FairStart, fairStartOf, type JobData, type Meta, ofSeveral } from './records.ts';

/** How old a stored notification without its jobs must be before any instance creates them. */
const EXPAND_AFTER_MS = 5000;

/** Jobs made by one BullMQ addBulk of an accepted notification (see queueJobs). */
const JOBS_PER_ADD = 200;

/**
 * Recipients of one notification a job carries. BullMQ spends several scripts, an event-stream
 * entry and a few hundred microseconds of this process's CPU on each job (add, take, complete):
 * one job a recipient left the Redis backend at 60–64% of the SQLite outbox's rate (docs/design/outbox.md).
 */
const RECIPIENTS_PER_JOB = 25;

/** A job this instance holds: its lock is renewed until every recipient claimed from it is settled or handed back. */
export interface Hold {
  readonly job: Job<JobData>;
  readonly token: string;
  /** Positions claimed from it and not yet settled or handed back. */
  readonly open: Set<string>;
  /** A recipient was handed back unsent: the job goes back to the queue once the others are settled. */
  released: boolean;
}

/** A claimed delivery: the job it came with, and the attempt `begin` starts. */
export interface Claim {
  readonly hold: Hold;
  readonly position: string;
  readonly attempt: number;
}

export interface JobBookOptions {
  readonly queue: Queue;
  readonly worker: Worker;
  readonly commands: Redis;
  readonly key: RedisKeys;
  readonly lockMs: number;
  /** With a shared rate limit a job is one recipient: BullMQ's limiter counts jobs. */
  readonly oneRecipientPerJob: boolean;
  /** A notification's meta, to make the jobs of one left without them. */
  readonly meta: (id: string) => Promise<Meta | null>;
}

/** @example const jobs = new JobBook({ queue, worker, commands, key, lockMs: 15_000, oneRecipientPerJob: false, meta }); */
export class JobBook {
  /** Each claimed delivery (by id), and the job it came with. */
  readonly held = new Map<string, Claim>();
  /** Deliveries claimed from a job beyond what the claim asked for, for the next claim. */
  readonly spare: ClaimedDelivery[] = [];
  /** Jobs the finishing moves took, for the next claim (see finishJob). */
  readonly fetched: Hold[] = [];
  readonly #options: JobBookOptions;
  readonly #recipientsPerJob: number;
  /** Jobs this instance holds, with their lock tokens; locks renewed while held. */
  readonly #holds = new Set<Hold>();
  /** Jobs being made behind an accepted notification's answer (see queueJobs); close() waits for them. */
  readonly #makingJobs = new Set<Promise<void>>();
  /** Settled jobs being moved out of the active list (see finishJob); close() waits for them. */
  readonly #finishing = new Set<Promise<Error | null>>();
  readonly #renew: NodeJS.Timeout;
  #lastExpansion = 0;
  #closing = false;

  constructor(options: JobBookOptions) {
    this.#options = options;
    this.#recipientsPerJob = options.oneRecipientPerJob ? 1 : RECIPIENTS_PER_JOB;
    this.#renew = setInterval(
      () => {
        for (const { job, token } of this.#holds) job.extendLock(token, options.lockMs).catch(() => undefined);
      },
      Math.floor(options.lockMs / 3),
    );
    this.#renew.unref();
  }

  /**
   * A notification's jobs, recipientsPerJob recipients each (ids made from the positions: adding one
   * again changes nothing), each with its fair place (delivery/fairness.ts): its class, and its
   * notification's start tag plus its index. Every job has a priority: BullMQ takes jobs without
   * one before any with one.
   */
  jobsOf(id: string, count: number, fair: FairStart) {
    const perJob = this.#recipientsPerJob;
    return Array.from({ length: Math.ceil(count / perJob) }, (_, index) => {
      const first = index * perJob;
      const last = Math.min(count, first + perJob) - 1;
      const priority = jobPriority(fair.deliveryClass, fair.startTag + index);
      if (last === first) return { ...this.oneRecipientJob(id, String(first), fair.deliveryClass), opts: { ...this.#jobOptions(`${id}.${first}`), priority } };
      return {
        name: 'deliver',
        data: { notificationId: id, position: String(first), last: String(last) } satisfies JobData,
        opts: { ...this.#jobOptions(`${id}.${first}-${last}`), priority },
      };
    });
  }

  /**
   * A job for one recipient (a retry, a wait, or a rate-limited queue's); its id is the delivery's
   * id. A retry or a wait is at the front of its class once due: it was waiting already.
   */
  oneRecipientJob(id: string, position: string, deliveryClass: DeliveryClass, delayMs = 0) {
    return {
      name: 'deliver',
      data: { notificationId: id, position } satisfies JobData,
      opts: { ...this.#jobOptions(deliveryIdOf(id, position)), priority: jobPriority(deliveryClass, 0), ...(delayMs > 0 ? { delay: delayMs } : {}) },
    };
  }

  #jobOptions(jobId: string) {
    return { jobId, removeOnComplete: true, removeOnFail: true };
  }

  /** Holds a job taken under `token`: its lock is renewed from now on. */
  holdOf(job: Job<JobData>, token: string): Hold {
    const hold: Hold = { job, token, open: new Set(), released: false };
    this.#holds.add(hold);
    return hold;
  }

  /** Stops holding a job: its lock is no longer renewed, and the deliveries claimed from it are no longer this instance's. */
  letGo(hold: Hold): void {
    this.#holds.delete(hold);
    for (const position of hold.open) {
      const deliveryId = deliveryIdOf(hold.job.data.notificationId, position);
      if (this.held.get(deliveryId)?.hold === hold) this.held.delete(deliveryId);
    }
    hold.open.clear();
  }

  /** Hands a held job back to the queue (best effort: if Redis is away, its lock runs out and the stalled check does it). */
  async giveBack(hold: Hold): Promise<void> {
    this.letGo(hold); // stop renewing its lock whatever happens next
    await hold.job.moveToWait(hold.token);
  }

  /**
   * Moves a job whose claimed deliveries are all done with out of the active list, without holding
   * up the worker; its lock is renewed until the move is done. A job with one handed back goes back
   * to the queue; a job of one recipient settled as retrying is delayed until its retry; any other
   * is completed, and its move takes the next due job in the same script (BullMQ's fetchNext, under
   * the same token and the same rate limit), kept for the next claim: one script a job less. When
   * the move fails (Redis away, the lock gone), the lock runs out, the stalled check hands the job on
   * and its next claim completes it (the records are final) or sends what is not. The promise never
   * rejects: it holds the move's error, or null, for release() to tell.
   */
  finishJob(hold: Hold, delayUntil?: number): Promise<Error | null> {
    const { job, token } = hold;
    const move = hold.released
      ? job.moveToWait(token)
      : delayUntil !== undefined
        ? job.moveToDelayed(delayUntil, token)
        : job.moveToCompleted('done', token, !this.#closing);
    const moving = move.then(
      (next) => {
        if (Array.isArray(next) && next[0]) this.#keepFetched(Job.fromJSON(this.#options.worker, next[0], next[1]) as Job<JobData>, token);
        return null;
      },
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    this.#finishing.add(moving);
    void moving.finally(() => {
      this.#finishing.delete(moving);
      this.#holds.delete(hold);
    });
    return moving;
  }

  /**
   * A claimed delivery is done with: settled (with the time of its retry, for a job of one),
   * handed back unsent, or no longer this instance's. Its job finishes once every delivery claimed
   * from it is done with; the promise is that move's.
   */
  closeClaim(deliveryId: string, entry: Claim, how: { released: true } | { retryAt?: number }): Promise<Error | null> | undefined {
    const { hold } = entry;
    if (this.held.get(deliveryId) === entry) this.held.delete(deliveryId);
    hold.open.delete(entry.position);
    if ('released' in how) hold.released = true;
    if (hold.open.size > 0 || !this.#holds.has(hold)) return undefined;
    return this.finishJob(hold, !ofSeveral(hold.job.data) && 'retryAt' in how ? how.retryAt : undefined);
  }

  /**
   * Hands claimed deliveries back unsent: each job goes back to the queue once all claimed from it
   * are done with. Rejects when a job could not go back (Redis away, its lock gone): its deliveries
   * are then not due at once, as the contract says, but once the lock runs out and a stalled check
   * hands the job on, and whoever stops a worker is told so rather than nothing.
   */
  async release(deliveryIds: readonly string[]): Promise<void> {
    const moves: (Promise<Error | null> | undefined)[] = [];
    for (const deliveryId of deliveryIds) {
      const entry = this.held.get(deliveryId);
      if (entry) moves.push(this.closeClaim(deliveryId, entry, { released: true }));
    }
    const failed = (await Promise.all(moves)).filter((error) => error instanceof Error);
    if (failed.length)
      throw new Error(
        `${failed.length} job(s) could not be given back to the queue (${failed[0]!.message}): their deliveries are due again once the job's lock runs out (within ${this.#options.lockMs} ms) and a stalled check hands it on`,
        { cause: failed[0] },
      );
  }

  /** The job a claimed delivery came with; a delivery not held here is stale. */
  heldEntry(deliveryId: string): Claim {
    const entry = this.held.get(deliveryId);
    if (!entry) throw new StaleDeliveryError(`delivery ${deliveryId} is not held by this instance`);
    return entry;
  }

  /**
   * A claimed delivery whose record was not where this instance left it: changed elsewhere, or
   * changed by this very call applied twice (ioredis sends a command again after a reconnect when
   * its answer was lost). Its job goes back to the queue once the others claimed from it are done
   * with, and whoever takes it looks at the record afresh: a delivery left `sending` is sent again,
   * a final one is left be. (Completing the job instead left such a delivery `sending` for good,
   * with no job to send it, after a Redis restart.) If the job is no longer this instance's, the
   * move fails and changes nothing.
   */
  abandon(deliveryId: string, entry: Claim): void {
    void this.closeClaim(deliveryId, entry, { released: true });
  }

  /** The next due job, held by this instance under a token of its own (and added to `taken`); undefined when none is due. */
  async takeJob(taken: Hold[]): Promise<Hold | undefined> {
    const token = randomUUID();
    const job = (await this.#options.worker.getNextJob(token, { block: false })) as Job<JobData> | undefined;
    if (!job) return undefined;
    const hold = this.holdOf(job, token);
    taken.push(hold);
    return hold;
  }

  /** Makes a job for one recipient, delayed by `delayMs` (a retry handed out of a job of several). */
  async queueOne(id: string, position: string, deliveryClass: DeliveryClass, delayMs: number): Promise<void> {
    await this.#options.queue.addBulk([this.oneRecipientJob(id, position, deliveryClass, delayMs)]);
  }

  /** How many jobs a claim of `recipients` takes at most. */
  jobsFor(recipients: number): number {
    return Math.ceil(recipients / this.#recipientsPerJob);
  }

  /**
   * Makes a stored notification's jobs, JOBS_PER_ADD at a time. Resolves once the first ones are
   * made, so that the worker woken by the answer finds work, while the rest are made behind it
   * (1600 jobs took 190 ms to add in one go here, when a job was one recipient). If making them fails, the notification stays
   * in the fan-out record and any instance's expansion makes the jobs.
   */
  queueJobs(id: string, count: number, fair: FairStart): Promise<void> {
    const { queue, commands, key } = this.#options;
    const jobs = this.jobsOf(id, count, fair);
    const first = queue.addBulk(jobs.slice(0, JOBS_PER_ADD));
    const all = first.then(async () => {
      for (let from = JOBS_PER_ADD; from < jobs.length; from += JOBS_PER_ADD) await queue.addBulk(jobs.slice(from, from + JOBS_PER_ADD));
      await commands.zrem(key.expand, id);
    });
    const making: Promise<void> = all.then(
      () => undefined,
      () => undefined, // left in the fan-out record; expandStranded makes the jobs
    );
    this.#makingJobs.add(making);
    void making.finally(() => this.#makingJobs.delete(making));
    return first.then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Creates the jobs of notifications stored but left without them (the accepting instance died,
   * or Redis went away, between storing and queueing). Idempotent: a job id that exists is kept,
   * and a job made again for a finished delivery is completed at its claim.
   */
  async expandStranded(now: number): Promise<void> {
    if (now - this.#lastExpansion < 1000) return;
    this.#lastExpansion = now;
    const { queue, commands, key } = this.#options;
    const ids = await commands.zrangebyscore(key.expand, '-inf', String(now - EXPAND_AFTER_MS), 'LIMIT', 0, 20);
    for (const id of ids) {
      const meta = await this.#options.meta(id);
      if (meta) await queue.addBulk(this.jobsOf(id, meta.count, fairStartOf(meta)));
      await commands.zrem(key.expand, id);
    }
  }

  /** Removes a notification's jobs that wait (erasure): what was not sent is never sent. Held ones are completed when they come back. */
  async removeJobs(id: string, count: number): Promise<void> {
    const ids = [
      ...this.jobsOf(id, count, { deliveryClass: 2, startTag: 0 }).map((job) => job.opts.jobId),
      ...Array.from({ length: count }, (_, position) => deliveryIdOf(id, String(position))),
    ];
    await Promise.all(ids.map((jobId) => this.#options.queue.remove(jobId).catch(() => 0)));
  }

  /** Hands back what is held and not in use, waits for jobs being made or moved, stops renewing locks. */
  async close(): Promise<void> {
    this.#closing = true; // finishing moves take no more jobs
    // Deliveries and jobs taken for a claim that will not come go back to the queue now, not when their lock runs out.
    await this.release(this.spare.splice(0).map((delivery) => delivery.deliveryId)).catch(() => undefined);
    await Promise.all([...this.#makingJobs, ...this.#finishing]);
    clearInterval(this.#renew);
    await Promise.all(this.fetched.splice(0).map((hold) => this.giveBack(hold).catch(() => undefined)));
  }

  /** A job taken by a finishing move: held (its lock renewed) until a claim takes it, or close gives it back. */
  #keepFetched(job: Job<JobData>, token: string): void {
    job.token = token;
    this.fetched.push(this.holdOf(job, token));
  }
}
