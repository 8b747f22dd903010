/**
 * `node dist/start.js` (and `npm start`, which builds dist/ first when src/
 * changed): the service, from the bundle `npm run build` leaves beside this
 * file (`dist/service.cjs`) with V8's code cache of the way to listening
 * (`dist/service.cjs.v8-cache`); or, where there is no bundle (this file run
 * from src/), from the modules themselves.
 *
 * Why a bundle and a code cache, measured on 2026-12-07 (node command to the
 * first 200 from /readyz, medians of eleven starts): the modules tsc emits,
 * 504 ms (381 ms with Node's compile cache); one bundle, 365 ms (341 ms with
 * Node's compile cache); the bundle with a code cache made once listening,
 * 223 ms. Node's compile cache keeps a module's code as compiled before it
 * runs, which holds its top level only; V8's "code cache after execution"
 * holds every function the start ran too (docs/design/start-up.md).
 *
 * @example node dist/start.js
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, Script } from 'node:vm';
import { BUNDLE_FILE, codeCacheOf } from './runtime/bundle-files.ts';
import { LISTENING_CHANNEL } from './runtime/listening.ts';

/**
 * Runs the bundle (a CommonJS module wrapper around the whole service, made by
 * scripts/build.ts) from its code cache if V8 takes it; if not, the cache is
 * made once the service listens and written beside the bundle, where it can be
 * (a read-only image starts all the same, compiling as it goes).
 */
function runBundle(bundle: string): void {
  const cachePath = codeCacheOf(bundle);
  // The bundle is ASCII (scripts/build.ts escapes the rest), so latin1 reads it exactly, and a
  // string this long is kept outside the JavaScript heap at one byte a character (Node's external
  // strings); utf8 would copy it into the heap.
  const source = readFileSync(bundle).toString('latin1');
  const cachedData = existsSync(cachePath) ? readFileSync(cachePath) : undefined;
  const script = new Script(source, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
    // mjml is not bundled: it is imported where templates are compiled in this process.
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (!cachedData || script.cachedDataRejected) writeCacheOnceListening(script, cachePath);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

/** Once the service says it listens; written whole or not at all (a rename), so a start at the same moment reads a whole cache or none. */
function writeCacheOnceListening(script: Script, path: string): void {
  const listening = () => {
    unsubscribe(LISTENING_CHANNEL, listening);
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, script.createCachedData());
      renameSync(temporary, path);
    } catch {
      rmSync(temporary, { force: true }); // read-only or full: every start compiles as it goes
    }
  };
  subscribe(LISTENING_CHANNEL, listening);
}

const bundle = fileURLToPath(new URL(`./${BUNDLE_FILE}`, import.meta.url));
if (existsSync(bundle)) runBundle(bundle);
else await import('./main.ts');
