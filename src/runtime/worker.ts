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

import { LRUCache } from 'lru-cache';
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import { decide, type Outcome, type OutcomePolicy } from '../delivery/policy.ts';
import { composeMessage, type MessageOptions } from '../message/compose.ts';
import { messageBuffers } from '../message/message-buffers.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import { MAX_PEOPLE, type NotificationRequest } from '../model/schema.ts';
import { type ClaimedDelivery, type Outbox, StaleDeliveryError } from '../outbox/outbox.ts';
import type { Renderer } from '../render/renderer.ts';
import { localFailure, type SendResult } from '../transport/delivery-error.ts';
import type { MailTransport } from '../transport/smtp.ts';
import type { Metrics } from './metrics.ts';

export interface WorkerOptions {
  readonly outbox: Outbox;
  readonly renderer: Renderer;
  readonly transport: MailTransport;
  readonly message: Omit<MessageOptions, 'date'>;
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
  /**
   * Something was accepted: look now rather than at the next poll. Given the
   * notification's id and its request as parsed when it was accepted, the
   * worker renders from that request rather than parsing the stored body again
   * (the same text: 26 ms of CPU for 1600 recipients).
   */
  kick(accepted?: AcceptedRequest): void;
  /** Stops claiming, waits for messages on the wire, hands back what was claimed but not sent. */
  stop(): Promise<void>;
  /** Whether it has messages on the wire or claimed to send: what side work (webhooks) gives way to. */
  busy(): boolean;
}

/** A notification just stored, with the request its body parsed to. */
export interface AcceptedRequest {
  readonly notificationId: string;
  readonly request: NotificationRequest;
}

interface PreparedJob {
  readonly delivery: ClaimedDelivery;
  readonly request: NotificationRequest | null;
  readonly email: ReturnType<Renderer['render']>[number] | null;
  readonly problem: SendResult | null;
}

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
 * const worker = createWorker({ outbox, renderer, transport, message, retry, concurrency: 5, logger, metrics });
 * worker.start(); // … worker.kick({ notificationId, request }) after each accepted notification; await worker.stop() on SIGTERM
 */
export function createWorker(options: WorkerOptions): Worker {
  const { outbox, renderer, transport, logger, metrics } = options;
  const batchSize = options.batchSize ?? claimBatchSize(options.concurrency, options.sendRatePerSecond);
  const pollMs = options.pollMs ?? 250;
  /**
   * Parsed requests, kept while their deliveries are claimed. Bounded by the people they hold (one
   * of the largest a request may be): kept by count, every fan-out's 3.5 MB stayed until two hundred
   * came, and ten back-to-back fan-outs grew the heap after each full collection from 26 to 60 MB.
   */
  const requests = new LRUCache<string, NotificationRequest>({
    max: 200,
    maxSize: 2 * MAX_PEOPLE + 1,
    sizeCalculation: (request) => 1 + request.attendees.length + (request.recipients?.length ?? 0),
  });
  /** Memory of sent messages, written over by the next ones: a message per connection, and as many again. */
  const buffers = messageBuffers(2 * options.concurrency);
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

  function kick(accepted?: AcceptedRequest): void {
    if (accepted) requests.set(accepted.notificationId, accepted.request);
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

  function requestOf(delivery: ClaimedDelivery): NotificationRequest {
    let request = requests.get(delivery.notificationId);
    if (!request) {
      request = parseNotificationRequest(JSON.parse(delivery.body));
      requests.set(delivery.notificationId, request);
    }
    return request;
  }

  /** Renders a claimed batch, one render per notification (groups share the work). */
  function prepare(batch: readonly ClaimedDelivery[]): PreparedJob[] {
    const byNotification = new Map<string, ClaimedDelivery[]>();
    for (const delivery of batch) {
      const list = byNotification.get(delivery.notificationId) ?? [];
      list.push(delivery);
      byNotification.set(delivery.notificationId, list);
    }
    const jobs: PreparedJob[] = [];
    for (const deliveries of byNotification.values()) {
      const first = deliveries[0]!;
      try {
        const request = requestOf(first);
        const emails = renderer.render(request, { stamp: DateTime.fromMillis(first.acceptedAt, { zone: 'utc' }), only: deliveries.map((d) => d.recipient) });
        const byAddress = new Map(emails.map((e) => [e.to.email.toLowerCase(), e]));
        for (const delivery of deliveries) {
          const email = byAddress.get(delivery.recipient.toLowerCase()) ?? null;
          jobs.push({ delivery, request, email, problem: email ? null : localFailure('ERENDER', 'permanent', 'the recipient is not in the request') });
        }
      } catch (error) {
        // A stored request the contract no longer accepts will never render: permanent.
        // A template or locale broken at run time is fixed by a deploy: worth retrying until the deadline.
        const invalid = error instanceof InvalidRequestError;
        logger.error({ err: error, notificationId: first.notificationId }, invalid ? 'stored request is no longer valid' : 'rendering failed');
        const problem = invalid ? localFailure('EINVALID', 'permanent', error.message) : localFailure('ERENDER', 'transient', (error as Error).message);
        for (const delivery of deliveries) jobs.push({ delivery, request: null, email: null, problem });
      }
    }
    return jobs;
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
    if (job.problem || !job.email || !job.request) {
      result = job.problem!;
    } else {
      try {
        const verp = options.bounceAddressOf?.(delivery);
        const message = await composeMessage(job.request, job.email, {
          ...options.message,
          date: new Date(delivery.acceptedAt),
          ...(verp ? { bounceAddress: verp.address, envelopeId: verp.token } : {}),
          buffers,
        });
        messageId = message.messageId;
        result = await transport.send(message);
        metrics.addRelayReply(result.reply.responseCode);
      } catch (error) {
        // Composing failed (a fault of ours, fixed by a deploy): nothing reached the relay.
        logger.error({ err: error, notificationId: delivery.notificationId, recipient: delivery.recipient }, 'composing the message failed');
        result = localFailure('ECOMPOSE', 'transient', (error as Error).message);
      }
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
      for (const job of prepare(batch)) {
        await waitForSlot();
        if (!running || recordingBroken) break; // nothing more leaves while outcomes cannot be recorded
        launch(job);
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
