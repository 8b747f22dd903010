/**
 * The old generation's growth is set by the service once it listens, not on
 * npm start's command line, where V8 counts it in the hash it checks code
 * caches against (src/cli/heap-growth.ts).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowingFlag } from '../../src/cli/heap-growth.ts';
import { startArgs } from '../helpers/start-command.ts';

/** What Node says of its own code cache as `node:http` and `node:http2` load, under these node flags. */
function builtinCacheLog(flags: readonly string[]): string {
  const run = spawnSync(process.execPath, [...flags, '-e', "require('node:http'); require('node:http2')"], {
    env: { ...process.env, NODE_DEBUG_NATIVE: 'CODE_CACHE' },
    encoding: 'utf8',
  });
  expect(run.status).toBe(0);
  return run.stderr;
}

describe('heap growth', () => {
  it('is set once listening unless the operator gave node a growth of their own', () => {
    expect(heapGrowingFlag([])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(heapGrowingFlag(['--min-semi-space-size=8', '--max-semi-space-size=8'])).toBe('--heap-growing-percent=200');
    expect(heapGrowingFlag(['--heap-growing-percent=50'])).toBeNull();
  });

  it("leaves npm start's node flags as Node's cache of its built-in modules expects (V8 refuses it under --heap-growing-percent)", () => {
    const flags = startArgs().filter((arg) => arg.startsWith('-'));
    const log = builtinCacheLog(flags);
    expect(log).toMatch(/Code cache of \S+ \(\w+\) is accepted/);
    expect(log).not.toContain('is rejected');
    // What the flag on the command line did: every built-in compiled from its source at every start.
    expect(builtinCacheLog([...flags, '--heap-growing-percent=100'])).toContain('is rejected');
  });
});
