/**
 * npm start runs the service from a bundle kept in a cache
 * (src/cli/service-bundle.js): built once, made again when any file it was
 * made of changes, and as good as the sources (templates, locales and Swagger
 * UI's assets found where they were). Where it cannot be built, the sources run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceBundle } from '../../src/cli/service-bundle.js';
import { type ChildService, spawnService, untilListening } from '../helpers/child-service.ts';
import { waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { ROOT } from '../helpers/start-command.ts';

let cacheDir: string;
beforeAll(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'bundle-'));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const inputsOf = (dir: string) => Object.keys((JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as { inputs: object }).inputs);

describe('the service bundle', () => {
  it('is built once, then reused until a file it was made of changes', async () => {
    const builds: number[] = [];
    const onBuild = (ms: number) => builds.push(ms);
    const first = await serviceBundle({ cacheDir, onBuild });
    expect(first).toMatch(/run-service\.mjs$/);
    expect(builds).toHaveLength(1);
    expect(await serviceBundle({ cacheDir, onBuild })).toBe(first);
    expect(builds).toHaveLength(1);

    // Our sources, a dependency (nodemailer, patched at install) and the build's own options are its inputs.
    const inputs = inputsOf(cacheDir);
    for (const file of ['src/model/schema.ts', 'node_modules/nodemailer/dist/esm/smtp-connection/data-stream.js', 'src/cli/service-bundle.js']) {
      expect(inputs, file).toContain(join(ROOT, file));
    }
    // A dependency updated in place (same size, another modification time): built again, into another folder.
    const dependency = inputs.find((path) => path.includes('/node_modules/luxon/'))!;
    const { atime, mtime } = statSync(dependency);
    utimesSync(dependency, atime, new Date(mtime.getTime() + 1000));
    try {
      const second = await serviceBundle({ cacheDir, onBuild });
      expect(builds).toHaveLength(2);
      expect(second).not.toBe(first);
      expect(statSync(first!).isFile()).toBe(true); // a service started from the first one may still be loading it
    } finally {
      utimesSync(dependency, atime, mtime);
    }
  }, 60_000);

  it('runs the service as the sources do: the mail rendered from the templates, Swagger UI with its assets', async () => {
    const entry = (await serviceBundle({ cacheDir }))!;
    const sink = await new SmtpSink().start();
    const dataDir = mkdtempSync(join(tmpdir(), 'bundle-service-'));
    let child: ChildService | undefined;
    try {
      child = await untilListening(spawnService(process.execPath, [entry], { DATA_DIR: dataDir, SMTP_URL: sink.url }));
      for (const asset of ['/docs/static/swagger-ui.css', '/docs/static/swagger-ui-bundle.js', '/docs/static/logo.svg']) {
        expect((await fetch(`${child.url}${asset}`)).status, asset).toBe(200);
      }
      const request = await readFile(join(ROOT, 'examples/trueconf-weekly.json'), 'utf8');
      const accepted = await fetch(`${child.url}/v1/notifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request });
      expect(accepted.status).toBe(202);
      const { recipients } = (await accepted.json()) as { recipients: unknown[] };
      await waitFor(() => sink.received.length === recipients.length || undefined, 20_000, 'every recipient');
      const mail = await simpleParser(sink.received[0]!.raw);
      const title = (JSON.parse(request) as { event: { title: string } }).event.title;
      expect(mail.subject).toContain(title);
      expect(mail.html).toContain(title);
      expect(mail.attachments.some((part) => part.contentType.startsWith('text/calendar'))).toBe(true);
    } finally {
      child?.process.kill('SIGTERM');
      await child?.exited;
      await sink.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('on a read-only disk, the bundle made at install is used as it is', async () => {
    const disk = mkdtempSync(join(tmpdir(), 'bundle-ro-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', disk]);
    try {
      const builds: number[] = [];
      const built = await serviceBundle({ cacheDir: disk, onBuild: (ms) => builds.push(ms) });
      execFileSync('mount', ['-o', 'remount,ro', disk]);
      expect(await serviceBundle({ cacheDir: disk, onBuild: (ms) => builds.push(ms) })).toBe(built);
      expect(builds).toHaveLength(1);
    } finally {
      execFileSync('umount', ['-l', disk]);
      rmSync(disk, { recursive: true, force: true });
    }
  }, 60_000);

  it('where it cannot be built, says why and leaves the start to the sources', async () => {
    const notAFolder = join(cacheDir, 'a-file');
    writeFileSync(notAFolder, '');
    const warnings: string[] = [];
    const listener = (warning: Error) => warnings.push(warning.message);
    process.on('warning', listener);
    try {
      expect(await serviceBundle({ cacheDir: join(notAFolder, 'service') })).toBeNull();
      const refusal = /running from the sources, the bundle could not be built: .*ENOTDIR/;
      expect(await waitFor(() => warnings.find((warning) => refusal.test(warning)), 5_000, 'the warning')).toContain('a-file/service');
    } finally {
      process.off('warning', listener);
    }
  });
});
