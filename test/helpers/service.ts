import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import type { Outbox } from '../../src/outbox/outbox.ts';
import { createService, type Service } from '../../src/service.ts';

export interface TestService extends Service {
  /** Every log line the service wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Its DATA_DIR (a fresh folder). */
  readonly dataDir: string;
  /** Stops the service and removes its DATA_DIR. */
  dispose(): Promise<void>;
}

/** The real service (SQLite outbox in a fresh folder, worker running) with a captured log. */
export async function startTestService(env: Record<string, string>, options: { outbox?: (dataDir: string) => Outbox } = {}): Promise<TestService> {
  // The outbox the environment names (QUEUE_URL: BullMQ), as npm start would open it.
  const dataDir = mkdtempSync(join(tmpdir(), 'service-'));
  const config = loadConfig({ DATA_DIR: dataDir, RETRY_INITIAL_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '200', LOG_LEVEL: 'debug', ...env });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  // Templates compile in the test process (mjml is already loaded there); npm start compiles in a child.
  const service = await createService(config, {
    logger: pino({ level: 'debug' }, sink),
    compileTemplatesIn: 'in-process',
    ...(options.outbox ? { outbox: options.outbox(dataDir) } : {}),
  });
  return Object.assign(service, {
    logs,
    dataDir,
    async dispose() {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'the condition'): Promise<NonNullable<T>> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Polls a notification's status until every recipient is `sent`; `read`
 * fetches the status (or the error answered) from whichever instance the test
 * asks. OUTBOX_UNAVAILABLE is asked again, as a client would: an instance
 * answers it while its Redis is away (in the failover tests, just restarted).
 * Any other error fails at once, with what was answered.
 */
export async function waitForAllSent(read: () => Promise<{ recipients: { status: string }[] } | { error: { code: string } }>, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const status = await read();
      if ('error' in status) {
        if (status.error.code === 'OUTBOX_UNAVAILABLE') return null;
        throw new Error(`the status was answered with an error: ${JSON.stringify(status)}`);
      }
      return status.recipients.every((r) => r.status === 'sent') ? status : null;
    },
    timeoutMs,
    'every recipient sent',
  );
}
