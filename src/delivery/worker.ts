/**
 * The delivery worker: claims due deliveries from the outbox, renders them
 * (at send time, so a fixed template or locale applies to retries), sends one
 * message per recipient and records each outcome as soon as it is known, so
 * that after a crash at most the messages on the wire at that moment go out
 * twice (with the same Message-ID).
 */
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import { composeMessage, type MessageOptions } from '../message/compose.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { ClaimedDelivery, LastReply, Outbox } from '../outbox/outbox.ts';
import type { Renderer } from '../render/renderer.ts';
import type { DeliveryFailure } from '../transport/delivery-error.ts';
import type { MailTransport } from '../transport/smtp.ts';
import type { Metrics } from './metrics.ts';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.ts';

export interface WorkerOptions {
  readonly outbox: Outbox;
  readonly renderer: Renderer;
  readonly transport: MailTransport;
  readonly message: Omit<MessageOptions, 'date'>;
  readonly retry: RetryPolicy;
  /** Messages on the wire at once: the SMTP pool size. */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Deliveries claimed at a time. Default 100. */
  readonly batchSize?: number;
  /** How often to look for due retries when nothing else happens. Default 250 ms. */
  readonly pollMs?: number;
  /** How long stop() waits for messages on the wire. Default 15 s. */
  readonly drainMs?: number;
  /** Messages per second this worker starts at most (SEND_RATE_LIMIT for a single instance). */
  readonly sendRatePerSecond?: number;
}

export interface Worker {
  start(): void;
  /** Something was accepted: look now rather than at the next poll. */
  kick(): void;
  /** Stops claiming, waits for messages on the wire, hands back what was claimed but not sent. */
  stop(): Promise<void>;
}

interface PreparedJob {
  readonly delivery: ClaimedDelivery;
  readonly request: NotificationRequest | null;
  readonly email: ReturnType<Renderer['render']>[number] | null;
  readonly problem: DeliveryFailure | null;
}

/**
 * @example
 * const worker = createWorker({ outbox, renderer, transport, message, retry, concurrency: 5, logger, metrics });
 * worker.start(); // … worker.kick() after each accepted notification; await worker.stop() on SIGTERM
 */
export function createWorker(options: WorkerOptions): Worker {
  const { outbox, renderer, transport, logger, metrics } = options;
  const batchSize = options.batchSize ?? 100;
  const pollMs = options.pollMs ?? 250;
  const requests = new Map<string, NotificationRequest>();
  const waiting = new Set<string>(); // claimed, not yet on the wire
  const onTheWire = new Set<Promise<void>>();
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

  function requestOf(delivery: ClaimedDelivery): NotificationRequest {
    let request = requests.get(delivery.notificationId);
    if (!request) {
      request = parseNotificationRequest(JSON.parse(delivery.body));
      if (requests.size > 200) requests.delete(requests.keys().next().value!);
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

  async function deliver(job: PreparedJob): Promise<void> {
    const { delivery } = job;
    const about = { notificationId: delivery.notificationId, recipient: delivery.recipient, attempt: delivery.attempt };
    let messageId: string | null = null;
    let outcome;
    if (job.problem || !job.email || !job.request) {
      outcome = job.problem!;
    } else {
      const message = await composeMessage(job.request, job.email, { ...options.message, date: new Date(delivery.acceptedAt) });
      messageId = message.messageId;
      outcome = await transport.send(message);
    }
    const at = Date.now();
    if (outcome.status === 'sent') {
      await outbox.markSent(delivery.deliveryId, { messageId: messageId!, response: outcome.response, at });
      metrics.add('sent');
      logger.info({ ...about, status: 'sent', messageId, response: outcome.response }, 'delivered');
      return;
    }
    const reply: LastReply = { code: outcome.code, responseCode: outcome.responseCode, response: outcome.response, message: outcome.message };
    if (outcome.kind === 'permanent') {
      await outbox.markFinalFailure(delivery.deliveryId, { status: 'failed', messageId, reply, at });
      metrics.add('failed');
      logger.warn({ ...about, status: 'failed', messageId, reply }, 'delivery failed permanently');
      return;
    }
    const next = nextAttemptAt(delivery.attempt, at, delivery.deadlineAt, options.retry);
    if (next === null) {
      await outbox.markFinalFailure(delivery.deliveryId, { status: 'expired', messageId, reply, at });
      metrics.add('expired');
      logger.warn({ ...about, status: 'expired', messageId, reply }, 'delivery expired: transient failures past the deadline');
      return;
    }
    await outbox.markRetrying(delivery.deliveryId, { messageId, reply, nextAttemptAt: next, at });
    metrics.add('retrying');
    logger.info({ ...about, status: 'retrying', messageId, reply, nextAttemptAt: new Date(next).toISOString() }, 'delivery will be retried');
  }

  // Start times of the last second's messages, for the per-process rate limit.
  const started: number[] = [];
  async function waitForRate(): Promise<void> {
    const limit = options.sendRatePerSecond;
    if (!limit) return;
    for (;;) {
      const now = Date.now();
      while (started.length && started[0]! <= now - 1000) started.shift();
      if (started.length < limit) {
        started.push(now);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, started[0]! + 1000 - now));
    }
  }

  async function waitForSlot(): Promise<void> {
    while (onTheWire.size >= options.concurrency) {
      await new Promise<void>((resolve) => {
        slotFreed = resolve;
      });
    }
  }

  function launch(job: PreparedJob): void {
    waiting.delete(job.delivery.deliveryId);
    const sending = deliver(job)
      .catch((error: unknown) => {
        // Recording failed (outbox down): the delivery stays `sending` and is taken again after its lease.
        logger.error({ err: error, notificationId: job.delivery.notificationId, recipient: job.delivery.recipient }, 'could not record a delivery outcome');
      })
      .finally(() => {
        onTheWire.delete(sending);
        const freed = slotFreed;
        slotFreed = null;
        freed?.();
      });
    onTheWire.add(sending);
  }

  async function loop(): Promise<void> {
    while (running) {
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
        await waitForRate();
        if (!running) break;
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
      if (waiting.size) await outbox.release([...waiting]);
      waiting.clear();
    },
  };
}

function localFailure(code: string, kind: 'transient' | 'permanent', message: string): DeliveryFailure {
  return { status: 'failed', kind, code, responseCode: null, response: null, command: null, message };
}
