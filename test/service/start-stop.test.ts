/**
 * Starting and stopping like a service: as an operator (or an orchestrator)
 * runs it, in child processes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChildService, spawnService, startChildService, startWithNpm } from '../helpers/child-service.ts';
import { freePort } from '../helpers/redis.ts';
import { startArgs } from '../helpers/start-command.ts';

const children: Pick<ChildService, 'process'>[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'start-stop-'));
  dirs.push(dir);
  return dir;
}

describe('start and stop', () => {
  it('SIGTERM to `npm start` stops node too: nothing keeps sending or holds the port', async () => {
    const service = await startWithNpm({ DATA_DIR: dataDir() });
    children.push(service);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    service.process.kill('SIGTERM'); // to npm, as a terminal's Ctrl-C or a process manager does
    await service.exited;
    await expect.poll(() => service.output(), { timeout: 10_000 }).toContain('"msg":"stopped"');
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });

  it('common mistakes end in one line naming the setting and what to do, never a stack: PORT in use or not a number, DATA_DIR a file', async () => {
    const first = await startChildService({ DATA_DIR: dataDir() });
    children.push(first);
    const port = new URL(first.url).port;
    const file = join(dataDir(), 'a-file');
    writeFileSync(file, 'not a folder');
    const cases: [Record<string, string>, number, RegExp][] = [
      [
        { DATA_DIR: dataDir(), PORT: port },
        1,
        new RegExp(`^invite-mailer: PORT ${port} on 127\\.0\\.0\\.1 is in use by another process: stop it, or set PORT to a free port$`, 'm'),
      ],
      [{ DATA_DIR: dataDir(), PORT: 'abc' }, 2, /^ {2}- PORT: must be a whole number$/m],
      [{ DATA_DIR: file }, 1, /^invite-mailer: DATA_DIR .*a-file is not a folder \(a file is in its way\): set DATA_DIR to a folder, or remove the file$/m],
    ];
    for (const [env, code, message] of cases) {
      const started = spawnService(process.execPath, startArgs(), { PORT: '0', ...env });
      children.push(started);
      expect(await started.exited).toBe(code);
      expect(started.output()).toMatch(message);
      expect(started.output()).not.toMatch(/^\s+at /m);
    }
  });

  it('Redis down at start: retries with backoff, then exits 1 naming the reason (never hangs)', async () => {
    const port = await freePort();
    const started = Date.now();
    const service = spawnService(process.execPath, startArgs(), {
      DATA_DIR: dataDir(),
      QUEUE_URL: `redis://127.0.0.1:${port}`,
      QUEUE_CONNECT_TIMEOUT_MS: '1500',
    });
    children.push(service);
    expect(await service.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(service.output()).toMatch(/Redis at QUEUE_URL did not answer within 2 s/);
  });

  it('one instance per DATA_DIR: a second one exits 1 while the first runs; a SIGKILLed holder frees it at once; a stale pid file does not count', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'outbox.lock'), '1'); // an earlier version's pid file naming a live pid (init)
    const first = await startChildService({ DATA_DIR: dir });
    children.push(first);
    const second = spawnService(process.execPath, startArgs(), { DATA_DIR: dir });
    children.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain('is in use by another running instance');
    first.process.kill('SIGKILL');
    await first.exited;
    const third = await startChildService({ DATA_DIR: dir });
    children.push(third);
    expect((await fetch(`${third.url}/healthz`)).status).toBe(200);
  });
});
