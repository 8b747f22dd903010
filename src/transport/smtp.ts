/**
 * Sending messages over SMTP with nodemailer's pooled client. One message per
 * recipient; the result carries the relay's reply and a verdict the delivery
 * rules act on (accepted, transient, permanent, unknown).
 */

import SMTPPool from 'nodemailer/lib/smtp-pool';
import { rateWindow } from '../delivery/fairness.ts';
import type { OutgoingMessage } from '../message/compose.ts';
import type { DkimKey } from '../message/dkim-keys.ts';
import { createDkimSigner } from '../message/dkim-signer.ts';
import { acceptedBy, classifyFailure, type SendResult } from './delivery-error.ts';

export interface SmtpTransportOptions {
  /** `smtp://user:pass@host:port` or `smtps://…` (implicit TLS). Default Mailpit's `smtp://localhost:1025`. */
  readonly url: string;
  /** Connections kept open to the relay. */
  readonly poolSize?: number;
  /**
   * Messages per second handed to the relay at most (sendRateLimiter); the
   * rest wait their turn. Unset: no limit.
   */
  readonly ratePerSecond?: number;
  /** Refuse to send unless the relay offers STARTTLS (RFC 3207). */
  readonly requireTLS?: boolean;
  /** Accept a relay certificate that does not verify (a test relay only). */
  readonly allowInvalidCertificate?: boolean;
  /**
   * DKIM keys (RFC 6376); each message the transport gets unsigned (`OutgoingMessage.signed` unset)
   * is signed with its From domain's, or the service domain's, or not at all.
   */
  readonly dkimKeys?: readonly DkimKey[];
  /** The service mailbox's domain: whose key signs mail from a domain without one. Unset: such mail goes unsigned. */
  readonly serviceDomain?: string;
  /** Told once per From domain that had no key of its own: `signedAs` the service domain, or null (sent unsigned). */
  readonly onDkimFallback?: (fromDomain: string, signedAs: string | null) => void;
  /** Milliseconds to wait for a connection and for the greeting. Default 30 s. */
  readonly timeoutMs?: number;
  /**
   * Milliseconds to wait for any reply once connected, the end of DATA
   * included. Default 10 minutes: RFC 5321 §4.5.3.2.6 gives the reply to the
   * end of DATA 10 minutes, and a relay still working on it has the message.
   */
  readonly replyTimeoutMs?: number;
}

export interface MailTransport {
  /** Sends one message; never throws for a delivery problem, it is in the result. Calls `message.release` once the relay accepted it. */
  send(message: OutgoingMessage): Promise<SendResult>;
  /**
   * Opens connections for `count` messages about to be sent, up to the pool's
   * size and counting those already open, so that connecting, the greeting and
   * EHLO (STARTTLS, AUTH) take place while those messages are being prepared.
   * Resolves once they are ready; rejects with the first that could not be
   * opened. A message handed over meanwhile goes over one of them once it is
   * ready, or gets its error as a delivery outcome; such a connection leaves
   * the pool, and the next message opens one again.
   *
   * @example await transport.openConnections(100); // 5 connections of a pool of 5, ready to send
   */
  openConnections(count: number): Promise<void>;
  /** Connects and says hello, to tell whether the relay is reachable. */
  verify(): Promise<true>;
  close(): void;
}

/**
 * What of nodemailer's pool (10.6.0, pinned and patched: package.json) opening
 * connections ahead takes: the pool has no public way to, and makes a
 * connection only when a message waits for one. Of the resource it makes,
 * openAhead replaces `connect` while it connects (see there).
 * test/transport/delivery.test.ts fails if these change.
 */
interface PoolInternals {
  _closed: boolean;
  _connections: unknown[];
  _createConnection(): PoolResource;
}

interface PoolResource {
  connect(callback: (error?: Error | null) => void): void;
  once(event: 'close', listener: () => void): void;
}

/**
 * One connection of the pool, opened before a message needs it. The pool may
 * hand it a message while it connects (a new resource is available): the
 * message's own connect then joins the one under way instead of connecting a
 * second time, and goes out once the connection is ready. Were it held back
 * until then, the pool would open another connection for that message, up to
 * its size: a notification of one recipient made two. On failure nodemailer's
 * resource fails the message it was handed and leaves the pool; a close
 * before the greeting calls back nothing, hence 'close'.
 */
function openAhead(internals: PoolInternals): Promise<void> {
  const resource = internals._createConnection();
  const connect = resource.connect.bind(resource);
  let joining: ((error?: Error | null) => void)[] | null = [];
  resource.connect = (callback) => (joining ? joining.push(callback) : connect(callback));
  return new Promise((resolve, reject) => {
    resource.once('close', () => reject(Object.assign(new Error('the relay closed the connection before it was ready'), { code: 'ECONNECTION' })));
    connect((error) => {
      const joined = joining ?? [];
      joining = null;
      for (const callback of joined) callback(error);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Set once the connection has read the whole message after DATA's 354: a lost answer from then on is an unknown outcome. */
interface HandOver {
  done: boolean;
}

/** What the pool's callback reports of one message (smtp-connection's `info`). */
interface SentInfo {
  readonly response: string;
  readonly rejected?: unknown[];
  readonly rejectedErrors?: unknown[];
}

/**
 * A composed message as nodemailer's pool takes it: `mail.data` (the DSN
 * request) and, of `mail.message`, the envelope, the Message-ID and the
 * bytes as a stream (what smtp-pool/pool-resource.js reads). The message is
 * handed to the pool as it is, not through `sendMail`: that builds a
 * MailComposer tree around raw bytes, parses the envelope's addresses and
 * draws random boundaries for every message, ~10% of the fan-out's CPU for
 * nothing here (docs/design/own-paths.md). nodemailer is pinned (patches/), so
 * this reading of its pool cannot change under us unseen; the transport tests
 * check it on the wire.
 */
function composedMail(
  raw: Buffer,
  envelope: OutgoingMessage['envelope'],
  messageId: string,
  dsn: { dsn?: object },
  handOver: HandOver,
): { data: object; message: object } {
  return {
    data: { ...dsn },
    message: {
      getEnvelope: () => ({ from: envelope.from, to: [...envelope.to] }),
      messageId: () => messageId,
      getHeader: (name: string) => (name.toLowerCase() === 'message-id' ? messageId : undefined),
      createReadStream: () => bytesSource(raw, handOver),
    },
  };
}

/**
 * The message's bytes as the one source nodemailer's connection reads them
 * from: it listens for errors on it (there are none), pipes it into its DATA
 * stream, destroys it when the connection is torn down, and the pool asks
 * whether it was read (a message not read at all may go out over another
 * connection). A stream made by `Readable.from` did the same through an
 * iterator, several ticks and the stream machinery, for one buffer per
 * message: 1600 times a fan-out.
 */
function bytesSource(raw: Buffer, handOver: HandOver) {
  const source = {
    readableDidRead: false,
    destroyed: false,
    on: () => source,
    removeListener: () => source,
    destroy: () => {
      source.destroyed = true;
      return source;
    },
    pipe<T extends NodeJS.WritableStream>(target: T): T {
      if (source.destroyed) return target;
      source.readableDidRead = true;
      handOver.done = true; // from here on the bytes are the connection's: a failure may have sent some
      target.end(raw);
      return target;
    },
  };
  return source;
}

/**
 * An SMTP URL without its credentials, to show or log.
 *
 * @example redactedSmtpUrl('smtps://user:secret@relay.mydomain.ru:465') // 'smtps://***@relay.mydomain.ru:465'
 */
export function redactedSmtpUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Connections kept open to the relay when `poolSize` is not given. */
const DEFAULT_POOL_SIZE = 5;

/**
 * @example
 * const transport = createSmtpTransport({ url: 'smtp://localhost:1025' });
 * const result = await transport.send(message);
 * if (result.verdict === 'transient') retryLater(result.reply);
 */
export function createSmtpTransport(options: SmtpTransportOptions): MailTransport {
  const timeout = options.timeoutMs ?? 30_000;
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const pool = new SMTPPool({
    url: options.url,
    maxConnections: poolSize,
    maxMessages: Infinity,
    // No proxy: the pool asks for one before each connection, and its default answers in a
    // setImmediate. A connection opened while the event loop is busy (openConnections, called as a
    // POST comes) then began only once the POST's storing and first rendering were done, and the
    // relay's greeting wait (smtp-server's is 100 ms) came after that work instead of during it.
    // Answered at once, the socket connects at the handler's first await (Node connects to an IP
    // address in a process.nextTick). Alternating fan-outs of bench:service, ten each: the first
    // message reached the sink 266 ms after the POST against 326 ms (medians).
    getSocket: (_options: unknown, callback: (error: null, socket: false) => void) => callback(null, false),
    requireTLS: options.requireTLS ?? false,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: options.replyTimeoutMs ?? 600_000,
    ...(options.allowInvalidCertificate ? { tls: { rejectUnauthorized: false } } : {}),
  } as ConstructorParameters<typeof SMTPPool>[0]);
  const signer = options.dkimKeys?.length ? createDkimSigner(options.dkimKeys, options.serviceDomain ?? '') : null;
  /** The message signed with its From domain's key (or the service domain's), or as it is without keys or once signed. */
  async function signed(message: OutgoingMessage): Promise<Buffer> {
    if (!signer || message.signed) return message.raw;
    const { raw, fallback } = await signer.sign(message.from, message.raw);
    if (fallback) options.onDkimFallback?.(fallback.fromDomain, fallback.signedAs);
    return raw;
  }

  const startSlot = options.ratePerSecond ? sendRateLimiter(options.ratePerSecond) : null;

  return {
    async send(message: OutgoingMessage): Promise<SendResult> {
      const handOver: HandOver = { done: false };
      try {
        await startSlot?.();
        const raw = await signed(message);
        const { envelope } = message;
        // RFC 3461: where the relay offers DSN, ask for failure and delay reports, with the headers
        // only, our envelope id and the original recipient (nodemailer adds them only then).
        const dsn = envelope.envelopeId ? { dsn: { id: envelope.envelopeId, return: 'headers', notify: ['failure', 'delay'], recipient: envelope.to[0] } } : {};
        const info = await new Promise<SentInfo>((resolve, reject) =>
          pool.send(composedMail(raw, envelope, message.messageId, dsn, handOver) as never, (error, sent) =>
            error ? reject(error) : resolve(sent as SentInfo),
          ),
        );
        // A rejected RCPT does not fail the send when another recipient was accepted; read it.
        if (info.rejected?.length) return classifyFailure(info.rejectedErrors?.[0] ?? { code: 'EENVELOPE', message: 'recipient rejected' });
        // The relay answered the end of DATA: every byte was written, and none is read again. After
        // a failure the connection may still hold some, so the memory is left to the collector.
        message.release?.();
        return acceptedBy(info.response);
      } catch (error) {
        return classifyFailure(error, { handedOver: handOver.done });
      }
    },
    openConnections(count: number): Promise<void> {
      const internals = pool as unknown as PoolInternals;
      if (internals._closed) return Promise.resolve();
      const wanted = Math.min(count, poolSize) - internals._connections.length;
      const opened: Promise<void>[] = [];
      for (let i = 0; i < wanted; i++) opened.push(openAhead(internals));
      return Promise.all(opened).then(() => undefined);
    },
    async verify(): Promise<true> {
      await pool.verify();
      return true;
    },
    close(): void {
      pool.close();
    },
  };
}

/**
 * Starts at most `ratePerSecond` messages a second, counted in windows of a
 * tenth of a second (delivery/fairness.ts, rateWindow); a start that finds
 * its window full waits for the next. Not nodemailer's `rateLimit`: its pool
 * checks the count as each connection frees, so every free connection
 * passes at once and a window takes up to the pool size more (in windows of
 * 100 ms at 20 a second, 60 messages went in 1.27 s instead of 3), and in
 * windows of a second its allowance went at once and the next message,
 * a cancellation among them, waited most of the second (874 ms, median of
 * five runs of bench:service).
 *
 * @example const startSlot = sendRateLimiter(200); await startSlot(); // then send
 */
export function sendRateLimiter(ratePerSecond: number): () => Promise<void> {
  const { max, durationMs } = rateWindow(ratePerSecond);
  let windowStart = Number.NEGATIVE_INFINITY;
  let started = 0;
  return async function startSlot() {
    for (;;) {
      const now = performance.now();
      if (now - windowStart >= durationMs) {
        windowStart = now;
        started = 0;
      }
      if (started < max) {
        started++;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, windowStart + durationMs - now));
    }
  };
}
