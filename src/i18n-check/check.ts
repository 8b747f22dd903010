/**
 * What `npm run check:i18n` checks before a locale or template ships: every
 * problem named by its file and key, so a translator can fix it without
 * reading TypeScript.
 */
import { join } from 'node:path';
import { loadCatalog, LocaleFileError, type Catalog } from '../render/catalog.ts';
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

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.]+)\s*(?:,[^}]*)?\}\}/g;
const PLURAL_SUFFIX = /_(zero|one|two|few|many|other)$/;

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

  const folder = (locale: string) => join(options.localesDir, locale) + '/';
  const usedBy = templateFilesByKey(catalog, templates);

  for (const [locale, keys] of Object.entries(missingKeys(catalog, templates.keyPaths))) {
    for (const key of keys) {
      const files = usedBy.get(key);
      problems.push({ file: folder(locale), where: key, message: `missing: the emails use it${files ? ` (${files.join(', ')})` : ''}` });
    }
  }
  for (const [locale, forms] of Object.entries(missingPluralForms(catalog))) {
    const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories.join(', ');
    for (const form of forms) problems.push({ file: folder(locale), where: form, message: `missing plural form: ${locale} needs ${categories}` });
  }

  const required = new Set(requiredKeys(catalog, templates.keyPaths));
  for (const locale of catalog.locales) {
    for (const key of [...catalog.keys(locale)].sort()) {
      if (!required.has(key)) problems.push({ file: folder(locale), where: key, message: 'unused: no template or code reads it (remove it, or use it)' });
    }
  }

  // A string read with {{t "key" …}} may use only what that call passes: anything else would reach the email as text.
  const placeholders = new Map(catalog.locales.map((locale) => [locale, placeholdersByKey(catalog, locale)]));
  for (const call of templates.translations) {
    for (const locale of catalog.locales) {
      const names = placeholders.get(locale)!.get(call.key);
      const unknown = [...(names ?? [])].filter((name) => !call.passes.includes(name));
      if (unknown.length) {
        problems.push({ file: folder(locale), where: call.key, message: `uses {{${unknown.join('}}, {{')}}}, which ${call.file} line ${call.line} does not pass (it passes: ${call.passes.join(', ') || 'nothing'})` });
      }
    }
  }

  const reference = catalog.defaultLocale;
  const referencePlaceholders = placeholders.get(reference)!;
  for (const locale of catalog.locales.filter((l) => l !== reference)) {
    for (const [key, names] of placeholders.get(locale)!) {
      const expected = referencePlaceholders.get(key);
      if (!expected) continue;
      const missing = [...expected].filter((n) => !names.has(n));
      const extra = [...names].filter((n) => !expected.has(n));
      if (missing.length || extra.length) {
        const detail = [missing.length ? `lacks {{${missing.join('}}, {{')}}}` : '', extra.length ? `has {{${extra.join('}}, {{')}}} that ${reference} does not` : '']
          .filter(Boolean)
          .join('; ');
        problems.push({ file: folder(locale), where: key, message: `placeholders differ from ${reference}: ${detail}` });
      }
    }
  }
  return problems;
}

/** The `{{names}}` each key's strings use, plural forms of a key together. */
function placeholdersByKey(catalog: Catalog, locale: string): Map<string, Set<string>> {
  const byKey = new Map<string, Set<string>>();
  for (const raw of catalog.rawKeys(locale)) {
    const text = catalog.i18n.getResource(locale, 'translation', raw);
    if (typeof text !== 'string') continue;
    const key = raw.replace(PLURAL_SUFFIX, '');
    const names = byKey.get(key) ?? new Set<string>();
    for (const match of text.matchAll(PLACEHOLDER)) names.add(match[1]!);
    byKey.set(key, names);
  }
  return byKey;
}

/** For each key, the template files that read it (or its subtree), for the message. */
function templateFilesByKey(catalog: Catalog, templates: TemplateSet): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const source of templates.sources) {
    for (const match of source.handlebars.matchAll(/(?:@root\.|\.\.\/)?t\.([A-Za-z0-9_.-]+)|(?:\{\{~?|\()\s*t\s+"([^"]+)"/g)) {
      const path = (match[1] ?? match[2])!;
      for (const key of [path, ...[...catalog.keys(catalog.defaultLocale)].filter((k) => k.startsWith(`${path}.`))]) {
        const files = result.get(key) ?? [];
        if (!files.includes(source.file)) files.push(source.file);
        result.set(key, files);
      }
    }
  }
  return result;
}
