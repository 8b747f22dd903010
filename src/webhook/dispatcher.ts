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
import type { Outbox, WebhookEvent } from '../outbox/outbox.ts';
import { pollLoop, type PollLoop } from '../delivery/poll-loop.ts';
import { nextAttemptAt, type RetryPolicy } from '../delivery/retry-policy.ts';

export interface WebhookDispatcherOptions {
  readonly outbox: Outbox;
  readonly url: string;
  /** `whsec_<base64>` */
  readonly secret: string;
  readonly logger: Logger;
  /** How long the receiver has to answer. Default 10 s; an event's lease is twice that plus a second. */
  readonly timeoutMs?: number;
  readonly retry: RetryPolicy;
  /** Requests in flight at once (a batch). Default 16. */
  readonly concurrency?: number;
  /** How often to look for due events. Default 500 ms. */
  readonly pollMs?: number;
}

export type WebhookDispatcher = PollLoop;

/** Retries never stop by age: an event waits for its receiver (the backoff caps the rate). */
const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

/**
 * @example const dispatcher = createWebhookDispatcher({ outbox, url, secret, logger, retry: { initialDelayMs: 5000, maxDelayMs: 3_600_000 } }); dispatcher.start();
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { outbox, logger } = options;
  const signer = new Webhook(options.secret);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const leaseMs = timeoutMs * 2 + 1000;
  async function post(event: WebhookEvent): Promise<void> {
    const sentAt = new Date();
    let failure: string | null = null;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signer.sign(event.id, sentAt, event.payload),
        },
        body: event.payload,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    try {
      if (failure === null) {
        await outbox.settleWebhook(event, { delivered: true });
        return;
      }
      const retryAt = nextAttemptAt(event.attempt, Date.now(), NO_DEADLINE, options.retry)!;
      logger.warn({ webhookId: event.id, attempt: event.attempt, failure, retryAt: new Date(retryAt).toISOString() }, 'webhook not taken; it will be sent again');
      await outbox.settleWebhook(event, { retryAt });
    } catch (error) {
      // The outbox is away: the lease runs out and the same event goes again.
      logger.error({ err: error, webhookId: event.id }, 'could not record a webhook outcome');
    }
  }

  return pollLoop({
    claim: () => outbox.claimWebhooks(options.concurrency ?? 16, Date.now(), leaseMs),
    handle: post,
    pollMs: options.pollMs ?? 500,
    onClaimError: (error) => logger.error({ err: error }, 'could not claim webhook events'),
  });
}
