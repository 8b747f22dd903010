// @ts-check
/**
 * `npm start`'s node arguments (flags and entry), read from package.json, so
 * that whatever starts the service outside npm (the install's first start in
 * run-bundle.cjs, the tests, the benchmark) starts it exactly as an operator
 * does: V8 keys its code cache by some of these flags.
 *
 * Plain CommonJS for the reason service-bundle.cjs gives.
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/**
 * @example spawn(process.execPath, startArgs()) // node --min-semi-space-size=8 … src/cli/start.cjs
 * @returns {string[]}
 */
function startArgs() {
  const { scripts } = /** @type {{ scripts: { start: string } }} */ (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')));
  const words = scripts.start.trim().split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}

module.exports = { startArgs };
