/**
 * A loop beside the delivery worker that takes due work from the outbox
 * (webhook events, organizer notices), handles a batch at once, and sleeps
 * when there is none. Stopping lets the batch in hand finish; what was not
 * taken waits in the outbox.
 */

export interface PollLoopOptions<T> {
  /** Leases due items (fewer when `yielding`); throwing is reported and tried again after `pollMs`. */
  readonly claim: (yielding: boolean) => Promise<readonly T[]>;
  /** Handles one item; the batch is handled concurrently. Must not throw. */
  readonly handle: (item: T) => Promise<void>;
  readonly pollMs: number;
  readonly onClaimError: (error: unknown) => void;
  /**
   * While this says so (the delivery worker is sending), the loop gives way:
   * after each batch it pauses `yieldMs`, and catches up once it says no more.
   */
  readonly yieldWhile?: () => boolean;
  /** Default 250 ms. */
  readonly yieldMs?: number;
}

export interface PollLoop {
  start(): void;
  /** Resolves once the batch in hand is handled. */
  stop(): Promise<void>;
}

/**
 * @example
 * const loop = pollLoop({ claim: () => outbox.claimWebhooks(16, Date.now(), leaseMs), handle: post, pollMs: 500, onClaimError: (err) => logger.error({ err }) });
 * loop.start();
 */
export function pollLoop<T>(options: PollLoopOptions<T>): PollLoop {
  let running = false;
  let done: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });
  }

  async function loop(): Promise<void> {
    while (running) {
      let items: readonly T[] = [];
      const yielding = options.yieldWhile?.() ?? false;
      try {
        items = await options.claim(yielding);
      } catch (error) {
        options.onClaimError(error);
      }
      if (items.length === 0) {
        await sleep(options.pollMs);
        continue;
      }
      await Promise.all(items.map(options.handle));
      if (yielding && running) await sleep(options.yieldMs ?? 250);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      done = loop();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      wake?.();
      await done;
    },
  };
}
