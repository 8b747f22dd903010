/**
 * The files of the service's bundle in dist/: what scripts/build.ts makes and
 * src/start.ts runs, named in one place.
 */

/** The bundle, beside dist/start.js. */
export const BUNDLE_FILE = 'service.cjs';

/**
 * V8's code cache of a bundle: beside it, made by the build's first start (or by the first start
 * that finds none and may write there).
 *
 * @example codeCacheOf('/app/dist/service.cjs') // '/app/dist/service.cjs.v8-cache'
 */
export const codeCacheOf = (bundle: string): string => `${bundle}.v8-cache`;
