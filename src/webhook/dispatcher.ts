/**
 * Sends the outbox's webhook events to WEBHOOK_URL, signed per the Standard
 * Webhooks specification (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`, HMAC-SHA-256 under WEBHOOK_SECRET). At least once: an
 * event leaves the outbox only when the receiver answered 2xx; a failure is
 * retried with backoff, and a dispatcher that dies loses its lease, so the
 * same event (same `webhook-id`) goes again. Per recipient in order: the
 * outbox hands out a recipient's next event only after the previous one.
 * It runs beside the delivery worker and never holds mail back.
 */
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { nextRetryAt, type RetryPolicy } from '../delivery/retry-policy.ts';
import type { EventBatch, EventQueue } from '../outbox/events.ts';
import { type PollLoop, pollLoop } from '../runtime/poll-loop.ts';
import { WEBHOOK_CONSUMER, webhookPayload } from './event.ts';
import { createJsonPoster } from './json-poster.ts';

export interface WebhookDispatcherOptions {
  /** The outbox's event queue (WEBHOOK_CONSUMER's events). */
  readonly events: EventQueue;
  readonly url: string;
  /** `whsec_<base64>` */
  readonly secret: string;
  readonly logger: Logger;
  /** How long the receiver has to answer. Default 10 s; a claimed event's lease covers every round of its claim at that. */
  readonly timeoutMs?: number;
  readonly retry: RetryPolicy;
  /** Requests in flight at once (connections to the receiver). Default 16; a claim takes four times that. */
  readonly concurrency?: number;
  /** How often to look for due events. Default 500 ms. */
  readonly pollMs?: number;
  /** While this says so (the delivery worker is sending), webhooks give way to mail (poll-loop.ts). */
  readonly yieldWhile?: () => boolean;
}

export type WebhookDispatcher = PollLoop;

/** How often, at most, a receiver that keeps refusing is told of in the log. */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * The log of a receiver that does not take events: the first refusal as a
 * warning with its details, then one summary line a minute at most (how many
 * since, and the last), and one line when it takes events again. A receiver
 * down for an hour with thousands of events waiting wrote a line per try.
 */
function refusalLog(logger: Logger) {
  let lastLoggedAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  let failing = false;
  return {
    add(details: { webhookId: string; attempt: number; failure: string; retryAt: string }) {
      failing = true;
      since++;
      const now = Date.now();
      if (now - lastLoggedAt < REFUSAL_LOG_INTERVAL_MS) return;
      logger.warn({ ...details, refusedSinceLastLine: since }, 'webhooks not taken; they will be sent again (one line a minute while this lasts)');
      lastLoggedAt = now;
      since = 0;
    },
    recovered() {
      if (!failing) return;
      logger.info({ refusedSinceLastLine: since }, 'the webhook receiver takes events again');
      failing = false;
      since = 0;
      lastLoggedAt = Number.NEGATIVE_INFINITY;
    },
  };
}

/** How many rounds of `concurrency` requests one claim holds. */
const CLAIM_ROUNDS = 4;

/**
 * @example const dispatcher = createWebhookDispatcher({ events: outbox.events, url, secret, logger, retry: { initialDelayMs: 5000, maxDelayMs: 3_600_000 } }); dispatcher.start();
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { events, logger } = options;
  const signer = new Webhook(options.secret);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 16;
  // A claim takes several rounds of requests: fewer claims (each a write) per event. The lease
  // covers every round at its timeout, and a second, so that no event is sent twice while held.
  const claimSize = concurrency * CLAIM_ROUNDS;
  const leaseMs = timeoutMs * (CLAIM_ROUNDS + 1) + 1000;
  const poster = createJsonPoster(options.url, { timeoutMs, connections: concurrency });
  const refusals = refusalLog(logger);
  async function post(batch: EventBatch): Promise<void> {
    // One event a batch: the consumer takes a recipient's oldest.
    const event = batch.events[0]!;
    const payload = webhookPayload(event.fact);
    const sentAt = new Date();
    let failure: string | null = null;
    try {
      const status = await poster.post(
        {
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signer.sign(event.id, sentAt, payload),
        },
        payload,
      );
      if (status < 200 || status > 299) failure = `HTTP ${status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    try {
      if (failure === null) {
        refusals.recovered();
        await events.settle(batch, { done: true });
        return;
      }
      const retryAt = nextRetryAt(batch.attempt, Date.now(), options.retry);
      refusals.add({ webhookId: event.id, attempt: batch.attempt, failure, retryAt: new Date(retryAt).toISOString() });
      await events.settle(batch, { retryAt });
    } catch (error) {
      // The outbox is away: the lease runs out and the same event goes again.
      logger.error({ err: error, webhookId: event.id }, 'could not record a webhook outcome');
    }
  }

  const loop = pollLoop({
    // Mail first: while the worker sends, nothing for a second, then one round a second (poll-loop.ts); the rest catches up after the burst.
    claim: (yielding) => events.claim(WEBHOOK_CONSUMER.name, yielding ? concurrency : claimSize, Date.now(), leaseMs),
    handle: post,
    pollMs: options.pollMs ?? 500,
    onClaimError: (error) => logger.error({ err: error }, 'could not claim webhook events'),
    ...(options.yieldWhile ? { yieldWhile: options.yieldWhile } : {}),
  });
  return {
    start: loop.start,
    async stop() {
      await loop.stop();
      poster.close();
    },
  };
}
