/**
 * Whether the SMTP relay answers, as the probes and /metrics report it.
 * Checked at most every RELAY_CHECK_INTERVAL_MS, however often probes ask
 * (a Kubernetes probe every few seconds would otherwise open a connection to
 * the relay each time), and a change is logged once. Relay trouble is
 * reported, never a reason to stop taking notifications: the outbox keeps
 * them until the relay is back.
 */
import type { Logger } from 'pino';

/** How old a relay check may be before a probe asks again. */
export const RELAY_CHECK_INTERVAL_MS = 30_000;
/** How long one check may take. */
const CHECK_TIMEOUT_MS = 5000;

/**
 * Runs a health check within CHECK_TIMEOUT_MS: `ok`, or why not (the error's message).
 *
 * @example await probe(() => outbox.checkWritable()) // 'ok' | 'database or disk is full'
 */
export async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS).unref()),
    ]);
    return 'ok';
  } catch (error) {
    return (error as Error).message || String(error);
  }
}

export interface RelayHealth {
  /** `ok`, or why the relay does not answer; checked again when the last check is older than RELAY_CHECK_INTERVAL_MS. */
  state(): Promise<string>;
  /** The last state known, without checking: 1 up, 0 down, null never checked. */
  readonly up: 1 | 0 | null;
}

/**
 * @example const relay = watchRelay(() => transport.verify(), logger); await relay.state() // 'ok' | 'connect ECONNREFUSED 127.0.0.1:1025'
 */
export function watchRelay(check: () => Promise<unknown>, logger: Logger, now: () => number = Date.now): RelayHealth {
  let last: { state: string; at: number } | null = null;
  let running: Promise<string> | null = null;
  async function checkNow(): Promise<string> {
    const state = await probe(check);
    const wasUp = last === null ? null : last.state === 'ok';
    // Told once a change: the first check only when it fails.
    if ((wasUp === null && state !== 'ok') || (wasUp !== null && wasUp !== (state === 'ok'))) {
      if (state === 'ok') logger.info('the SMTP relay answers');
      else logger.warn({ reason: state }, 'the SMTP relay does not answer: notifications are still taken and wait in the outbox');
    }
    last = { state, at: now() };
    return state;
  }
  return {
    state() {
      if (last && now() - last.at < RELAY_CHECK_INTERVAL_MS) return Promise.resolve(last.state);
      running ??= checkNow().finally(() => {
        running = null;
      });
      return running;
    },
    get up() {
      return last === null ? null : last.state === 'ok' ? 1 : 0;
    },
  };
}
