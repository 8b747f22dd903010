/**
 * The old generation's growth and Sparkplug for every function are set by the
 * service once it listens, not on npm start's command line, where V8 counts
 * them in the hash it checks code caches against (src/cli/v8-flags.ts).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { baselineCompilerFlag, flagsOnceListening, HEAP_GROWING_PERCENT, heapGrowingFlag } from '../../src/cli/v8-flags.ts';
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

describe('the V8 flags set once listening', () => {
  it("the old generation's growth, unless the operator gave node one of their own", () => {
    expect(heapGrowingFlag([])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(heapGrowingFlag(['--min-semi-space-size=8', '--max-semi-space-size=8'])).toBe('--heap-growing-percent=50');
    expect(heapGrowingFlag(['--heap-growing-percent=100'])).toBeNull();
    expect(heapGrowingFlag(['--heap_growing_percent=50'])).toBeNull();
  });

  it('Sparkplug for every function compiled from then on, unless the operator said otherwise or runs without a JIT', () => {
    expect(baselineCompilerFlag(['--min-semi-space-size=8'])).toBe('--always-sparkplug');
    for (const theirs of ['--no-always-sparkplug', '--always-sparkplug', '--always_sparkplug', '--no-sparkplug', '--sparkplug', '--jitless']) {
      expect(baselineCompilerFlag([theirs]), theirs).toBeNull();
    }
    // Another flag whose name only begins alike is not theirs.
    expect(baselineCompilerFlag(['--sparkplug-filter=*'])).toBe('--always-sparkplug');
    expect(flagsOnceListening([])).toEqual([`--heap-growing-percent=${HEAP_GROWING_PERCENT}`, '--always-sparkplug']);
    expect(flagsOnceListening(['--jitless', '--heap-growing-percent=100'])).toEqual([]);
  });

  it("leaves npm start's node flags as Node's cache of its built-in modules expects (V8 refuses it under either flag)", () => {
    const flags = startArgs().filter((arg) => arg.startsWith('-'));
    const log = builtinCacheLog(flags);
    expect(log).toMatch(/Code cache of \S+ \(\w+\) is accepted/);
    expect(log).not.toContain('is rejected');
    // What either flag on the command line does: every built-in compiled from its source at every start.
    for (const flag of flagsOnceListening([])) expect(builtinCacheLog([...flags, flag]), flag).toContain('is rejected');
  });
});
