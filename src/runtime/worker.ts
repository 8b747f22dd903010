/**
 * The delivery worker: claims due deliveries from the outbox, renders them
 * (at send time, so a fixed template or locale applies to retries), sends one
 * message per recipient and records each outcome as soon as it is known (the
 * outbox may write the outcomes of one event-loop turn together; a connection
 * takes its next message only once its outcome is written), so that after a
 * crash at most the messages on the wire at that moment go out twice (with
 * the same Message-ID).
 *
 * When an outcome cannot be recorded (a full disk, Redis gone) the worker
 * launches nothing more: it hands back what it claimed and keeps the outcomes
 * it holds until the outbox takes them. So a crash at any point resends only
 * what was on the wire, at most `concurrency` messages per instance.
 */

import type { Logger } from 'pino';
import { decide, type Outcome, type OutcomePolicy } from '../delivery/policy.ts';
import { type ClaimedDelivery, type Outbox, StaleDeliveryError } from '../outbox/outbox.ts';
import type { Preparer, Ready } from '../prepare/preparer.ts';
import { localFailure, type SendResult } from '../transport/delivery-error.ts';
import type { MailTransport } from '../transport/smtp.ts';
import type { Metrics } from './metrics.ts';

export interface WorkerOptions {
  readonly outbox: Outbox;
  /** Renders and composes what is claimed: on rendering threads, or on this one (prepare/preparer.ts). */
  readonly preparer: Preparer;
  readonly transport: MailTransport;
  readonly retry: OutcomePolicy;
  /** Messages on the wire at once: the SMTP pool size. */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Deliveries claimed at a time. Default claimBatchSize(concurrency, sendRatePerSecond). */
  readonly batchSize?: number;
  /** SEND_RATE_LIMIT, if set: claims stay within what the rate sends in a tenth of a second. */
  readonly sendRatePerSecond?: number;
  /** How often to look for due retries when nothing else happens. Default 250 ms. */
  readonly pollMs?: number;
  /** How long stop() waits for messages on the wire. Default 15 s. */
  readonly drainMs?: number;
  /** The envelope sender (VERP) of a delivery and its token, the DSN envelope id, when bounces are taken in. */
  readonly bounceAddressOf?: (delivery: ClaimedDelivery) => { readonly address: string; readonly token: string };
}

export interface Worker {
  start(): void;
  /** Something was accepted: look now rather than at the next poll. */
  kick(): void;
  /** Stops claiming, waits for messages on the wire, hands back what was claimed but not sent. */
  stop(): Promise<void>;
  /** Whether it has messages on the wire or claimed to send: what side work (webhooks) gives way to. */
  busy(): boolean;
}

interface PreparedJob {
  readonly delivery: ClaimedDelivery;
  readonly ready: Ready;
}

/**
 * Deliveries prepared together (of one notification): small enough that the first messages of a
 * claim reach the wire soon and the threads share a claim's work, large enough that handing a task
 * to a thread is a small part of it. What deliveries of a notification share is made once per
 * thread whatever the size (RequestRendering).
 */
const PREPARE_TASK_SIZE = 10;

/** What the log says of a delivery that could not be prepared. */
const PROBLEM_LOG = {
  EINVALID: 'stored request is no longer valid',
  ERENDER: 'rendering failed',
  ECOMPOSE: 'composing the message failed',
} as const;

/** Deliveries a claim takes when the relay's rate does not bound it: a commit is most of a claim's cost. */
const UNLIMITED_CLAIM = 100;

/**
 * How many deliveries the worker claims at a time. Whatever it claimed goes out before anything
 * claimed later, so this is how long a cancellation accepted now waits behind what was claimed
 * (delivery/fairness.ts decides only the order of what is not yet claimed): with SEND_RATE_LIMIT,
 * a tenth of a second of the rate (the pool at least); without, a hundred (about 70 ms here).
 *
 * @example claimBatchSize(10, 200) // 20
 * @example claimBatchSize(10) // 100
 */
export function claimBatchSize(concurrency: number, sendRatePerSecond?: number): number {
  if (!sendRatePerSecond) return UNLIMITED_CLAIM;
  return Math.min(UNLIMITED_CLAIM, Math.max(concurrency, Math.ceil(sendRatePerSecond / 10)));
}

/**
 * @example
 * const worker = createWorker({ outbox, preparer, transport, retry, concurrency: 5, logger, metrics });
 * worker.start(); // … worker.kick() after each accepted notification; await worker.stop() on SIGTERM
 */
export function createWorker(options: WorkerOptions): Worker {
  const { outbox, preparer, transport, logger, metrics } = options;
  const batchSize = options.batchSize ?? claimBatchSize(options.concurrency, options.sendRatePerSecond);
  const pollMs = options.pollMs ?? 250;
  const waiting = new Set<string>(); // claimed, not yet on the wire
  /** Each delivery from its start until its outcome is recorded. */
  const onTheWire = new Set<Promise<void>>();
  /**
   * Connections in use: a delivery gives its connection to the next one as soon as its outcome is
   * known, so that recording the outcome and marking the next message `sending` share a write
   * (write-batch.ts). The next message leaves only once that write is stored: at any moment no
   * more messages than connections are on the relay's side and not yet recorded (the crash promise).
   */
  let connectionsInUse = 0;
  let running = false;
  let loopDone: Promise<void> = Promise.resolve();
  let wake: (() => void) | null = null;
  let slotFreed: (() => void) | null = null;

  function kick(): void {
    wake?.();
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });
  }

  /** A claimed batch in tasks of one notification each, at most PREPARE_TASK_SIZE deliveries, in the order claimed. */
  function tasksOf(batch: readonly ClaimedDelivery[]): ClaimedDelivery[][] {
    const byNotification = new Map<string, ClaimedDelivery[]>();
    for (const delivery of batch) {
      const list = byNotification.get(delivery.notificationId) ?? [];
      list.push(delivery);
      byNotification.set(delivery.notificationId, list);
    }
    const tasks: ClaimedDelivery[][] = [];
    for (const deliveries of byNotification.values())
      for (let i = 0; i < deliveries.length; i += PREPARE_TASK_SIZE) tasks.push(deliveries.slice(i, i + PREPARE_TASK_SIZE));
    return tasks;
  }

  /** Renders and composes one task's deliveries; a failure of the thread itself is each delivery's (transient). */
  async function prepare(deliveries: readonly ClaimedDelivery[]): Promise<PreparedJob[]> {
    const first = deliveries[0]!;
    let ready: readonly Ready[];
    try {
      ready = await preparer.prepare({
        notificationId: first.notificationId,
        body: first.body,
        acceptedAt: first.acceptedAt,
        deliveries: deliveries.map((delivery) => {
          const verp = options.bounceAddressOf?.(delivery);
          return verp ? { recipient: delivery.recipient, bounceAddress: verp.address, envelopeId: verp.token } : { recipient: delivery.recipient };
        }),
      });
    } catch (error) {
      ready = deliveries.map(
        () => ({ kind: 'problem', code: 'ERENDER', permanent: false, message: (error as Error).message, stack: (error as Error).stack }) as const,
      );
    }
    const problem = ready.find((r) => r.kind === 'problem');
    if (problem?.kind === 'problem')
      logger.error(
        { err: { message: problem.message, stack: problem.stack, code: problem.code }, notificationId: first.notificationId },
        PROBLEM_LOG[problem.code],
      );
    return deliveries.map((delivery, i) => ({ delivery, ready: ready[i]! }));
  }

  /** Claimed, sent, but the outcome not yet taken by the outbox: kept until it is. */
  const unrecorded = new Map<string, { delivery: ClaimedDelivery; outcome: Outcome }>();
  /** Claimed and not sent because recording broke: handed back once the outbox answers. */
  const unsent = new Set<string>();
  let recordingBroken = false;

  function cannotRecord(error: unknown, delivery: ClaimedDelivery): void {
    if (!recordingBroken)
      logger.error(
        { err: error, notificationId: delivery.notificationId, recipient: delivery.recipient },
        'cannot record in the outbox: sending stops until it can',
      );
    recordingBroken = true;
  }

  function report(delivery: ClaimedDelivery, outcome: Outcome): void {
    metrics.add(outcome.kind);
    if (outcome.kind !== 'retrying') metrics.observeFinal(outcome.kind, (outcome.at - delivery.acceptedAt) / 1000);
    const about = {
      notificationId: delivery.notificationId,
      recipient: delivery.recipient,
      attempt: delivery.attempt,
      status: outcome.kind,
      messageId: outcome.messageId,
      reply: outcome.reply,
    };
    switch (outcome.kind) {
      case 'sent':
        logger.info(about, 'delivered');
        break;
      case 'failed':
        logger.warn(about, 'delivery failed permanently');
        break;
      case 'expired':
        logger.warn(about, 'delivery expired: transient failures past the deadline');
        break;
      case 'unknown':
        logger.warn(about, 'the relay did not answer the end of DATA again: it may have the message; not sent again');
        break;
      case 'retrying':
        logger.info(
          { ...about, nextAttemptAt: new Date(outcome.nextAttemptAt).toISOString(), unconfirmed: outcome.unconfirmed },
          outcome.unconfirmed ? 'the relay did not answer the end of DATA: resent once, later' : 'delivery will be retried',
        );
        break;
    }
  }

  async function deliver(job: PreparedJob, freeConnection: () => void): Promise<void> {
    const { delivery } = job;
    try {
      await outbox.begin(delivery.deliveryId, Date.now()); // `sending`: on the wire from here
    } catch (error) {
      if (job.ready.kind === 'message') job.ready.message.release?.(); // not sent: nobody reads it
      if (error instanceof StaleDeliveryError)
        return logger.warn(
          { err: error, notificationId: delivery.notificationId, recipient: delivery.recipient },
          'a claimed delivery moved on elsewhere; not sent',
        );
      unsent.add(delivery.deliveryId);
      return cannotRecord(error, delivery);
    }
    let messageId: string | null = null;
    let result: SendResult;
    if (job.ready.kind === 'problem') {
      result = localFailure(job.ready.code, job.ready.permanent ? 'permanent' : 'transient', job.ready.message);
    } else {
      messageId = job.ready.message.messageId;
      result = await transport.send(job.ready.message);
      metrics.addRelayReply(result.reply.responseCode);
    }
    const outcome = decide(delivery, result, messageId, Date.now(), options.retry);
    const recorded = record(delivery, outcome);
    freeConnection();
    await recorded;
  }

  async function record(delivery: ClaimedDelivery, outcome: Outcome): Promise<void> {
    try {
      await outbox.settle(delivery.deliveryId, outcome);
    } catch (error) {
      if (error instanceof StaleDeliveryError) {
        unrecorded.delete(delivery.deliveryId); // retrying will not change it
        return logger.warn(
          { err: error, notificationId: delivery.notificationId, recipient: delivery.recipient, outcome: outcome.kind },
          'an outcome could not be recorded: the delivery moved on elsewhere',
        );
      }
      unrecorded.set(delivery.deliveryId, { delivery, outcome });
      return cannotRecord(error, delivery);
    }
    unrecorded.delete(delivery.deliveryId);
    report(delivery, outcome);
  }

  /**
   * After recording broke: waits for what is on the wire, then records the
   * outcomes held and hands back what was claimed but not sent, retrying with
   * backoff until the outbox takes them (or the worker stops).
   */
  async function recover(): Promise<void> {
    await Promise.all([...onTheWire]);
    for (const id of waiting) unsent.add(id);
    waiting.clear();
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        for (const { delivery, outcome } of [...unrecorded.values()]) {
          await record(delivery, outcome);
          if (unrecorded.has(delivery.deliveryId)) throw new Error('the outbox still refuses');
        }
        if (unsent.size) await outbox.release([...unsent]);
        unsent.clear();
        recordingBroken = false;
        logger.info('the outbox records again: sending resumes');
        return;
      } catch {
        if (!running) return;
        await sleep(delay);
      }
    }
  }

  async function waitForSlot(): Promise<void> {
    while (connectionsInUse >= options.concurrency) {
      await new Promise<void>((resolve) => {
        slotFreed = resolve;
      });
    }
  }

  function launch(job: PreparedJob): void {
    waiting.delete(job.delivery.deliveryId);
    connectionsInUse++;
    let inUse = true;
    const freeConnection = () => {
      if (!inUse) return;
      inUse = false;
      connectionsInUse--;
      const freed = slotFreed;
      slotFreed = null;
      freed?.();
    };
    const sending = deliver(job, freeConnection)
      .catch((error: unknown) => {
        // deliver() reports its own failures; anything else is a bug, logged, and the delivery is resent after a restart.
        logger.error({ err: error, notificationId: job.delivery.notificationId, recipient: job.delivery.recipient }, 'delivering failed unexpectedly');
      })
      .finally(() => {
        onTheWire.delete(sending);
        freeConnection(); // a delivery that ended before its outcome (not sent, or a bug)
      });
    onTheWire.add(sending);
  }

  async function loop(): Promise<void> {
    while (running) {
      if (recordingBroken) {
        await recover(); // before claiming anything more
        continue;
      }
      let batch: ClaimedDelivery[];
      try {
        batch = await outbox.claim(batchSize, Date.now());
      } catch (error) {
        logger.error({ err: error }, 'could not claim deliveries');
        await sleep(1000);
        continue;
      }
      if (batch.length === 0) {
        await sleep(pollMs);
        continue;
      }
      for (const delivery of batch) waiting.add(delivery.deliveryId);
      // Every thread busy with a task and one more waiting, ahead of the wire; the rest asked as those are taken.
      const tasks = tasksOf(batch);
      const answers = tasks.slice(0, preparer.capacity).map(prepare);
      launching: for (let k = 0; k < tasks.length; k++) {
        const jobs = await answers[k]!;
        if (k + preparer.capacity < tasks.length) answers.push(prepare(tasks[k + preparer.capacity]!));
        for (const job of jobs) {
          await waitForSlot();
          if (!running || recordingBroken) break launching; // nothing more leaves while outcomes cannot be recorded
          launch(job);
        }
      }
      // Claim the next batch while the last messages of this one are on the wire.
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loopDone = loop();
    },
    kick,
    async stop() {
      running = false;
      kick();
      const freed = slotFreed;
      slotFreed = null;
      freed?.();
      await loopDone;
      const drained = Promise.all([...onTheWire]);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), options.drainMs ?? 15_000).unref());
      if ((await Promise.race([drained.then(() => 'drained' as const), timeout])) === 'timeout') {
        logger.warn({ onTheWire: onTheWire.size }, 'stopping with messages still on the wire; they will be sent again');
      }
      // Last chance for what recording could not take; what stays `sending` is resent after a restart.
      for (const { delivery, outcome } of [...unrecorded.values()]) await record(delivery, outcome);
      const back = [...waiting, ...unsent];
      if (back.length)
        await outbox
          .release(back)
          .catch((error: unknown) =>
            logger.error(
              { err: error },
              'could not hand back claimed deliveries; they are due again once their claim runs out (SQLite: at the next start; Redis: when the job lock expires)',
            ),
          );
      waiting.clear();
      unsent.clear();
    },
    busy: () => onTheWire.size > 0 || waiting.size > 0,
  };
}
