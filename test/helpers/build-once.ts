/**
 * Vitest's global set-up: dist/ built before any test starts the service as
 * an operator does (`node dist/start.js`, startArgs), when src/ changed since
 * the last build (`npm start` decides the same way: scripts/build.ts --if-stale).
 */
import { spawnSync } from 'node:child_process';
import { ROOT } from './start-command.ts';

export default function buildOnce(): void {
  const result = spawnSync(process.execPath, ['scripts/build.ts', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm run build failed (exit ${result.status ?? result.signal}): the tests that start dist/start.js cannot run`);
}
