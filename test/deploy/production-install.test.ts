/**
 * The Dockerfile as a production install, run here where no container engine
 * runs: its build stage's steps in order on a fresh copy of the project
 * (COPY from the copy, RUN in a shell: npm ci, npm run build, npm prune
 * --omit=dev), then its final stage's COPY --from=build into another folder,
 * and its CMD started there with its ENV under Node 24. The final stage's RUN
 * lines are not run: they make the container's data folder and give it to
 * its user, which this test does with a temporary DATA_DIR.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, spawnService, untilListening } from '../helpers/child-service.ts';
import { commandOf, dockerfileStages, envOf, type Stage } from '../helpers/dockerfile.ts';
import { example } from '../helpers/examples.ts';
import { waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { ROOT } from '../helpers/start-command.ts';

/** The image's WORKDIR, which each stage's folder here stands for. */
const WORKDIR = '/app';

const root = mkdtempSync(join(tmpdir(), 'production-install-'));
const context = join(root, 'context');
const stages = dockerfileStages();
const buildStage = stages.find((stage) => stage.name === 'build')!;
const finalStage = stages.at(-1)!;
const folderOf = new Map<string, string>([
  ['build', join(root, 'build')],
  ['final', join(root, 'final')],
]);

/** A path of the image (relative to WORKDIR, or absolute under it) in the stage's folder. */
function inStage(stageFolder: string, path: string): string {
  const absolute = path.startsWith('/') ? path : join(WORKDIR, path);
  if (!absolute.startsWith(WORKDIR)) throw new Error(`${path} is outside ${WORKDIR}: the test runs only what lives under it`);
  return join(stageFolder, absolute.slice(WORKDIR.length));
}

function copy(stageFolder: string, from: string, sources: string[], destination: string): void {
  for (const source of sources) {
    const origin = from === 'context' ? resolve(context, source) : inStage(folderOf.get(from)!, source);
    const target = inStage(stageFolder, destination.endsWith('/') && source !== '.' ? join(destination, source) : destination);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(origin, target, { recursive: true });
  }
}

/** Runs a stage's COPY and, when asked, RUN instructions in its folder, as `docker build` would. */
function runStage(stage: Stage, folder: string, options: { run: boolean }): void {
  mkdirSync(folder, { recursive: true });
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'COPY') {
      const words = instruction.args.split(/\s+/);
      copy(folder, instruction.flags.from ?? 'context', words.slice(0, -1), words.at(-1)!);
    } else if (instruction.keyword === 'RUN' && options.run) {
      const result = spawnSync('sh', ['-c', instruction.args], { cwd: folder, encoding: 'utf8', env: process.env });
      if (result.status !== 0) throw new Error(`RUN ${instruction.args} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
  }
}

let sink: SmtpSink;
let service: ChildService | undefined;

beforeAll(async () => {
  // A fresh clone: what git tracks (and new files not ignored), as the working tree has them.
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(context, file)), { recursive: true });
    cpSync(join(ROOT, file), join(context, file));
  }
  runStage(buildStage, folderOf.get('build')!, { run: true });
  runStage(finalStage, folderOf.get('final')!, { run: false });
  sink = await new SmtpSink().start();
}, 600_000);

afterAll(async () => {
  service?.process.kill('SIGTERM');
  if (service) await service.exited;
  await sink?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the Dockerfile, as a production install', () => {
  it('holds production dependencies only, the build and its caches', () => {
    const final = folderOf.get('final')!;
    for (const devOnly of ['vitest', 'esbuild', '@biomejs/biome', 'node']) expect(existsSync(join(final, 'node_modules', devOnly)), devOnly).toBe(false);
    for (const production of ['fastify', 'nodemailer', 'mjml']) expect(existsSync(join(final, 'node_modules', production)), production).toBe(true);
    expect(existsSync(join(final, 'dist/start.js'))).toBe(true);
    expect(existsSync(join(final, 'dist/service.cjs.v8-cache'))).toBe(true);
    // The templates compiled by the build: a start as the image's user, who cannot write here, would compile them each time.
    expect(readdirSync(join(final, 'node_modules/.cache/invite-mailer')).some((name) => /^templates-\w+\.json$/.test(name))).toBe(true);
    expect(existsSync(join(final, 'src'))).toBe(false);
  });

  // Rendering on the main thread (RENDER_THREADS' default on two cores) and on threads of its own (more cores).
  it.each(['0', '2'])('starts with its CMD under Node 24 and delivers a contract example, RENDER_THREADS=%s', async (threads) => {
    if (service && service.process.exitCode === null) {
      const exited = new Promise((resolve) => service!.process.once('exit', resolve));
      service.process.kill('SIGTERM');
      await exited;
    }
    sink.received.length = 0;
    const [program, ...args] = commandOf(finalStage);
    expect(program).toBe('node');
    const dataDir = join(root, `data-${threads}`);
    const env = {
      ...envOf(finalStage),
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      SMTP_URL: sink.url,
      API_TOKEN: 'a-token-of-sixteen-characters',
      RENDER_THREADS: threads,
    };
    // process.execPath: the Node 24 of the project's dev dependencies, which the image's base has.
    service = await untilListening(spawnService(process.execPath, args, env, { cwd: folderOf.get('final')! }));
    const payload = example('trueconf-weekly');
    const response = await fetch(`${service.url}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer a-token-of-sixteen-characters' },
      body: JSON.stringify(payload),
    });
    expect(response.status).toBe(202);
    const recipients = (payload.recipients as { email: string }[]).map((r) => r.email).sort();
    await waitFor(() => sink.received.length === recipients.length, 20_000, 'every recipient delivered');
    expect(sink.received.flatMap((m) => m.to).sort()).toEqual(recipients);
    expect(sink.received[0]!.raw.toString()).toContain('text/calendar; charset=utf-8; method=REQUEST');
  });
});
