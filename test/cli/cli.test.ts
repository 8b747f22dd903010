import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES_DIR } from '../helpers/examples.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = ['--experimental-strip-types', '--disable-warning=ExperimentalWarning'];

let out: string;
const sink = new SmtpSink();
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'render-'));
  await sink.start();
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
  await sink.stop();
});

describe('npm run render', () => {
  it('writes .html, .txt and .eml per recipient', async () => {
    const { stdout } = await run(process.execPath, [...NODE, 'src/cli/render.ts', join(EXAMPLES_DIR, 'trueconf-weekly.json'), '--out', out], { cwd: ROOT });
    expect(stdout.trim().split('\n')).toHaveLength(3);
    const files = (await readdir(out)).sort();
    for (const address of ['anna.schmidt@partner.example', 'd.orlov@mydomain.ru', 'i.volkova@mydomain.ru']) {
      expect(files).toEqual(expect.arrayContaining([`${address}.html`, `${address}.txt`, `${address}.eml`]));
    }
    const mail = await simpleParser(await readFile(join(out, 'd.orlov@mydomain.ru.eml')));
    expect(mail.subject).toBe('Приглашение: Еженедельный статус проекта «Север»');
    expect(mail.attachments.some((a) => a.contentType === 'text/calendar')).toBe(true);
    expect(await readFile(join(out, 'd.orlov@mydomain.ru.txt'), 'utf8')).toContain('каждую неделю по понедельникам, 12 раз');
  });

  it('reports a broken request field by field, exit code 2', async () => {
    const bad = join(out, 'bad.json');
    const payload = JSON.parse(await readFile(join(EXAMPLES_DIR, 'skype-invitation.json'), 'utf8'));
    payload.event.conference.joinUrl = 'javascript:alert(1)';
    await writeFile(bad, JSON.stringify(payload));
    const failure = await run(process.execPath, [...NODE, 'src/cli/render.ts', bad, '--out', out], { cwd: ROOT }).catch((e) => e);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toContain('event.conference.joinUrl: must be an https: or http: URL');
  });
});

describe('npm run send', () => {
  it('sends each recipient through SMTP_URL and prints one line each', async () => {
    sink.rcptPolicy = (address) => (address === 'anna.schmidt@partner.example' ? { code: 550, message: '5.1.1 No such user' } : undefined);
    const failure = await run(process.execPath, [...NODE, 'src/cli/send.ts', join(EXAMPLES_DIR, 'trueconf-weekly.json')], {
      cwd: ROOT,
      env: { ...process.env, SMTP_URL: sink.url },
    }).catch((e) => e);
    expect(failure.code).toBe(1);
    const lines = String(failure.stdout).trim().split('\n');
    expect(lines[0]).toMatch(/^accepted\td\.orlov@mydomain\.ru\t<[0-9a-f]{40}@invite-mailer\.localhost>\t250 /);
    expect(lines[1]).toBe('rejected\tanna.schmidt@partner.example\tpermanent\t550 5.1.1 No such user');
    expect(lines[2]).toMatch(/^accepted\ti\.volkova@mydomain\.ru\t/);
    expect(sink.received.map((m) => m.to[0])).toEqual(['d.orlov@mydomain.ru', 'i.volkova@mydomain.ru']);
    // Not a terminal: no progress line, only the summary, on stderr.
    expect(String(failure.stderr)).toMatch(/^2 accepted, 1 rejected in \d+\.\d s\n$/);
  });
});

describe('npm run preview', () => {
  it('an unknown flag or a port in use is one line and the usage, exit code 2; SIGTERM to npm stops node and frees the port', async () => {
    const unknown = await run('npm', ['run', '--silent', 'preview', '--', '--bogus'], { cwd: ROOT }).catch((error) => error);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("Unknown option '--bogus'\nusage: npm run preview -- [--port 4000] [--host 127.0.0.1] [--allow-remote]\n");

    const { freePort } = await import('../helpers/redis.ts');
    const port = await freePort();
    const { spawn } = await import('node:child_process');
    const first = spawn('npm', ['run', '--silent', 'preview', '--', '--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    first.stdout.on('data', (chunk) => (said += chunk));
    await expect.poll(() => said, { timeout: 30_000 }).toContain(`preview on http://127.0.0.1:${port}`);
    const busy = await run('npm', ['run', '--silent', 'preview', '--', '--port', String(port)], { cwd: ROOT }).catch((error) => error);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toBe(`port ${port} is in use by another process: stop it, or choose another with --port\n`);

    first.kill('SIGTERM'); // to npm, as a process manager does
    await new Promise((resolve) => first.once('exit', resolve));
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/`).then(
            () => 'answering',
            () => 'gone',
          ),
        { timeout: 5000 },
      )
      .toBe('gone');
  });
});
