/**
 * Sending messages over SMTP with nodemailer's pooled client. One message per
 * recipient; the outcome says whether to try again.
 */
import nodemailer from 'nodemailer';
import type { OutgoingMessage } from '../message/compose.ts';
import { classifyFailure, type DeliveryFailure } from './delivery-error.ts';

export interface SmtpTransportOptions {
  /** `smtp://user:pass@host:port` or `smtps://…` (implicit TLS). Default Mailpit's `smtp://localhost:1025`. */
  readonly url: string;
  /** Connections kept open to the relay. */
  readonly poolSize?: number;
  /** Refuse to send unless the relay offers STARTTLS (RFC 3207). */
  readonly requireTLS?: boolean;
  /** Accept a relay certificate that does not verify (a test relay only). */
  readonly allowInvalidCertificate?: boolean;
  /** DKIM signature (RFC 6376) of every message. */
  readonly dkim?: { readonly domainName: string; readonly keySelector: string; readonly privateKey: string };
  /** Milliseconds to wait for a connection, the greeting, and between socket activity. */
  readonly timeoutMs?: number;
}

export interface DeliverySuccess {
  readonly status: 'sent';
  /** The relay's reply to DATA: `250 2.0.0 Ok: queued as …`. */
  readonly response: string;
}

export type DeliveryOutcome = DeliverySuccess | DeliveryFailure;

export interface MailTransport {
  /** Sends one message; never throws for a delivery problem, it is in the outcome. */
  send(message: OutgoingMessage): Promise<DeliveryOutcome>;
  /** Connects and says hello, to tell whether the relay is reachable. */
  verify(): Promise<true>;
  close(): void;
}

/**
 * @example
 * const transport = createSmtpTransport({ url: 'smtp://localhost:1025' });
 * const outcome = await transport.send(message);
 * if (outcome.status === 'failed' && outcome.kind === 'transient') retryLater();
 */
export function createSmtpTransport(options: SmtpTransportOptions): MailTransport {
  const timeout = options.timeoutMs ?? 30_000;
  const transporter = nodemailer.createTransport({
    url: options.url,
    pool: true,
    maxConnections: options.poolSize ?? 5,
    maxMessages: Infinity,
    requireTLS: options.requireTLS ?? false,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    ...(options.allowInvalidCertificate ? { tls: { rejectUnauthorized: false } } : {}),
    ...(options.dkim ? { dkim: { ...options.dkim } } : {}),
    disableFileAccess: true,
    disableUrlAccess: true,
  } as Parameters<typeof nodemailer.createTransport>[0]);

  return {
    async send(message: OutgoingMessage): Promise<DeliveryOutcome> {
      try {
        const info = (await transporter.sendMail({ envelope: { from: message.envelope.from, to: [...message.envelope.to] }, raw: message.raw })) as {
          response: string;
          rejected?: unknown[];
          rejectedErrors?: unknown[];
        };
        // A rejected RCPT does not fail sendMail when another recipient was accepted; read it.
        if (info.rejected?.length) return classifyFailure(info.rejectedErrors?.[0] ?? { code: 'EENVELOPE', message: 'recipient rejected' });
        return { status: 'sent', response: info.response };
      } catch (error) {
        return classifyFailure(error);
      }
    },
    async verify(): Promise<true> {
      await transporter.verify();
      return true;
    },
    close(): void {
      transporter.close();
    },
  };
}
