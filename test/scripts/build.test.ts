/**
 * When npm start builds (scripts/build.ts --if-stale): after any change to
 * src/ or to a build setting, and never for a dist/ whose build did not finish.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isFresh } from '../../scripts/build.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A project whose inputs were all saved at `savedAt` (seconds), built at `builtAt`, or never built (null). */
function project(savedAt: number, builtAt: number | null): string {
  const root = mkdtempSync(join(tmpdir(), 'build-staleness-'));
  roots.push(root);
  const inputs = ['src/main.ts', 'src/render/views.ts', 'src/outbox/redis/scripts/claim-events-3.lua'];
  const settings = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.ts', 'scripts/start-command.ts', 'package.json'];
  for (const file of [...inputs, ...settings]) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), '');
    utimesSync(join(root, file), savedAt, savedAt);
  }
  if (builtAt !== null) {
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist', '.built'), '');
    utimesSync(join(root, 'dist', '.built'), builtAt, builtAt);
  }
  return root;
}

describe('npm start builds dist/ when', () => {
  it('it was never built, or its build did not finish (no .built)', () => {
    expect(isFresh(project(1000, null))).toBe(false);
  });

  it('not when it was built after every input changed', () => {
    expect(isFresh(project(1000, 2000))).toBe(true);
  });

  it.each(['src/render/views.ts', 'src/outbox/redis/scripts/claim-events-3.lua', 'tsconfig.build.json', 'package.json'])(
    '%s changed since the build',
    (file) => {
      const root = project(1000, 2000);
      utimesSync(join(root, file), 3000, 3000);
      expect(isFresh(root)).toBe(false);
    },
  );
});
