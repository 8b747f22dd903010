/**
 * The bounce listener: an SMTP server (BOUNCE_SMTP_PORT) that the bounce
 * domain's MX delivers to. It takes mail only for bounce addresses that
 * verify, up to a size limit, and hands each message to the intake. When the
 * outbox cannot record, it answers 451 so that the sending MTA tries again.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer } from 'smtp-server';
import type { BounceIntake } from './intake.ts';
import { deliveryOfBounceAddress, type VerpOptions } from './verp.ts';

export interface BounceListenerOptions {
  readonly host: string;
  readonly port: number;
  /** Largest message taken (RFC 1870 SIZE); a DSN with the returned headers is a few KB. */
  readonly maxBytes: number;
  readonly intake: BounceIntake;
  readonly verp: VerpOptions;
  readonly logger: Logger;
}

export interface BounceListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * @example const listener = await startBounceListener({ host: '0.0.0.0', port: 2525, maxBytes: 1_048_576, intake, verp, logger });
 */
export async function startBounceListener(options: BounceListenerOptions): Promise<BounceListener> {
  const { intake, verp, logger } = options;
  const smtp = new SMTPServer({
    name: options.verp.domain,
    banner: 'invite-mailer bounce listener',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: options.maxBytes,
    logger: false,
    onRcptTo(address, _session, callback) {
      if (deliveryOfBounceAddress(address.address, verp)) return callback();
      return callback(Object.assign(new Error('5.1.1 No such bounce address'), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          return callback(Object.assign(new Error('5.3.4 Message too big'), { responseCode: 552 }));
        }
        intake
          .take(
            Buffer.concat(chunks),
            session.envelope.rcptTo.map((r) => r.address),
          )
          .then(
            () => callback(),
            (error: unknown) => {
              logger.error({ err: error }, 'a bounce could not be recorded; the sender will try again');
              callback(Object.assign(new Error('4.3.0 Cannot record now, try again later'), { responseCode: 451 }));
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
  logger.info({ host: options.host, port }, 'bounce listener ready');
  return { port, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}
