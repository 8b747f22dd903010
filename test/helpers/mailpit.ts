/**
 * A real Mailpit for the end-to-end tests, on free loopback ports, with a
 * database of its own. The binary is built once by scripts/mailpit.sh
 * (`npm test` runs it first), or named by MAILPIT_BIN.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailpitClient } from 'mailpit-api';
import { freePort } from './redis.ts';
import { ROOT } from './start-command.ts';

export interface MailpitProcess {
  /** Its SMTP port, as SMTP_URL. */
  readonly smtpUrl: string;
  /** Its web UI and API. */
  readonly apiUrl: string;
  readonly client: MailpitClient;
  stop(): Promise<void>;
}

/** The binary: MAILPIT_BIN, else the one scripts/mailpit.sh built (building it if it is not there). */
export function mailpitBinary(): string {
  if (process.env.MAILPIT_BIN) return process.env.MAILPIT_BIN;
  const cached = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'invite-mailer/mailpit-v1.33.1/mailpit');
  if (existsSync(cached)) return cached;
  return execFileSync('bash', [join(ROOT, 'scripts/mailpit.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** @example const mailpit = await startMailpit(); … SMTP_URL: mailpit.smtpUrl …; await mailpit.stop(); */
export async function startMailpit(): Promise<MailpitProcess> {
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'mailpit-'));
  const child: ChildProcess = spawn(
    mailpitBinary(),
    [
      '--smtp',
      `127.0.0.1:${smtpPort}`,
      '--listen',
      `127.0.0.1:${httpPort}`,
      '--database',
      join(dir, 'mailpit.db'),
      '--disable-version-check', // no call to GitHub: these machines reach no network
      '--smtp-disable-rdns',
      '--allow-internal-http-requests', // the link check may visit the test's loopback server
      '--disable-link-check-rate-limit',
      '--quiet',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let errors = '';
  child.stderr!.on('data', (chunk) => (errors += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Mailpit exited (${child.exitCode}): ${errors}`);
    const ready = await fetch(`${apiUrl}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() - started > 20_000) {
      child.kill('SIGKILL');
      throw new Error(`Mailpit did not become ready in 20 s: ${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    apiUrl,
    client: new MailpitClient(apiUrl),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
