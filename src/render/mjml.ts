/**
 * MJML → HTML, once per template change. MJML is heavy (importing it costs
 * ~400 ms, and with its minifier ~100 MB of memory that a process keeps), so
 * a long-running service compiles in a child process that exits afterwards;
 * what it compiled is kept with the rest of the templates' compile
 * (template-cache.ts), so a start with unchanged templates does not load MJML.
 */
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { nodeFlagsFor, siblingModule } from '../runtime/sibling-module.ts';
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
export async function compileMjmlFiles(paths: readonly string[], root: string, where: 'in-process' | 'child-process'): Promise<Map<string, string>> {
  const results = where === 'child-process' ? await compileInChild(paths, root) : await compileHere(paths, root);
  const html = new Map<string, string>();
  for (const result of results) {
    if ('error' in result) throw new TemplateError(result.path, result.error.line, result.error.detail);
    html.set(result.path, result.html);
  }
  return html;
}

/** Compiles in this process (imports mjml once per process). */
export async function compileHere(paths: readonly string[], root: string): Promise<CompileResult[]> {
  const mjml = ((await import('mjml')) as unknown as { default: Mjml2Html }).default;
  const results: CompileResult[] = [];
  for (const path of paths) results.push(await compileOne(mjml, path, root));
  return results;
}

/** The options every template compiles with (part of the cache key). */
export const MJML_COMPILE_OPTIONS = {
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
    result = await mjml(await readFile(path, 'utf8'), { ...MJML_COMPILE_OPTIONS, filePath: path, actualPath: path, includePath: root });
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
    const compiler = siblingModule(import.meta.url, 'mjml-child');
    const child = fork(fileURLToPath(compiler), [], {
      execArgv: nodeFlagsFor(compiler),
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
