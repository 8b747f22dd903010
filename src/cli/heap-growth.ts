/**
 * How far V8 lets the old generation grow between full collections, set by
 * the service once it listens rather than on `npm start`'s command line.
 *
 * V8 lets the old generation grow to up to four times what its last full
 * collection kept before it collects again; at two (`--heap-growing-percent=100`)
 * a 1600-recipient fan-out peaked at 164–168 MB instead of 204–209 MB
 * (alternating fan-outs, README "Performance"). At three, with the young
 * generation at 8 MB (npm start's flags), it peaks at 165–173 MB and takes
 * about 6% less time than at two with 4 MB (149–157 MB). V8 reads the
 * factor at each collection, so it can be set once running. It is not among `npm start`'s
 * node flags because V8 keys code caches by a hash of its flags, and this one
 * is in the hash: on the command line it made V8 refuse Node's own cache of
 * its built-in modules, which were then compiled from their sources at every
 * start (208 against 262 ms to listening, median of 15 alternating starts).
 * Set after listening, the built-ins the service needs are loaded by then,
 * and the bundle's code cache has been written under the flags the next start
 * will have (run-bundle.cjs writes it as LISTENING_CHANNEL is published).
 */

/** The growth npm start runs the service with: each full collection allows three times what it kept. */
export const HEAP_GROWING_PERCENT = 200;

/**
 * The V8 flag to set once listening, or null when the operator gave node one
 * of their own (theirs is kept).
 *
 * @example heapGrowingFlag(process.execArgv) // '--heap-growing-percent=200'
 * @example heapGrowingFlag(['--heap-growing-percent=50']) // null
 */
export function heapGrowingFlag(execArgv: readonly string[]): string | null {
  return execArgv.some((arg) => arg.startsWith('--heap-growing-percent')) ? null : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}
