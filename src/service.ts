/**
 * The whole service from a configuration: outbox, renderer, SMTP transport,
 * delivery worker and HTTP API, and the order to stop them in.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createBounceIntake } from './bounce/intake.ts';
import type { BounceListener } from './bounce/listener.ts';
import { verpFor } from './bounce/verp.ts';
import type { Config } from './config/config.ts';
import { messageOptionsOf, rendererFor, rendererOptionsOf } from './config/parts.ts';
import { buildApp } from './http/app.ts';
import { dkimSigningPlan, keyFilesReadableByOthers } from './message/dkim-keys.ts';
import { createNoticeSender, noticeConsumer } from './notice/sender.ts';
import type { EventConsumer } from './outbox/events.ts';
import type { ClaimedDelivery, Outbox } from './outbox/outbox.ts';
import { openSqliteOutbox } from './outbox/sqlite/open.ts';
import { createPreparer } from './prepare/preparer.ts';
import { createLogger } from './runtime/logger.ts';
import { createMetrics } from './runtime/metrics.ts';
import { retentionLoop } from './runtime/retention.ts';
import { createWorker, type Worker } from './runtime/worker.ts';
import { createSmtpTransport } from './transport/smtp.ts';
import { createWebhookDispatcher } from './webhook/dispatcher.ts';
import { WEBHOOK_CONSUMER } from './webhook/event.ts';

export interface Service {
  readonly app: FastifyInstance;
  readonly worker: Worker;
  readonly outbox: Outbox;
  readonly logger: Logger;
  /** The SMTP listener for bounces (BOUNCE_SMTP_PORT), or null. */
  readonly bounceListener: BounceListener | null;
  /** Stops taking requests, finishes or hands back what is on the wire, closes the outbox. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** A logger to use instead of pino on stdout at LOG_LEVEL. */
  readonly logger?: Logger;
  /** An outbox to use instead of the one the configuration names. */
  readonly outbox?: Outbox;
  /** Where MJML compiles (see LoadTemplatesOptions.compileIn). Default `child-process`: the service does not keep mjml in memory. */
  readonly compileTemplatesIn?: 'in-process' | 'child-process';
}

/**
 * @example
 * const service = await createService(loadConfig());
 * await service.app.listen({ host: '127.0.0.1', port: 8080 });
 * process.once('SIGTERM', () => service.stop());
 */
export async function createService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? (await createLogger(config));
  const outbox = options.outbox ?? (await openOutbox(config));
  // MJML compiles in a child process: the service never carries mjml's ~100 MB.
  const renderer = await rendererFor(config, options.compileTemplatesIn ?? 'child-process');
  // Said once per domain, whether a rendering thread or the transport (notices) met it first.
  const fellBack = new Set<string>();
  const onDkimFallback = (fromDomain: string, signedAs: string | null) => {
    if (fellBack.has(fromDomain)) return;
    fellBack.add(fromDomain);
    if (signedAs)
      logger.warn(
        { fromDomain, signedAs },
        'no DKIM key for this From domain: signed with the service domain key (DMARC alignment fails for it; see docs/deliverability.md)',
      );
    else logger.warn({ fromDomain }, 'no DKIM key for this From domain nor for the service domain: sent unsigned (see docs/deliverability.md)');
  };
  const transport = createSmtpTransport({
    ...config.smtp,
    // BullMQ's limiter holds the rate across instances; one SQLite instance limits its own pool.
    ...(config.sendRatePerSecond && !config.queue ? { ratePerSecond: config.sendRatePerSecond } : {}),
    onDkimFallback,
  });
  if (config.smtp.dkimKeys?.length) {
    logger.info({ dkim: dkimSigningPlan(config.smtp.dkimKeys, config.smtp.serviceDomain) }, 'DKIM: which key signs mail from which From domain');
    for (const file of keyFilesReadableByOthers(config.smtp.dkimKeys))
      logger.warn({ file }, 'a DKIM private key can be read by other users: chmod 600 it (or 640 for a group the service alone is in)');
  }
  const metrics = createMetrics();
  const verp = config.bounce?.verp;
  const preparer = createPreparer({
    threads: config.renderThreads,
    renderer,
    // The threads read the templates' compile the renderer above left in the cache.
    rendererOptions: rendererOptionsOf(config, options.compileTemplatesIn ?? 'child-process'),
    message: messageOptionsOf(config),
    keptMessages: 2 * config.smtp.poolSize,
    // Signed where they are composed: on the threads, a signature's millisecond and a half is not the main thread's.
    ...(config.smtp.dkimKeys?.length ? { dkim: { keys: config.smtp.dkimKeys, serviceDomain: config.smtp.serviceDomain }, onDkimFallback } : {}),
  });
  const worker = createWorker({
    outbox,
    preparer,
    transport,
    retry: config.retry,
    concurrency: config.smtp.poolSize,
    ...(config.sendRatePerSecond ? { sendRatePerSecond: config.sendRatePerSecond } : {}),
    logger,
    metrics,
    ...(verp ? { bounceAddressOf: (delivery: ClaimedDelivery) => verpFor(delivery, verp) } : {}),
  });
  const bounces = verp ? createBounceIntake({ outbox, verp, logger, metrics }) : undefined;
  const app = await buildApp({
    config,
    outbox,
    logger,
    metrics,
    checkSmtp: () => transport.verify(),
    onAccepted: () => worker.kick(),
    // A connection that cannot be opened is the messages' to report, once they are sent.
    onNotificationPosted: (recipients) => void transport.openConnections(recipients).catch(() => undefined),
    version: await packageVersion(),
    eventConsumers: consumersOf(config).map((consumer) => consumer.name),
    ...(bounces ? { bounces } : {}),
  });
  // Imported only when configured: smtp-server is not loaded on the way to listening otherwise.
  const listener =
    bounces && config.bounce?.listener
      ? await (await import('./bounce/listener.ts')).startBounceListener({ ...config.bounce.listener, intake: bounces, verp: verp!, logger })
      : null;
  const dispatcher = config.webhook
    ? createWebhookDispatcher({
        events: outbox.events,
        logger,
        url: config.webhook.url,
        secret: config.webhook.secret,
        timeoutMs: config.webhook.timeoutMs,
        retry: config.webhook.retry,
        yieldWhile: worker.busy,
      })
    : null;
  const notices = config.organizerNotices
    ? createNoticeSender({ events: outbox.events, outbox, renderer, transport, serviceMailbox: config.sender.serviceMailbox, logger, retry: config.retry })
    : null;
  const retention = retentionLoop({ outbox, retentionMs: config.retentionMs, metrics, logger });
  worker.start();
  dispatcher?.start();
  notices?.start();
  retention.start();

  let stopping: Promise<void> | undefined;
  return {
    app,
    worker,
    outbox,
    logger,
    bounceListener: listener,
    stop() {
      stopping ??= (async () => {
        await listener?.close();
        await app.close(); // no new requests; in-flight ones finish
        await bounces?.close(); // the bounce reader's thread
        await worker.stop(); // messages on the wire finish; claimed ones go back
        await preparer.close(); // the rendering threads
        await dispatcher?.stop(); // webhooks in flight finish; the rest wait in the outbox
        await notices?.stop(); // so do notices to organizers
        await retention.stop();
        transport.close();
        await outbox.close();
      })();
      return stopping;
    },
  };
}

/**
 * The outbox the configuration names: BullMQ on Redis with QUEUE_URL, else
 * the embedded SQLite outbox in DATA_DIR. Nothing else in the service knows which.
 */
export async function openOutbox(config: Config): Promise<Outbox> {
  const consumers = consumersOf(config);
  if (!config.queue) return openSqliteOutbox({ dataDir: config.dataDir, consumers });
  const { openRedisOutbox } = await import('./outbox/redis/open.ts');
  return openRedisOutbox({
    url: config.queue.url,
    prefix: config.queue.prefix,
    connectWithinMs: config.queue.connectTimeoutMs,
    consumers,
    ...(config.sendRatePerSecond ? { sendRatePerSecond: config.sendRatePerSecond } : {}),
  });
}

/** Who hears of deliveries' changes: the status webhook (WEBHOOK_URL), the organizer's notices (NOTIFY_ORGANIZER). */
function consumersOf(config: Config): EventConsumer[] {
  return [...(config.webhook ? [WEBHOOK_CONSUMER] : []), ...(config.organizerNotices ? [noticeConsumer(config.organizerNotices.windowMs)] : [])];
}

async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
