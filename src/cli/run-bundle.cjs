// @ts-check
/**
 * Runs the service bundle (service-bundle.cjs) with a V8 code cache made once
 * the service listens, so that later starts find compiled what the way to
 * listening needs.
 *
 * Why not Node's own compile cache: it saves a module's code right after
 * compiling it, before it runs, so it holds only the top-level code. Every
 * function the start then calls (the module bodies of fastify, pino,
 * nodemailer and the rest, wrapped by esbuild) was compiled again at every
 * start. A cache made after the code ran holds them too (V8's "code cache
 * after execution"). Alternating starts, nine each, twice: 363–364 ms median
 * to listening with Node's compile cache of the ES-module bundle, 286–287 ms
 * with this one (docs/design/own-paths.md).
 *
 * Plain JavaScript for the reason service-bundle.cjs gives.
 */
const { subscribe, unsubscribe } = require('node:diagnostics_channel');
const { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join, resolve } = require('node:path');
const { constants, Script } = require('node:vm');
const { LISTENING_CHANNEL } = require('./listening.cjs');

/**
 * The V8 code cache of a bundle: a file beside it. A bundle never changes
 * once built (each build has a folder of its own), which matters: V8 checks
 * a cache against its source's length, not its content.
 *
 * @param {string} bundle
 */
const codeCacheOf = (bundle) => `${bundle}.v8-cache`;

/**
 * Runs the bundle: a function expression of CommonJS's module wrapper around
 * the whole service (service-bundle.cjs). Compiled from its code cache if
 * there is one V8 takes; if not, the cache is made when the process first
 * listens, and written beside the bundle (left out where it cannot be
 * written: the service starts all the same).
 *
 * @example const bundle = await serviceBundle(); if (bundle) runBundle(bundle); // the service, listening on PORT
 * @param {string} bundle the bundle's path
 * @param {{ onCacheWritten?: (path: string, listening: { address: string }) => void }} [options] onCacheWritten: with what the service published on LISTENING_CHANNEL
 */
function runBundle(bundle, options = {}) {
  const cachePath = codeCacheOf(bundle);
  // The bundle is ASCII (service-bundle.cjs escapes the rest), so latin1 reads it exactly, and a
  // string this long is kept outside the JavaScript heap at one byte a character (Node's external
  // strings); utf8 would copy it into the heap.
  const source = readFileSync(bundle).toString('latin1');
  const cachedData = readIfThere(cachePath);
  const script = new Script(source, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
    // The bundle imports mjml (not bundled) where templates are compiled in this process.
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (!cachedData || script.cachedDataRejected) writeCacheOnceListening(script, cachePath, options.onCacheWritten);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

/**
 * @param {string} path
 * @returns {Buffer | undefined}
 */
function readIfThere(path) {
  try {
    return readFileSync(path);
  } catch {
    return undefined; // not made yet
  }
}

/**
 * Once the service says it listens (LISTENING_CHANNEL): by then every
 * function of the way to listening has been compiled. Written to a
 * file of its own and renamed, so that a start at the same moment reads a
 * whole cache or none.
 *
 * @param {Script} script
 * @param {string} path
 * @param {((path: string, listening: { address: string }) => void) | undefined} onWritten
 */
function writeCacheOnceListening(script, path, onWritten) {
  /** @param {unknown} message */
  const listening = (message) => {
    unsubscribe(LISTENING_CHANNEL, listening);
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, script.createCachedData());
      renameSync(temporary, path);
      onWritten?.(path, /** @type {{ address: string }} */ (message));
    } catch {
      // a read-only or full disk (a bundle made by `npm ci` in an image): every start compiles as it goes
      rmSync(temporary, { force: true });
    }
  };
  subscribe(LISTENING_CHANNEL, listening);
}

/**
 * Starts the bundle once, to listening, and stops it: what npm's postinstall
 * does after bundling (service-bundle.cjs), so that what `npm ci` leaves
 * holds V8's code cache beside the bundle and the compiled templates
 * (src/render/template-cache.ts), which only a start makes. An image built
 * with `npm ci` then starts fast even where the service cannot write to
 * node_modules (a read-only disk, another user): without the templates each
 * such start compiled them again (2.4 s here), without the code cache it
 * compiled the bundle's code (about 80 ms).
 *
 * The start runs under npm start's node flags (V8 refuses a code cache made
 * under some others), on a loopback port the system picks, in a data folder
 * of its own, and with none of the environment's settings but PATH: a
 * QUEUE_URL or WEBHOOK_URL of the machine doing the install is not this
 * start's business. Resolves false, leaving the caches to the first real
 * start, if the service does not listen within `withinMs` or exits first,
 * or cannot be started here at all: it never fails the install.
 *
 * @example await startOnce(bundle) // true: node_modules/.cache/invite-mailer holds the code cache and the templates
 * @param {string} bundle
 * @param {{ withinMs?: number }} [options]
 * @returns {Promise<boolean>}
 */
function startOnce(bundle, options = {}) {
  // Loaded here, not with this file: npm start runs runBundle, never this.
  const { spawn } = require('node:child_process');
  const { tmpdir } = require('node:os');
  const { startArgs } = require('./start-command.cjs');
  let dataDir;
  try {
    dataDir = mkdtempSync(join(tmpdir(), 'invite-mailer-first-start-'));
  } catch {
    return Promise.resolve(false); // no temporary folder to start in: the install goes on all the same
  }
  const folder = dataDir;
  const flags = startArgs().filter((arg) => arg.startsWith('-'));
  const child = spawn(process.execPath, [...flags, __filename, bundle], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: folder, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((done) => {
    let output = '';
    let listened = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.withinMs ?? 60_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      // Logged just before the service publishes on LISTENING_CHANNEL, in the same turn: by the
      // time the signal is handled, runBundle has written the code cache (if it had none). Once:
      // a second SIGTERM would cut the service's clean stop short.
      if (!listened && output.includes('"msg":"invite-mailer listening on')) {
        listened = true;
        child.kill('SIGTERM');
      }
    });
    // 'exit' once it ran; 'error' alone when it could not be started at all.
    const finish = () => {
      clearTimeout(timer);
      rmSync(folder, { recursive: true, force: true });
      done(listened);
    };
    child.once('exit', finish);
    child.once('error', finish);
  });
}

module.exports = { codeCacheOf, runBundle, startOnce };

// `node src/cli/run-bundle.cjs <bundle>`: runs a bundle made elsewhere (the tests' own cache folders).
if (require.main === module) {
  if (!process.argv[2]) throw new Error('usage: node src/cli/run-bundle.cjs <bundle>');
  const bundle = resolve(process.argv[2]);
  runBundle(bundle, {
    onCacheWritten: (path, { address }) => process.stderr.write(`invite-mailer: code cache written to ${path} once listening on ${address}\n`),
  });
}
