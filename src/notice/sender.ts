/**
 * Tells the organizer of recipients their invitation did not reach
 * (NOTIFY_ORGANIZER=failures), the way Exchange sends an organizer a
 * non-delivery report, but in plain words: the outbox gathers a
 * notification's failures for a window (a minute by default), then this sender
 * renders one notice for them in the organizer's language and sends it over
 * the same relay. At least once, like everything the outbox holds: a notice
 * not taken by the relay is retried with backoff; a sender that dies loses its
 * lease and the notice goes again (with the same Message-ID).
 */
import type { Logger } from 'pino';
import { UNDELIVERED_STATUSES } from '../delivery/policy.ts';
import { nextRetryAt, type RetryPolicy } from '../delivery/retry-policy.ts';
import { composeFailureNotice } from '../message/notice.ts';
import type { Mailbox } from '../message/sender.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import type { EventBatch, EventConsumer, EventQueue, EventResult } from '../outbox/events.ts';
import type { DeliveryStore } from '../outbox/outbox.ts';
import type { FailedDelivery } from '../render/failure-reason.ts';
import type { Renderer } from '../render/renderer.ts';
import { type PollLoop, pollLoop } from '../runtime/poll-loop.ts';
import type { MailTransport } from '../transport/smtp.ts';

/** The notice sender's name among the outbox's consumers. */
export const NOTICE_CONSUMER = 'notice';

/**
 * The outbox's consumer for notices: a notification's failures, gathered for
 * `windowMs` after the first, all taken at once.
 *
 * @example openSqliteOutbox({ dataDir, consumers: [noticeConsumer(60_000)] })
 */
export function noticeConsumer(windowMs: number): EventConsumer {
  return { name: NOTICE_CONSUMER, hears: UNDELIVERED_STATUSES, keyBy: 'notification', take: 'all', delayMs: windowMs };
}

export interface NoticeSenderOptions {
  /** The outbox's event queue (noticeConsumer's events). */
  readonly events: EventQueue;
  /** Where the notification's request is read. */
  readonly outbox: Pick<DeliveryStore, 'body'>;
  readonly renderer: Pick<Renderer, 'renderFailureNotice'>;
  readonly transport: Pick<MailTransport, 'send'>;
  /** The notice's From. */
  readonly serviceMailbox: Mailbox;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  /** How often to look for due notices. Default 1 s. */
  readonly pollMs?: number;
  /** How long a claimed notice is this sender's before another may take it. Default 10 min (an SMTP reply may take that long). */
  readonly leaseMs?: number;
}

/**
 * @example const notices = createNoticeSender({ events: outbox.events, outbox, renderer, transport, serviceMailbox, logger, retry }); notices.start();
 */
export function createNoticeSender(options: NoticeSenderOptions): PollLoop {
  const { events, outbox, logger } = options;
  const leaseMs = options.leaseMs ?? 600_000;

  async function send(batch: EventBatch): Promise<void> {
    const notificationId = batch.key;
    const facts = batch.events.map((event) => event.fact);
    const about = { notificationId, attempt: batch.attempt, recipients: facts.map((f) => f.recipient) };
    let result: EventResult;
    try {
      const body = await outbox.body(notificationId);
      // Erased, or past RETENTION: there is no one left to tell of.
      if (body === null) return await settle(batch, { done: true }, about);
      const request = parseNotificationRequest(JSON.parse(body));
      const organizer = request.organizer.email.toLowerCase();
      // Mail to the organizer that failed (a reply's, a copy's) is not told to that same address.
      const failures: FailedDelivery[] = facts
        .filter((f) => f.status !== 'delayed' && UNDELIVERED_STATUSES.has(f.status) && f.recipient.toLowerCase() !== organizer)
        .map((f) => ({ email: f.recipient, status: f.status as FailedDelivery['status'], lastReply: f.lastReply, report: f.report }));
      if (failures.length === 0) return await settle(batch, { done: true }, about);
      const notice = options.renderer.renderFailureNotice(request, failures);
      const message = composeFailureNotice(
        request,
        notice,
        { notificationId, through: batch.through, messageIds: facts.map((f) => f.messageId) },
        {
          serviceMailbox: options.serviceMailbox,
          date: new Date(),
        },
      );
      const sent = await options.transport.send(message);
      if (sent.verdict === 'transient') {
        result = { retryAt: nextRetryAt(batch.attempt, Date.now(), options.retry) };
        logger.warn(
          { ...about, reply: sent.reply, retryAt: new Date(result.retryAt).toISOString() },
          "the organizer's notice was not taken; it will be sent again",
        );
      } else {
        result = { done: true };
        // `unknown`: the relay may have it; a second copy would not tell the organizer more.
        if (sent.verdict === 'accepted') logger.info({ ...about, messageId: message.messageId }, 'the organizer was told of undelivered recipients');
        else logger.warn({ ...about, reply: sent.reply, verdict: sent.verdict }, "the organizer's notice could not be delivered; not sent again");
      }
    } catch (error) {
      // A notice that cannot be rendered now (a template broken by a deploy) is tried again later.
      result = { retryAt: nextRetryAt(batch.attempt, Date.now(), options.retry) };
      logger.error({ ...about, err: error }, "the organizer's notice could not be made; it will be tried again");
    }
    await settle(batch, result, about);
  }

  async function settle(batch: EventBatch, result: EventResult, about: object): Promise<void> {
    try {
      await events.settle(batch, result);
    } catch (error) {
      // The outbox is away: the lease runs out and the notice goes again.
      logger.error({ ...about, err: error }, "could not record the organizer's notice");
    }
  }

  return pollLoop({
    claim: () => events.claim(NOTICE_CONSUMER, 4, Date.now(), leaseMs),
    handle: send,
    pollMs: options.pollMs ?? 1000,
    onClaimError: (error) => logger.error({ err: error }, "could not claim the organizer's notices"),
  });
}
