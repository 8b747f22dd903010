/**
 * `npm run build`, into dist/:
 * 1. The modules of src/ compiled by tsc (tsconfig.build.json), one .js file
 *    each at the same depth, so every path a module takes relative to itself
 *    (templates/, locales/, package.json) is the same from dist/; the files
 *    src/ keeps beside its modules (Redis' Lua scripts) copied over. The
 *    threads and processes the service starts run these, and so does the
 *    typed client (`invite-mailer/client`).
 * 2. The service as one bundle (esbuild), `dist/service.cjs`, which
 *    `dist/start.js` runs (src/start.ts says why, with the figures).
 * 3. One start of it, to listening and stopped: it leaves V8's code cache
 *    beside the bundle and the compiled templates in their cache
 *    (src/render/template-cache.ts), so that an install that cannot write
 *    (an image's non-root user) starts fast too (without them each start
 *    compiled the templates again, about 2 s).
 *
 * `--if-stale` (npm start's prestart): only when a file of src/ or a build
 * setting is newer than the last build, as make decides.
 *
 * dist/ is replaced whole, by two renames: a service starting meanwhile reads
 * the old build or the new one (or, in the instant between the renames, none
 * and says so), never half of one.
 *
 * @example node scripts/build.ts             # always
 * @example node scripts/build.ts --if-stale  # npm start: only after a change
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { BUNDLE_FILE, codeCacheOf } from '../src/runtime/bundle-files.ts';
import { startArgs } from './start-command.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');
/** Written last: its time is the build's, and without it a dist/ is unfinished. */
const STAMP_FILE = '.built';
const STAMP = join(DIST, STAMP_FILE);
/** What a build is made of, besides src/. */
const SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.ts', 'scripts/start-command.ts', 'package.json'];
/** Files of src/ that are not modules and that modules read beside themselves. */
const ASSET = /\.lua$/;

function newestInput(root: string): number {
  let newest = 0;
  for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  for (const file of SETTINGS) newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
  return newest;
}

/**
 * Whether `root`'s dist/ was built after every input last changed (make's
 * rule: times, not contents), so that npm start may skip the build.
 *
 * @example isFresh(ROOT) // false after saving any file of src/
 */
export function isFresh(root = ROOT): boolean {
  try {
    return statSync(join(root, 'dist', STAMP_FILE)).mtimeMs >= newestInput(root);
  } catch {
    return false; // never built, a build that did not finish, or an input missing
  }
}

function compile(outDir: string): void {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  if (!existsSync(tsc)) {
    throw new Error('dist/ is older than src/, and TypeScript is not installed here (a production install): run npm run build where the dev dependencies are');
  }
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status ?? result.signal}): dist/ is left as it was`);
  const src = join(ROOT, 'src');
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !ASSET.test(entry.name)) continue;
    const from = join(entry.parentPath, entry.name);
    cpSync(from, join(outDir, from.slice(src.length)));
  }
}

/** The new build takes dist/'s place; the old one is removed once out of the way. */
function replaceDist(built: string): void {
  const old = `${DIST}.old-${process.pid}`;
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(built, DIST);
  rmSync(old, { recursive: true, force: true });
}

/**
 * The bundle of src/main.ts: CommonJS, as one function expression of Node's
 * module wrapper, which src/start.ts compiles with V8's code cache (an ES
 * module cannot take one). One file: the modules the service imports only
 * when configured (the Redis outbox, the bounce listener) are in it, but
 * esbuild runs a module reached by import() only when imported, and V8
 * compiles a function only when it first runs. mjml stays in node_modules: it
 * is loaded only to compile templates, never on the way to listening.
 */
async function bundle(outDir: string): Promise<void> {
  const { build } = await import('esbuild');
  const outfile = join(outDir, BUNDLE_FILE);
  await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    banner: { js: `(function (exports, require, module, __filename, __dirname) {\n${WHERE_THEY_WERE}` },
    footer: { js: '})' },
    target: 'node22',
    external: ['mjml'],
    logLevel: 'warning',
    plugins: [keepModuleLocations],
  });
  asciiOnly(outfile);
}

/** Defined at the bundle's top (its folder is dist/): where a bundled module would be, relative to it. */
const WHERE_THEY_WERE =
  "const __bundled = (path) => require('node:path').join(__dirname, path), __bundledUrl = (path) => require('node:url').pathToFileURL(__bundled(path)).href;";

/**
 * Every bundled module keeps where it was: ours find templates/, locales/,
 * package.json, the Lua scripts and the modules they start in a thread or a
 * process relative to their own file (`new URL('../../', import.meta.url)`),
 * which in the bundle is their file in dist/ (`src/render/x.ts` as
 * `dist/render/x.js`, which tsc emits); dependencies read files beside theirs
 * (`__dirname`: Swagger UI its assets, BullMQ its Lua scripts, pino its
 * transport worker). Each location is relative to the bundle, so dist/ and
 * node_modules may move together (an image's stage to another).
 */
const keepModuleLocations: Plugin = {
  name: 'keep-module-locations',
  setup(bundler) {
    bundler.onLoad({ filter: /\.(ts|js|cjs|mjs)$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const usesUrl = source.includes('import.meta.url');
      const usesFolder = /\b__(dirname|filename)\b/.test(source) && !/\b(const|let|var)\s+__(dirname|filename)\b/.test(source);
      if (!usesUrl && !usesFolder) return undefined; // loaded as esbuild loads it
      const src = join(ROOT, 'src');
      const file = args.path.startsWith(`${src}/`) ? join(DIST, relative(src, args.path).replace(/\.ts$/, '.js')) : args.path;
      const fromBundle = JSON.stringify(relative(DIST, file));
      let contents = usesUrl ? source.replaceAll('import.meta.url', `__bundledUrl(${fromBundle})`) : source;
      if (usesFolder) {
        const location = `var __dirname = __bundled(${JSON.stringify(relative(DIST, dirname(file)))}), __filename = __bundled(${fromBundle});`;
        const directive = /^(#![^\n]*\n)?\s*(['"])use strict\2;?/.exec(contents)?.[0] ?? '';
        contents = `${directive}\n${location}\n${contents.slice(directive.length)}`;
      }
      return { contents, loader: args.path.endsWith('.ts') ? 'ts' : 'js' };
    });
  },
};

/**
 * Leaves the bundle in ASCII, which src/start.ts reads as latin1: one byte a
 * character, outside the JavaScript heap (as UTF-8 with a single Cyrillic
 * letter in it, V8 would hold two bytes a character on its heap: 13 MB).
 * esbuild escapes what it writes of strings but keeps comments, and some
 * regular expressions, as they were written; each other UTF-16 unit becomes
 * its `\uXXXX` escape, which is the same character in a string, a template
 * literal, a regular expression and an identifier, and text in a comment.
 */
function asciiOnly(file: string): void {
  const text = readFileSync(file, 'utf8');
  if (!/[^\0-\x7f]/.test(text)) return;
  writeFileSync(
    file,
    text.replace(/[^\0-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

/**
 * Starts dist/start.js once, to listening, and stops it: the code cache and
 * the compiled templates are written by then. On a loopback port the system
 * picks, in a data folder of its own, with none of the environment's settings
 * but PATH (a QUEUE_URL of the machine that builds is not this start's
 * business), under the node flags of npm start (V8 refuses a code cache made
 * under other flags).
 */
async function startOnce(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'invite-mailer-build-'));
  const flags = startArgs().filter((arg) => arg.startsWith('-'));
  const child = spawn(process.execPath, [...flags, join(DIST, 'start.js')], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        // Logged just before the publish that writes the code cache, in the same turn: by the time
        // the signal is handled, it is written. Once: a second SIGTERM would cut the stop short.
        if (output.includes('"msg":"invite-mailer listening on') && !child.killed) child.kill('SIGTERM');
      });
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0 && existsSync(codeCacheOf(join(DIST, BUNDLE_FILE)))) resolve();
        else reject(new Error(`the built service did not start and stop cleanly (exit ${code}):\n${output}`));
      });
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && isFresh()) return;
  const started = performance.now();
  const built = `${DIST}.build-${process.pid}`;
  rmSync(built, { recursive: true, force: true });
  try {
    compile(built);
    await bundle(built);
    replaceDist(built);
  } finally {
    rmSync(built, { recursive: true, force: true });
  }
  await startOnce();
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  process.stderr.write(
    `invite-mailer: built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s${ifStale ? ' (src/ changed since the last build)' : ''}\n`,
  );
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`invite-mailer: build failed: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
