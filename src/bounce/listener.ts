/**
 * The bounce listener: an SMTP server (BOUNCE_SMTP_PORT) that the bounce
 * domain's MX delivers to. Anyone can connect, so it takes little: mail only
 * for bounce addresses that verify, up to a size limit, from at most
 * BOUNCE_MAX_CONNECTIONS connections (CONNECTIONS_PER_CLIENT from one
 * address) and BOUNCE_CLIENT_MESSAGES_PER_MINUTE messages per client address.
 * Each message goes to the intake; the reply says what became of it: 250 when
 * it was read (a bounce applied, or a message rightly ignored), 550 for a
 * delivery the outbox does not hold (RFC 3463 5.1.1: no such bounce address
 * here), 554 for a message that cannot be read, 451 when the outbox cannot
 * record now, so that the sending MTA tries again.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer } from 'smtp-server';
import type { BounceIntake, IntakeResult } from './intake.ts';
import { deliveryOfBounceAddress, type VerpOptions } from './verp.ts';

export interface BounceListenerOptions {
  readonly host: string;
  readonly port: number;
  /** Largest message taken (RFC 1870 SIZE); a DSN with the returned headers is a few KB. */
  readonly maxBytes: number;
  /** Connections open at once, from all clients. */
  readonly maxConnections: number;
  /** Messages one client address may send in a minute; more get 450 (try later). */
  readonly clientMessagesPerMinute: number;
  readonly intake: BounceIntake;
  readonly verp: VerpOptions;
  readonly logger: Logger;
}

export interface BounceListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Connections open at once from one client address. */
export const CONNECTIONS_PER_CLIENT = 5;
/** An idle connection is closed after this long (smtp-server's default is a minute). */
const IDLE_TIMEOUT_MS = 30_000;

const smtpError = (responseCode: number, message: string) => Object.assign(new Error(message), { responseCode });

/** The reply to a message the intake took, by what became of it. */
function replyTo(result: IntakeResult): Error | null {
  if (result.reason === 'no-such-delivery') return smtpError(550, '5.1.1 No such delivery here: this bounce address is not for this instance');
  if (result.reason === 'unreadable') return smtpError(554, '5.6.0 This message cannot be read as mail');
  return null;
}

/** Messages per client address in the current minute. */
function clientRate(perMinute: number) {
  let windowStart = Date.now();
  let counts = new Map<string, number>();
  return {
    /** Counts a message from the address; false when it is one too many this minute. */
    take(address: string): boolean {
      const now = Date.now();
      if (now - windowStart >= 60_000) {
        windowStart = now;
        counts = new Map();
      }
      const count = (counts.get(address) ?? 0) + 1;
      counts.set(address, count);
      return count <= perMinute;
    },
  };
}

/**
 * @example const listener = await startBounceListener({ host: '0.0.0.0', port: 2525, maxBytes: 1_048_576, maxConnections: 50, clientMessagesPerMinute: 300, intake, verp, logger });
 */
export async function startBounceListener(options: BounceListenerOptions): Promise<BounceListener> {
  const { intake, verp, logger } = options;
  const rate = clientRate(options.clientMessagesPerMinute);
  const perClient = new Map<string, number>();
  const counted = new Set<string>(); // sessions counted in perClient (onClose comes for refused ones too)
  let limitedNotice = 0;
  const smtp = new SMTPServer({
    name: options.verp.domain,
    banner: 'invite-mailer bounce listener',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: options.maxBytes,
    maxClients: options.maxConnections,
    socketTimeout: IDLE_TIMEOUT_MS,
    logger: false,
    onConnect(session, callback) {
      const open = perClient.get(session.remoteAddress) ?? 0;
      if (open >= CONNECTIONS_PER_CLIENT) return callback(smtpError(421, '4.7.0 Too many connections from your address, try again later'));
      perClient.set(session.remoteAddress, open + 1);
      counted.add(session.id);
      return callback();
    },
    onClose(session) {
      if (!counted.delete(session.id)) return;
      const open = (perClient.get(session.remoteAddress) ?? 1) - 1;
      if (open <= 0) perClient.delete(session.remoteAddress);
      else perClient.set(session.remoteAddress, open);
    },
    onMailFrom(_address, session, callback) {
      if (rate.take(session.remoteAddress)) return callback();
      // One line a minute at most: a flood must not flood the log too.
      if (Date.now() - limitedNotice >= 60_000) {
        limitedNotice = Date.now();
        logger.warn(
          { client: session.remoteAddress, perMinute: options.clientMessagesPerMinute },
          'a client sends more bounces than the listener takes: told to try later',
        );
      }
      return callback(smtpError(450, '4.7.1 Too many messages from your address, try again later'));
    },
    onRcptTo(address, _session, callback) {
      if (deliveryOfBounceAddress(address.address, verp)) return callback();
      return callback(smtpError(550, '5.1.1 No such bounce address'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= options.maxBytes) chunks.push(chunk); // past the limit, read to the end and dropped
      });
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded || bytes > options.maxBytes) {
          return callback(smtpError(552, '5.3.4 Message too big'));
        }
        intake
          .take(
            Buffer.concat(chunks),
            session.envelope.rcptTo.map((r) => r.address),
          )
          .then(
            (result) => callback(replyTo(result)),
            (error: unknown) => {
              logger.error({ err: error }, 'a bounce could not be recorded; the sender will try again');
              callback(smtpError(451, '4.3.0 Cannot record now, try again later'));
            },
          );
      });
    },
  });
  smtp.on('error', (error: Error) => logger.warn({ err: error }, 'bounce listener connection error'));
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(options.port, options.host, () => resolve());
  });
  const { port } = smtp.server.address() as AddressInfo;
  logger.info({ host: options.host, port, maxBytes: options.maxBytes, maxConnections: options.maxConnections }, 'bounce listener ready');
  return { port, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}
