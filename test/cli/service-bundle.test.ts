/**
 * npm start runs the service from a bundle kept in a cache
 * (src/cli/service-bundle.cjs): built once, made again when any file it was
 * made of changes, and as good as the sources (templates, locales and Swagger
 * UI's assets found where they were). Where it cannot be built, the sources
 * run. src/cli/run-bundle.cjs runs it with V8's code cache, made once the
 * service listens.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeCacheOf, startOnce } from '../../src/cli/run-bundle.cjs';
import { serviceBundle } from '../../src/cli/service-bundle.cjs';
import { type ChildService, spawnService, untilListening } from '../helpers/child-service.ts';
import { waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { ROOT, startArgs } from '../helpers/start-command.ts';

let cacheDir: string;
beforeAll(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'bundle-'));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** The bundle run as npm start runs it (run-bundle.cjs), its cache folder the test's own. */
const runBundle = (bundle: string, env: Record<string, string>) =>
  untilListening(spawnService(process.execPath, [join(ROOT, 'src/cli/run-bundle.cjs'), bundle], env));

const stop = async (child: ChildService | undefined) => {
  child?.process.kill('SIGTERM');
  await child?.exited;
};

const inputsOf = (dir: string) => Object.keys((JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as { inputs: object }).inputs);

describe('the service bundle', () => {
  it('is built once, then reused until a file it was made of changes', async () => {
    const builds: number[] = [];
    const onBuild = (ms: number) => builds.push(ms);
    const first = await serviceBundle({ cacheDir, onBuild });
    expect(first).toMatch(/service\.js$/);
    // ASCII, as run-bundle.cjs reads it as latin1: the ellipsis of a contract message (src/model/schema.ts) as an escape.
    const source = readFileSync(first!);
    expect(source.findIndex((byte) => byte > 0x7f)).toBe(-1);
    expect(source.toString('latin1')).toContain('must be 1\\u202631');
    expect(builds).toHaveLength(1);
    expect(await serviceBundle({ cacheDir, onBuild })).toBe(first);
    expect(builds).toHaveLength(1);

    // Our sources, a dependency (nodemailer, patched at install) and the build's own options are its inputs.
    const inputs = inputsOf(cacheDir);
    for (const file of ['src/model/schema.ts', 'node_modules/nodemailer/dist/esm/smtp-connection/data-stream.js', 'src/cli/service-bundle.cjs']) {
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
      child = await runBundle(entry, { DATA_DIR: dataDir, SMTP_URL: sink.url });
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
      await stop(child);
      await sink.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('is run with a V8 code cache made once it listens, kept while V8 takes it, made again when V8 refuses it', async () => {
    const entry = (await serviceBundle({ cacheDir }))!;
    const cache = codeCacheOf(entry);
    rmSync(cache, { force: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'bundle-cache-'));
    // Said with the address the service published once listening: by then every function of the way there has been compiled.
    const written = (child: ChildService) =>
      waitFor(() => child.output().includes(`code cache written to ${cache} once listening on ${child.url}`) || undefined, 10_000, 'the code cache');
    let child: ChildService | undefined;
    try {
      child = await runBundle(entry, { DATA_DIR: dataDir });
      await written(child);
      const made = statSync(cache);
      // More than the top-level code Node's compile cache keeps (about 1 MB of this bundle).
      expect(made.size).toBeGreaterThan(1_500_000);
      await stop(child);

      child = await runBundle(entry, { DATA_DIR: dataDir });
      expect((await fetch(`${child.url}/healthz`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(child.output()).not.toContain('code cache written');
      expect(statSync(cache).mtimeMs).toBe(made.mtimeMs);
      await stop(child);

      writeFileSync(cache, 'not a code cache');
      child = await runBundle(entry, { DATA_DIR: dataDir });
      await written(child);
      expect(statSync(cache).size).toBeGreaterThan(1_500_000);
    } finally {
      await stop(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it("is started once at install (startOnce, npm's postinstall): npm start then takes the code cache it left", async () => {
    const entry = (await serviceBundle({ cacheDir }))!;
    const cache = codeCacheOf(entry);
    rmSync(cache, { force: true });
    expect(await startOnce(entry)).toBe(true);
    const made = statSync(cache);
    expect(made.size).toBeGreaterThan(1_500_000);

    // Run under npm start's flags, as startOnce ran it: V8 takes the cache (one it refused would be written again).
    const flags = startArgs().filter((arg) => arg.startsWith('-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'bundle-first-start-'));
    let child: ChildService | undefined;
    try {
      child = await untilListening(spawnService(process.execPath, [...flags, join(ROOT, 'src/cli/run-bundle.cjs'), entry], { DATA_DIR: dataDir }));
      expect((await fetch(`${child.url}/healthz`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(child.output()).not.toContain('code cache written');
      expect(statSync(cache).mtimeMs).toBe(made.mtimeMs);
    } finally {
      await stop(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
    // A service that never listens (here: no bundle at all) leaves the caches to the first real start.
    expect(await startOnce(join(cacheDir, 'no-such-bundle.js'))).toBe(false);
    // And where it cannot even be started (no temporary folder), the install goes on: false, not a throw.
    const temporary = process.env.TMPDIR;
    process.env.TMPDIR = join(cacheDir, 'no-such-folder');
    try {
      expect(await startOnce(entry)).toBe(false);
    } finally {
      if (temporary === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = temporary;
    }
  }, 90_000);

  it('on a read-only disk, the bundle made at install is used as it is', async () => {
    const disk = mkdtempSync(join(tmpdir(), 'bundle-ro-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', disk]);
    try {
      const builds: number[] = [];
      const built = await serviceBundle({ cacheDir: disk, onBuild: (ms) => builds.push(ms) });
      execFileSync('mount', ['-o', 'remount,ro', disk]);
      expect(await serviceBundle({ cacheDir: disk, onBuild: (ms) => builds.push(ms) })).toBe(built);
      expect(builds).toHaveLength(1);
      // The service starts from it; its code cache cannot be written there, and is left out.
      const dataDir = mkdtempSync(join(tmpdir(), 'bundle-ro-data-'));
      const child = await runBundle(built!, { DATA_DIR: dataDir });
      try {
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect((await fetch(`${child.url}/healthz`)).status).toBe(200);
        expect(existsSync(codeCacheOf(built!))).toBe(false);
      } finally {
        await stop(child);
        rmSync(dataDir, { recursive: true, force: true });
      }
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
