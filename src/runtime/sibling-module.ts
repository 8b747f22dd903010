/**
 * Modules run in a thread or a process of their own (the bounce reader's
 * thread, the MJML compiler) are named by their file, which is `.ts` where the
 * service runs from src/ (tests, the CLI: Node strips the types) and `.js`
 * where it runs from dist/ (`npm run build`, then `node dist/start.js`, on
 * any Node >= 22.13 with no flag).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The file of module `name` beside the module at `moduleUrl`, with that module's own extension.
 *
 * @example new Worker(siblingModule(import.meta.url, 'reader-thread')) // …/src/bounce/reader-thread.ts, or …/dist/bounce/reader-thread.js
 */
export function siblingModule(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${extname(fileURLToPath(moduleUrl))}`, moduleUrl);
}

/**
 * Node's flags for a process that runs `file`: type stripping for a `.ts`
 * file (on by default from Node 23.6, behind the flag on 22), none for `.js`.
 *
 * @example fork(file, [], { execArgv: nodeFlagsFor(file) })
 */
export function nodeFlagsFor(file: URL | string): string[] {
  const path = typeof file === 'string' ? file : fileURLToPath(file);
  return path.endsWith('.ts') ? ['--experimental-strip-types', '--disable-warning=ExperimentalWarning'] : [];
}
