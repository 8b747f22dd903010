import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `npm start`'s node arguments (flags and entry), read from package.json, so
 * that tests and benchmarks start the service exactly as an operator does.
 *
 * @example spawn(process.execPath, startArgs()) // node --experimental-strip-types … src/cli/start.ts
 */
export function startArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}
