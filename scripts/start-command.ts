/**
 * `npm start`'s node arguments (V8 flags and entry), read from package.json,
 * so that what starts the service outside npm (the build's first start, the
 * tests, the benchmark) starts it exactly as an operator does: V8 refuses a
 * code cache made under other flags, and the young generation's size is one
 * of them (docs/design/own-paths.md). The Dockerfile's CMD and the systemd
 * unit name the same arguments (test/deploy/deployment-files.test.ts).
 *
 * @example startArgs() // ['--min-semi-space-size=8', '--max-semi-space-size=8', 'dist/start.js']
 */
import { readFileSync } from 'node:fs';

export function startArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}
