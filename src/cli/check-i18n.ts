/**
 * npm run check:i18n
 *
 * Fails (exit 1), naming the file and key, when a key the emails use is
 * missing in a language, a plural form a language needs is missing, the
 * {{placeholders}} of a string differ from the default language's, a key is
 * unused, a locale file is not valid JSON, or a template does not compile
 * (MJML that does not validate, a Handlebars helper that does not exist).
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkI18n } from '../i18n-check/check.ts';
import { runMain } from './common.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function main(): Promise<number> {
  const problems = await checkI18n({ localesDir: `${ROOT}locales`, templatesDir: `${ROOT}templates`, defaultLocale: process.env.DEFAULT_LOCALE ?? 'en' });
  for (const problem of problems) {
    console.log(`${relative(ROOT, problem.file) || problem.file}${problem.where ? `: ${problem.where}` : ''}: ${problem.message}`);
  }
  if (problems.length) {
    console.log(`check:i18n: ${problems.length} problem(s)`);
    return 1;
  }
  console.log('check:i18n: every language has every string the emails use, with the same placeholders and all its plural forms; every template compiles');
  return 0;
}

runMain(main);
