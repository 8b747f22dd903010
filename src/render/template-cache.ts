/**
 * Compiled templates kept on disk, keyed by a hash of everything they are
 * made of: every file below `templates/`, the MJML and Handlebars versions and
 * their compile options. A start with unchanged templates loads neither MJML
 * (~400 ms to import) nor Handlebars' compiler (~250 ms for these templates):
 * it reads the HTML MJML made and Handlebars' precompiled functions. Any
 * change to a template gives another key, so a stale entry is never read; an
 * entry that cannot be read is compiled over. The preview compiles live.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { TemplateSource, TranslationCall } from './templates.ts';

/** What a compile of the templates produced, with paths relative to the templates folder. */
export interface StoredTemplates {
  /** Every template file and what Handlebars compiles of it (for MJML: the HTML MJML made). */
  readonly sources: readonly TemplateSource[];
  /** Handlebars.precompile's output per template file (JavaScript source of the template spec). */
  readonly specs: Readonly<Record<string, string>>;
  readonly translations: readonly TranslationCall[];
}

/** Bumped when StoredTemplates or the way templates compile changes. */
const FORMAT = 1;

/**
 * The cache file for the templates below `root` as they are now.
 *
 * @example const file = await templateCacheFile('node_modules/.cache/invite-mailer', '/app/templates', { mjml: {…}, handlebars: {…} })
 */
export async function templateCacheFile(cacheDir: string, root: string, compileOptions: object): Promise<string> {
  const require = createRequire(import.meta.url);
  const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
  const hash = createHash('sha256');
  hash.update(`${FORMAT}\nmjml ${version('mjml')}\nhandlebars ${version('handlebars')}\n${JSON.stringify(compileOptions)}\n`);
  // Read synchronously: some 30 small files, each awaited read a round trip through libuv's
  // thread pool, took 19–26 ms of every start; read in one go, 4–7 ms with the hashing. This runs
  // before the service listens, or in a CLI, when nothing else is waiting.
  for (const file of filesBelow(root)) hash.update(`${relative(root, file)}\n`).update(readFileSync(file));
  return join(cacheDir, `templates-${hash.digest('hex').slice(0, 32)}.json`);
}

/** In code-unit order (sort()): localeCompare's first call loads ICU's collator, ~9 ms of every start. */
function filesBelow(dir: string): string[] {
  const below = readdirSync(dir, { recursive: true, withFileTypes: true });
  return below
    .filter((entry) => entry.isFile() && /\.(mjml|hbs)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The stored compile, or null when there is none or it cannot be read (then the caller compiles). */
export async function readTemplateCache(file: string): Promise<StoredTemplates | null> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as StoredTemplates;
    return Array.isArray(stored.sources) && Array.isArray(stored.translations) && typeof stored.specs === 'object' && stored.specs ? stored : null;
  } catch {
    return null;
  }
}

/** Written whole or not at all (a rename), so that a start never reads half an entry; a read-only disk only costs the next start a compile. */
export async function writeTemplateCache(file: string, stored: StoredTemplates): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(stored));
    await rename(temporary, file);
  } catch {
    // not cached: the next start compiles again
  }
}
