/**
 * RETENTION: a loop that purges notifications whose recipients have all been
 * final for longer than RETENTION, within a minute of that time (sooner for a
 * short RETENTION), a hundred at a time. Events their consumers had not
 * taken go with them, counted in /metrics and told in the log.
 */
import type { Logger } from 'pino';
import type { Retention } from '../outbox/outbox.ts';
import type { Metrics } from './metrics.ts';

/** Notifications removed by one purge call; the loop calls again while a call removes this many. */
const PURGE_BATCH = 100;

export interface RetentionLoopOptions {
  readonly outbox: Retention;
  readonly retentionMs: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** How often the loop looks: a minute, or half of a shorter RETENTION (a second at least). */
export function purgeIntervalMs(retentionMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(retentionMs / 2)));
}

/**
 * @example const retention = retentionLoop({ outbox, retentionMs: 30 * 86_400_000, metrics, logger }); retention.start(); … await retention.stop();
 */
export function retentionLoop(options: RetentionLoopOptions): { start(): void; stop(): Promise<void> } {
  const { outbox, retentionMs, metrics, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  async function purgeDue(): Promise<void> {
    try {
      for (;;) {
        const removed = await outbox.purge(Date.now() - retentionMs, PURGE_BATCH);
        metrics.addRemoved('purged', removed);
        const dropped = Object.entries(removed.undeliveredEvents).filter(([, n]) => n > 0);
        if (removed.notifications) logger.debug({ purged: removed.notifications }, 'notifications past RETENTION removed');
        if (dropped.length)
          logger.warn({ undelivered: Object.fromEntries(dropped) }, 'events not delivered within RETENTION were removed with their notifications');
        if (removed.notifications < PURGE_BATCH || stopped) return;
      }
    } catch (error) {
      // The outbox is away: the next round tries again.
      logger.error({ err: error }, 'could not remove notifications past RETENTION; trying again');
    }
  }

  function schedule(): void {
    timer = setTimeout(() => {
      running = purgeDue().finally(() => {
        if (!stopped) schedule();
      });
    }, purgeIntervalMs(retentionMs));
    timer.unref();
  }

  return {
    start() {
      stopped = false;
      running = purgeDue().finally(() => {
        if (!stopped) schedule();
      });
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
