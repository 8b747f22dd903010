/**
 * The log a person sees at a terminal and the one a collector reads: the
 * built service started in a pseudo-terminal (util-linux `script`), and
 * through a pipe, as an operator or a container runs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChildService, spawnService, untilListening } from '../helpers/child-service.ts';
import { startArgs } from '../helpers/start-command.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'logger-'));
let running: { process: ChildService['process']; exited: Promise<unknown> } | undefined;
afterEach(async () => {
  if (running?.process.pid) process.kill(-running.process.pid, 'SIGTERM');
  await running?.exited;
  running = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

/** The service in a pseudo-terminal of its own, in a process group of its own; resolves with what the terminal showed once it listens. */
async function startInTerminal(env: Record<string, string>): Promise<string> {
  const command = [process.execPath, ...startArgs()].join(' ');
  const started = spawnService('script', ['--quiet', '--return', '--command', command, '/dev/null'], { DATA_DIR: dataDir, ...env }, { group: true });
  running = started;
  const deadline = Date.now() + 20_000;
  while (!/listening on/.test(started.output())) {
    if (Date.now() > deadline) throw new Error(`the service did not start:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // (Without its colours: a terminal's escape sequences, ECMA-48 SGR.)
  return started.output().replace(/\x1b\[[0-9;]*m/g, '');
}

describe('the log', () => {
  it("is pino-pretty's at a terminal: time, level, message, the fields below, no JSON", async () => {
    const shown = await startInTerminal({});
    expect(shown).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: invite-mailer listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(shown).toMatch(/^\s+dataDir: "/m);
    expect(shown.split(/\r?\n/).some((line) => line.startsWith('{'))).toBe(false);
  });

  it('is JSON at a terminal with LOG_FORMAT=json', async () => {
    const shown = await startInTerminal({ LOG_FORMAT: 'json' });
    const line = shown.split(/\r?\n/).find((l) => l.includes('listening on'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 30, service: 'invite-mailer', msg: expect.stringMatching(/^invite-mailer listening on/) });
  });

  it('is JSON through a pipe, one object a line', async () => {
    const service = await untilListening(spawnService(process.execPath, startArgs(), { DATA_DIR: dataDir }, { group: true }));
    running = service;
    const lines = service.output().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
