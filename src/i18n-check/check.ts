/**
 * What `npm run check:i18n` checks before a locale or template ships: every
 * problem named by its file and key, so a translator can fix it without
 * reading TypeScript.
 */
import { join } from 'node:path';
import { type Catalog, LocaleFileError, loadCatalog } from '../render/catalog.ts';
import { missingKeys, missingPluralForms, requiredKeys } from '../render/label-keys.ts';
import { loadTemplates, TemplateError, type TemplateSet } from '../render/templates.ts';

export interface I18nProblem {
  /** The file to open: `locales/ru/`, `templates/partials/conference.mjml`. */
  readonly file: string;
  /** The key or line the problem is at, when there is one. */
  readonly where: string | null;
  readonly message: string;
}

export interface I18nCheckOptions {
  readonly localesDir: string;
  readonly templatesDir: string;
  readonly defaultLocale?: string;
}

/**
 * Runs every check; an empty list means the locales and templates are fine.
 *
 * @example
 * const problems = await checkI18n({ localesDir: 'locales', templatesDir: 'templates' });
 * for (const p of problems) console.log(`${p.file}: ${p.where ?? ''} ${p.message}`);
 */
export async function checkI18n(options: I18nCheckOptions): Promise<I18nProblem[]> {
  const problems: I18nProblem[] = [];
  let catalog: Catalog | null = null;
  let templates: TemplateSet | null = null;
  try {
    catalog = await loadCatalog(options.localesDir, options.defaultLocale ?? 'en');
  } catch (error) {
    if (!(error instanceof LocaleFileError)) throw error;
    problems.push({ file: error.file, where: null, message: error.detail });
  }
  try {
    templates = await loadTemplates(options.templatesDir);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    problems.push({ file: error.file, where: error.line ? `line ${error.line}` : null, message: error.detail });
  }
  if (!catalog || !templates) return problems;

  const folder = (locale: string) => `${join(options.localesDir, locale)}/`;
  const usedBy = templateFilesByKey(catalog, templates);

  for (const [locale, keys] of Object.entries(missingKeys(catalog, templates.keyPaths))) {
    for (const key of keys) {
      const files = usedBy.get(key);
      problems.push({ file: folder(locale), where: key, message: `missing: the emails use it${files ? ` (${files.join(', ')})` : ''}` });
    }
  }
  for (const [locale, forms] of Object.entries(missingPluralForms(catalog))) {
    const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories.join(', ');
    for (const form of forms) {
      const places = usedBy.get(form.replace(/_[a-z]+$/, ''));
      problems.push({
        file: folder(locale),
        where: form,
        message: `missing plural form: ${locale} needs ${categories}${places ? ` (counted in ${places.join(', ')})` : ''}`,
      });
    }
  }

  // A counted string (plural forms) needs count= in every call, and count= needs a counted string.
  for (const call of templates.translations.filter((c) => !c.subtree)) {
    const counted = catalog.locales.some((locale) =>
      [...catalog.rawKeys(locale)].some((raw) => raw.startsWith(`${call.key}_`) && /_(zero|one|two|few|many|other)$/.test(raw)),
    );
    const counts = call.passes.includes('count');
    if (counted && !counts) problems.push({ file: call.file, where: `line ${call.line}`, message: `{{t "${call.key}"}} has plural forms: pass count=` });
    if (!counted && counts && catalog.has(catalog.defaultLocale, call.key)) {
      problems.push({
        file: call.file,
        where: `line ${call.line}`,
        message: `{{t "${call.key}" count=…}}: the string has no plural forms (${call.key}_one, ${call.key}_other, …)`,
      });
    }
  }

  const required = new Set(requiredKeys(catalog, templates.keyPaths));
  for (const locale of catalog.locales) {
    for (const key of [...catalog.keys(locale)].sort()) {
      if (!required.has(key)) problems.push({ file: folder(locale), where: key, message: 'unused: no template or code reads it (remove it, or use it)' });
    }
  }

  // A string may use only what its {{t}} call passes: anything else would never be filled in.
  for (const call of templates.translations) {
    for (const locale of catalog.locales) {
      for (const [key, names] of catalog.ownPlaceholders(locale)) {
        if (key !== call.key && !(call.subtree && key.startsWith(`${call.key}.`))) continue;
        const unknown = [...names].filter((name) => !call.passes.includes(name));
        if (unknown.length) {
          problems.push({
            file: folder(locale),
            where: key,
            message: `uses {{${unknown.join('}}, {{')}}}, which ${call.file} line ${call.line} does not pass (it passes: ${call.passes.join(', ') || 'nothing'})`,
          });
        }
      }
    }
  }

  const reference = catalog.defaultLocale;
  const referencePlaceholders = catalog.ownPlaceholders(reference);
  for (const locale of catalog.locales.filter((l) => l !== reference)) {
    for (const [key, names] of catalog.ownPlaceholders(locale)) {
      const expected = referencePlaceholders.get(key);
      if (!expected) continue;
      const missing = [...expected].filter((n) => !names.has(n));
      const extra = [...names].filter((n) => !expected.has(n));
      if (missing.length || extra.length) {
        const detail = [
          missing.length ? `lacks {{${missing.join('}}, {{')}}}` : '',
          extra.length ? `has {{${extra.join('}}, {{')}}} that ${reference} does not` : '',
        ]
          .filter(Boolean)
          .join('; ');
        problems.push({ file: folder(locale), where: key, message: `placeholders differ from ${reference}: ${detail}` });
      }
    }
  }
  return problems;
}

/** For each key, where the templates read it, `file line N` (a call picking among keys reads its whole subtree). */
function templateFilesByKey(catalog: Catalog, templates: TemplateSet): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const keys = [...catalog.keys(catalog.defaultLocale)];
  for (const call of templates.translations) {
    for (const key of [call.key, ...(call.subtree ? keys.filter((k) => k.startsWith(`${call.key}.`)) : [])]) {
      const places = result.get(key) ?? [];
      places.push(`${call.file} line ${call.line}`);
      result.set(key, places);
    }
  }
  return result;
}
