// @ts-check
/**
 * npm start. Runs the service from its bundle (service-bundle.cjs: made again
 * on the first start after a change) with V8's code cache of the way to
 * listening (run-bundle.cjs), or, where the bundle cannot be built, from its
 * sources (run-service.ts).
 *
 * When the service runs from its sources, Node's compile cache keeps V8's
 * compiled code of each of their modules in
 * `node_modules/.cache/invite-mailer/v8/`, keyed by each file's content; it
 * is turned on before they load, as modules compile when imported. Where
 * these folders cannot be written, the service starts all the same.
 * Plain JavaScript for the reason service-bundle.cjs gives.
 */
const { enableCompileCache } = require('node:module');
const { join } = require('node:path');

enableCompileCache(join(__dirname, '../../node_modules/.cache/invite-mailer/v8/'));
const { runBundle } = require('./run-bundle.cjs');
const { serviceBundle } = require('./service-bundle.cjs');

serviceBundle({
  onBuild: (ms) => process.stderr.write(`invite-mailer: bundled the service in ${Math.round(ms)} ms (src/ or node_modules changed since the last start)\n`),
}).then(async (bundle) => {
  if (bundle) runBundle(bundle);
  else await import('./run-service.ts');
});
