// @ts-check
/**
 * The service as one bundle (esbuild) of its TypeScript and most of its
 * dependencies, kept in `node_modules/.cache/invite-mailer/service/` and made
 * again when any file it was made of changes. Why: a start that resolves,
 * reads, strips and links some 600 modules one by one spent about 150 ms
 * more before listening than one that loads one bundled file
 * (docs/design/own-paths.md); run-bundle.cjs runs it. The bundle is a cache, never a second source: a change to
 * src/, a dependency or a patch rebuilds it on the next start (about a
 * second here), and where it cannot be built the service runs from its sources.
 *
 * Plain JavaScript on purpose: npm start runs this before anything is
 * bundled, and a TypeScript entry would load Node's type stripper for
 * nothing (~40 ms). Checked by tsc all the same (`@ts-check`). CommonJS,
 * as are start.cjs, run-bundle.cjs and listening.cjs, for the same reason:
 * as ES modules, Node's ES module loader (resolving and linking each file,
 * and making a module namespace of each built-in they import) ran the
 * start's first line at 57–69 ms, against 50–58 ms as CommonJS
 * (alternating starts, docs/design/own-paths.md).
 *
 * Run directly (`node src/cli/service-bundle.cjs`, npm's postinstall) it
 * builds the bundle and starts it once (run-bundle.cjs, startOnce), so the
 * first `npm start` after `npm ci` is a fast one, and so is every start of
 * an image that cannot write to node_modules.
 */
const { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');

const ROOT = join(__dirname, '../../');
/** Where build tools keep their caches, beside the compiled templates and V8's code cache. */
const CACHE = join(ROOT, 'node_modules/.cache/invite-mailer/service');
const ENTRY = join(ROOT, 'src/cli/run-service.ts');
/** The file naming the current build and what it was made of. */
const RECORD = 'bundle.json';
/**
 * Builds not started from for this long are removed when another is made (a
 * start marks the build it uses; a service reads its bundle as it starts,
 * and writes the code cache beside it once listening).
 */
const KEEP_UNUSED_BUILDS_MS = 10 * 60 * 1000;

/**
 * Loaded from node_modules as it is, not bundled: MJML compiles templates in
 * a child process, on a change to them only (src/render/template-cache.ts),
 * never on the way to listening.
 */
const EXTERNAL = ['mjml'];

/**
 * The bundle's file, built first if it is missing or older than any file it
 * was made of; null if it cannot be built here (then run from the sources:
 * src/cli/run-service.ts).
 *
 * @example const bundle = await serviceBundle(); if (bundle) runBundle(bundle); else await import('./run-service.ts');
 * @param {{ cacheDir?: string, onBuild?: (milliseconds: number) => void }} [options] cacheDir: where bundles and their record are kept (tests)
 * @returns {Promise<string | null>}
 */
async function serviceBundle(options = {}) {
  const cacheDir = options.cacheDir ?? CACHE;
  const fresh = freshBundle(cacheDir);
  if (fresh) return fresh;
  try {
    const started = performance.now();
    const entry = await buildBundle(cacheDir);
    options.onBuild?.(performance.now() - started);
    return entry;
  } catch (error) {
    process.emitWarning(`invite-mailer: running from the sources, the bundle could not be built: ${/** @type {Error} */ (error).message}`);
    return null;
  }
}

/**
 * The recorded bundle's entry if every input still has the modification time
 * and size it had when the bundle was built (what make and tsc --incremental
 * compare); else null.
 *
 * @param {string} cacheDir
 * @returns {string | null}
 */
function freshBundle(cacheDir) {
  try {
    const record = /** @type {{ entry: string, inputs: Record<string, [number, number]> }} */ (JSON.parse(readFileSync(join(cacheDir, RECORD), 'utf8')));
    for (const [path, [modified, size]] of Object.entries(record.inputs)) {
      const stat = statSync(path);
      if (stat.mtimeMs !== modified || stat.size !== size) return null;
    }
    statSync(record.entry);
    markInUse(dirname(record.entry));
    return record.entry;
  } catch {
    return null; // no record yet, an input gone, or a record from another layout
  }
}

/**
 * A start marks the build it runs, so that another start's build does not
 * remove it; on a read-only disk (a bundle made by `npm ci` in an image) the
 * mark is left out and the build is used all the same.
 *
 * @param {string} build
 */
function markInUse(build) {
  try {
    const now = new Date();
    utimesSync(build, now, now);
  } catch {
    // read-only: nothing builds here either
  }
}

/**
 * Builds into a folder of its own, then points the record at it with a
 * rename: starts running at the same moment (tests, several instances) each
 * see a whole bundle, never half of one.
 *
 * @param {string} cacheDir
 * @returns {Promise<string>}
 */
async function buildBundle(cacheDir) {
  const { build } = require('esbuild');
  mkdirSync(cacheDir, { recursive: true });
  const outdir = mkdtempSync(join(cacheDir, `${Date.now()}-`));
  const entry = join(outdir, 'service.js');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: entry,
    bundle: true,
    platform: 'node',
    // CommonJS, as one function expression of Node's module wrapper, for run-bundle.cjs to compile
    // with V8's code cache. One file: the modules the service imports only when configured (Redis
    // outbox, bounce listener) are in it, but esbuild runs a module reached by import() only when
    // imported, and V8 compiles a function only when it first runs.
    format: 'cjs',
    banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
    footer: { js: '})' },
    target: 'node22',
    external: EXTERNAL,
    metafile: true,
    logLevel: 'silent',
    plugins: [keepModuleLocations],
  });
  asciiOnly(entry);
  const inputs = /** @type {Record<string, [number, number]>} */ ({});
  // (Read after the build, as make does: a file saved during the build's second is bundled again only at its next change.)
  // Every file bundled (ours and the dependencies', patched ones included) and the build's own options here.
  for (const input of [...Object.keys(result.metafile.inputs), 'src/cli/service-bundle.cjs']) {
    const path = join(ROOT, input);
    const stat = statSync(path);
    inputs[path] = [stat.mtimeMs, stat.size];
  }
  const temporary = `${outdir}.tmp`;
  writeFileSync(temporary, JSON.stringify({ entry, inputs }));
  renameSync(temporary, join(cacheDir, RECORD));
  removeUnusedBuilds(cacheDir, outdir);
  return entry;
}

/**
 * Leaves the bundle in ASCII, which run-bundle.cjs reads as latin1: one byte
 * a character, outside the JavaScript heap (as UTF-8 with a single Cyrillic
 * letter in it, V8 would hold two bytes a character on its heap: 13 MB).
 * esbuild escapes what it writes of strings but keeps comments, and some
 * regular expressions, as they were written; each other UTF-16 unit becomes
 * its `\uXXXX` escape, which is the same character in a string, a template
 * literal, a regular expression and an identifier, and text in a comment.
 *
 * @param {string} file
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  if (!/[^\0-\x7f]/.test(text)) return;
  writeFileSync(
    file,
    text.replace(/[^\0-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

/**
 * Every bundled module keeps where it was written: ours find the templates,
 * locales and package.json relative to their file
 * (`new URL('../../', import.meta.url)`), and dependencies read files beside
 * theirs (`__dirname`: Swagger UI its assets, BullMQ its Lua scripts, pino
 * its transport worker). Bundled, each gets its original file's URL, folder
 * and name instead of the bundle's (CommonJS modules keep the `"use strict"`
 * they open with).
 *
 * @type {import('esbuild').Plugin}
 */
const keepModuleLocations = {
  name: 'keep-module-locations',
  setup(bundler) {
    bundler.onLoad({ filter: /\.(ts|js|cjs|mjs)$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const usesUrl = source.includes('import.meta.url');
      const usesFolder = /\b__(dirname|filename)\b/.test(source) && !/\b(const|let|var)\s+__(dirname|filename)\b/.test(source);
      if (!usesUrl && !usesFolder) return undefined; // loaded as esbuild loads it
      let contents = usesUrl ? source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)) : source;
      if (usesFolder) {
        const location = `var __dirname = ${JSON.stringify(dirname(args.path))}, __filename = ${JSON.stringify(args.path)};`;
        const directive = /^(#![^\n]*\n)?\s*(['"])use strict\2;?/.exec(contents)?.[0] ?? '';
        contents = `${directive}\n${location}\n${contents.slice(directive.length)}`;
      }
      return { contents, loader: args.path.endsWith('.ts') ? 'ts' : 'js' };
    });
  },
};

/**
 * @param {string} cacheDir
 * @param {string} current
 */
function removeUnusedBuilds(cacheDir, current) {
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    if (path === current || name === RECORD) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_UNUSED_BUILDS_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // another start removed it first
    }
  }
}

module.exports = { serviceBundle };

if (require.main === module) {
  void (async () => {
    const bundle = await serviceBundle({ onBuild: (ms) => console.log(`invite-mailer: service bundled in ${Math.round(ms)} ms`) });
    if (!bundle) return;
    const started = performance.now();
    const { startOnce } = require('./run-bundle.cjs');
    const listened = await startOnce(bundle);
    console.log(
      listened
        ? `invite-mailer: started once (${Math.round(performance.now() - started)} ms) to keep V8's code cache and the compiled templates`
        : 'invite-mailer: the first start is left to npm start (the service did not listen here); it will make the code cache and the templates',
    );
  })();
}
