import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `npm start`'s node arguments (flags and entry), read from package.json, so
 * that the tests and the benchmark start the service exactly as an operator
 * does (dist/ is built by the tests' global set-up, build-once.ts).
 *
 * @example spawn(process.execPath, startArgs(), { cwd: ROOT }) // node dist/start.js
 */
export function startArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(new URL('package.json', `file://${ROOT}`), 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}
