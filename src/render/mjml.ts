/**
 * MJML → HTML, once per template change. MJML is heavy (importing it costs
 * ~400 ms, and with its minifier ~100 MB of memory that a process keeps), so
 * a long-running service compiles in a child process that exits afterwards,
 * and keeps what it compiled in a cache keyed by the templates' hash: a start
 * with unchanged templates does not load MJML at all. The preview compiles
 * live, without the cache.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TemplateError } from './template-error.ts';

type Mjml2Html = (
  source: string,
  options: Record<string, unknown>,
) => Promise<{ html: string; errors: { line: number; message: string; formattedMessage: string }[] }>;

/** What the compiler child answers: HTML per file, or the first error. */
export type CompileResult =
  | { readonly path: string; readonly html: string }
  | { readonly path: string; readonly error: { readonly line?: number; readonly detail: string } };

/**
 * MJML validates attribute values; a Handlebars placeholder such as
 * `background-color="{{brand.accentColor}}"` is filled per message and valid then.
 */
export function isPlaceholderAttribute(error: { message: string }): boolean {
  return /has invalid value: \{\{[^}]+\}\}/.test(error.message);
}

/**
 * Compiles each MJML file (with `<mj-include>`s from inside `root` only) to
 * HTML with the Handlebars placeholders kept.
 *
 * @throws TemplateError naming the file and line of the first problem.
 */
export async function compileMjmlFiles(
  paths: readonly string[],
  root: string,
  where: 'in-process' | 'child-process',
  cacheDir: string | null = null,
): Promise<Map<string, string>> {
  const cacheFile = cacheDir ? join(cacheDir, `mjml-${await templatesHash(paths, root)}.json`) : null;
  const cached = cacheFile ? await readCache(cacheFile, paths, root) : null;
  if (cached) return cached;
  const results = where === 'child-process' ? await compileInChild(paths, root) : await compileHere(paths, root);
  const html = new Map<string, string>();
  for (const result of results) {
    if ('error' in result) throw new TemplateError(result.path, result.error.line, result.error.detail);
    html.set(result.path, result.html);
  }
  if (cacheFile) await writeCache(cacheFile, html, root);
  return html;
}

/**
 * What the compiled HTML depends on: every MJML file below `root` (the
 * compiled ones and what they include), the files asked for, the MJML
 * version and this module's compile options.
 */
async function templatesHash(paths: readonly string[], root: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`mjml ${mjmlVersion()}\n${JSON.stringify(COMPILE_OPTIONS)}\n${paths.map((p) => relative(root, p)).join('\n')}\n`);
  for (const file of await mjmlFilesBelow(root)) hash.update(`${relative(root, file)}\n`).update(await readFile(file));
  return hash.digest('hex').slice(0, 32);
}

async function mjmlFilesBelow(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await mjmlFilesBelow(path)));
    else if (entry.name.endsWith('.mjml')) found.push(path);
  }
  return found;
}

function mjmlVersion(): string {
  return (createRequire(import.meta.url)('mjml/package.json') as { version: string }).version;
}

async function readCache(file: string, paths: readonly string[], root: string): Promise<Map<string, string> | null> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    const html = new Map(paths.map((path) => [path, stored[relative(root, path)]] as const));
    return [...html.values()].every((value) => typeof value === 'string') ? (html as Map<string, string>) : null;
  } catch {
    return null; // no cache yet, or one that cannot be read: compile
  }
}

/** Written whole or not at all (a rename), so that a start never reads half a cache; a read-only disk only costs the next start a compile. */
async function writeCache(file: string, html: ReadonlyMap<string, string>, root: string): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(Object.fromEntries([...html].map(([path, value]) => [relative(root, path), value]))));
    await rename(temporary, file);
  } catch {
    // not cached: the next start compiles again
  }
}

/** Compiles in this process (imports mjml once per process). */
export async function compileHere(paths: readonly string[], root: string): Promise<CompileResult[]> {
  const mjml = ((await import('mjml')) as unknown as { default: Mjml2Html }).default;
  const results: CompileResult[] = [];
  for (const path of paths) results.push(await compileOne(mjml, path, root));
  return results;
}

/** The options every template compiles with (part of the cache key). */
const COMPILE_OPTIONS = {
  ignoreIncludes: false,
  validationLevel: 'soft',
  keepComments: false,
  // A third smaller than the indented output, and as much less string work per recipient.
  minify: true,
  minifyOptions: { minifyCss: false },
  templateSyntax: [{ prefix: '{{', suffix: '}}' }],
  // No web fonts: MJML would link Google Fonts for "Roboto" in the font stack, a request
  // to a third party from every opened email. System fonts only.
  fonts: {},
} as const;

async function compileOne(mjml: Mjml2Html, path: string, root: string): Promise<CompileResult> {
  let result: Awaited<ReturnType<Mjml2Html>>;
  try {
    result = await mjml(await readFile(path, 'utf8'), { ...COMPILE_OPTIONS, filePath: path, actualPath: path, includePath: root });
  } catch (error) {
    return { path, error: { detail: `MJML: ${(error as Error).message}` } };
  }
  const problem = result.errors.find((error) => !isPlaceholderAttribute(error));
  if (problem) return { path, error: { line: problem.line, detail: `MJML: ${problem.formattedMessage}` } };
  if (result.html.includes('mj-include fails') || result.html.includes('mj-include denied')) {
    return { path, error: { detail: 'MJML: an <mj-include> could not be read (the path must stay inside templates/)' } };
  }
  return { path, html: result.html };
}

function compileInChild(paths: readonly string[], root: string): Promise<CompileResult[]> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./mjml-child.ts', import.meta.url)), [], {
      execArgv: ['--experimental-strip-types', '--disable-warning=ExperimentalWarning'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answered = false;
    child.once('message', (message: { results: CompileResult[] }) => {
      answered = true;
      resolve(message.results);
      child.disconnect();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`the MJML compiler process exited with ${code} before answering`));
    });
    child.send({ paths, root });
  });
}
