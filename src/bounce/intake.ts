/**
 * What happens to a bounce, however it arrives (the SMTP listener, or
 * `POST /v1/bounces`): read it (in the bounce reader's thread, within its
 * budget), find the delivery its VERP address or envelope id names, and apply
 * the report. A bounce whose address does not verify, an auto-reply, a
 * message that is no bounce or cannot be read in time changes nothing and is
 * logged. Nothing is ever sent in answer to a bounce (RFC 3834 §2).
 */
import type { Logger } from 'pino';
import type { DeliveryRef, Outbox } from '../outbox/outbox.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { type BounceReader, createBounceReader } from './reader.ts';
import { deliveryOfBounceAddress, deliveryOfBounceToken, type VerpOptions } from './verp.ts';

export interface BounceIntakeOptions {
  readonly outbox: Outbox;
  readonly verp: VerpOptions;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Where messages are read. Default a reader of its own (reader.ts), closed with the intake. */
  readonly reader?: BounceReader;
}

export interface IntakeResult {
  /** `bounced` or `noted` (a delay) when a delivery changed; else `ignored`, with why. */
  readonly outcome: 'bounced' | 'noted' | 'ignored';
  readonly reason?: 'auto-reply' | 'not-a-bounce' | 'unreadable' | 'unverified' | 'no-failure-or-delay' | 'no-such-delivery' | 'nothing-to-change';
  readonly delivery?: DeliveryRef;
}

export interface BounceIntake {
  /**
   * @param envelopeRecipients the RCPT TO addresses it came to, when known (the SMTP listener knows them).
   * @throws when the outbox cannot record, or the reader has too many messages waiting (the listener answers 451, so the sending MTA tries again).
   */
  take(raw: Buffer, envelopeRecipients?: readonly string[]): Promise<IntakeResult>;
  /** Stops the reader's thread. */
  close(): Promise<void>;
}

/**
 * @example const intake = createBounceIntake({ outbox, verp, logger, metrics }); await intake.take(raw, ['bounces+…@mail.example.com'])
 */
export function createBounceIntake(options: BounceIntakeOptions): BounceIntake {
  const { outbox, verp, logger, metrics } = options;
  const reader = options.reader ?? createBounceReader();
  async function take(raw: Buffer, envelopeRecipients: readonly string[]): Promise<IntakeResult> {
    const bounce = await reader.read(raw);
    if (bounce.kind === 'unreadable') {
      logger.warn({ reason: bounce.reason, bytes: raw.length }, 'a message to the bounce address could not be read: ignored');
      return { outcome: 'ignored', reason: 'unreadable' };
    }
    if (bounce.kind === 'auto-reply') {
      logger.info({ reason: bounce.reason }, 'an auto-reply came to the bounce address: ignored');
      return { outcome: 'ignored', reason: 'auto-reply' };
    }
    if (bounce.kind === 'not-a-bounce') {
      logger.info('a message that is no bounce came to the bounce address: ignored');
      return { outcome: 'ignored', reason: 'not-a-bounce' };
    }
    const candidates = [...envelopeRecipients, ...bounce.addressedTo];
    const delivery =
      candidates.map((address) => deliveryOfBounceAddress(address, verp)).find((found) => found !== null) ??
      (bounce.envelopeId ? deliveryOfBounceToken(bounce.envelopeId, verp) : null);
    if (!delivery) {
      logger.warn({ addressedTo: candidates.slice(0, 5) }, 'a bounce names no delivery of ours (forged, or mangled): ignored');
      return { outcome: 'ignored', reason: 'unverified' };
    }
    const recipient = bounce.recipients.find((r) => r.action === 'failed' || r.action === 'delayed');
    if (!recipient) return { outcome: 'ignored', reason: 'no-failure-or-delay', delivery };
    const result = await outbox.report(delivery, {
      action: recipient.action as 'failed' | 'delayed',
      status: recipient.status,
      diagnostic: recipient.diagnostic,
      remoteMta: recipient.remoteMta,
      reportingMta: bounce.reportingMta,
      at: Date.now(),
    });
    const about = { notificationId: delivery.notificationId, position: delivery.position, status: recipient.status, diagnostic: recipient.diagnostic };
    if (result === 'no-such-delivery') {
      logger.warn(about, 'a bounce for a delivery the outbox does not have: ignored');
      return { outcome: 'ignored', reason: 'no-such-delivery', delivery };
    }
    if (result === 'ignored') {
      logger.debug(about, 'a report that changes nothing (a delay told within the hour, or a delivery already final): ignored');
      return { outcome: 'ignored', reason: 'nothing-to-change', delivery };
    }
    metrics.add(result === 'bounced' ? 'bounced' : 'delayed');
    logger.warn(about, result === 'bounced' ? 'delivery bounced after the relay accepted it' : 'the relay reports a delivery delayed');
    return { outcome: result, delivery };
  }

  return {
    async take(raw, envelopeRecipients = []) {
      const result = await take(raw, envelopeRecipients);
      metrics.addBounce(result.outcome, result.reason);
      return result;
    },
    close: () => reader.close(),
  };
}
