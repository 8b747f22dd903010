/**
 * The V8 flags the service sets once it listens, rather than on `npm start`'s
 * command line: V8 keys code caches by a hash of its flags, and these are in
 * it. On the command line they made V8 refuse Node's own cache of its
 * built-in modules, which were then compiled from their sources at every
 * start (208 against 262 ms to listening, median of 15 alternating starts,
 * for the heap flag). Set after listening, the built-ins the service needs
 * are loaded by then. V8 reads both at each use, so they can be set once
 * running. A flag the operator gave node is kept.
 *
 * **How far the old generation grows between full collections.**
 * V8 lets the old generation grow to up to four times what its last full
 * collection kept before it collects again. Chosen by ten 1600-recipient
 * fan-outs back to back through one service (bench:service), not by one:
 * at three (`--heap-growing-percent=200`) one fan-out peaked at 165–173 MB,
 * but ten climbed to 248–252 MB; at two, 208–211 MB; at one and a half (50),
 * 190–191 MB, level from the seventh on, each fan-out as quick (once the
 * worker's cache of parsed requests was bounded by size: before, the heap a
 * full collection kept grew from 26 to 60 MB over the ten, and at 50 they
 * reached 204 MB still climbing).
 *
 * **Baseline code for every function compiled from then on**
 * (`--always-sparkplug`). What a request runs is compiled when first
 * called: the first fan-out of a process runs much of its code in V8's
 * interpreter until a function has been called often enough for Sparkplug,
 * V8's quick non-optimizing compiler. Compiled by Sparkplug at once,
 * alternating first fan-outs, fourteen each, took 1.31 s and 1.46 s against
 * 1.46 s and 1.58 s (medians of six and eight; nine pairs of fourteen shorter),
 * the service's CPU 1.40–1.55 s against 1.48–1.69 s, for ~3 MB more at the peak
 * (docs/design/own-paths.md).
 */

/** The growth npm start runs the service with: each full collection allows one and a half times what it kept. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * The V8 flag to set once listening, or null when the operator gave node one
 * of their own (theirs is kept).
 *
 * @example heapGrowingFlag(process.execArgv) // '--heap-growing-percent=50'
 * @example heapGrowingFlag(['--heap-growing-percent=100']) // null
 */
export function heapGrowingFlag(execArgv: readonly string[]): string | null {
  return given(execArgv, 'heap-growing-percent') ? null : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/**
 * `--always-sparkplug`, or null when the operator gave node a Sparkplug flag
 * of their own or runs it without a JIT (`--jitless`).
 *
 * @example baselineCompilerFlag(process.execArgv) // '--always-sparkplug'
 * @example baselineCompilerFlag(['--jitless']) // null
 */
export function baselineCompilerFlag(execArgv: readonly string[]): string | null {
  return given(execArgv, 'always-sparkplug', 'sparkplug', 'jitless') ? null : '--always-sparkplug';
}

/**
 * Every flag to set once listening, in the order set.
 *
 * @example flagsOnceListening([]) // ['--heap-growing-percent=50', '--always-sparkplug']
 */
export function flagsOnceListening(execArgv: readonly string[]): string[] {
  return [heapGrowingFlag(execArgv), baselineCompilerFlag(execArgv)].filter((flag) => flag !== null);
}

/** Whether node was given one of these V8 flags, as V8 reads them: `_` for `-`, `--no-` before a boolean, `=` before a value. */
function given(execArgv: readonly string[], ...names: string[]): boolean {
  return execArgv.some((arg) =>
    names.includes(
      arg
        .split('=')[0]!
        .replaceAll('_', '-')
        .replace(/^--(?:no-)?/, ''),
    ),
  );
}
