/**
 * Which locale keys the emails need: the keys the templates' `{{t}}` calls
 * read (`{{t "conference.join"}}`, the subtree of `{{t "statuses" status}}`),
 * and the keys code composes strings from, each list declared beside the code
 * that reads it.
 */
import type { Catalog } from './catalog.ts';
import { CHANGES_VIEW_KEYS } from './changes-view.ts';
import { CONFERENCE_VIEW_KEYS } from './conference-view.ts';
import { FAILURE_REASON_KEYS } from './failure-reason.ts';
import { RECURRENCE_TEXT_KEYS } from './recurrence-text.ts';
import { TIME_TEXT_KEYS } from './time-text.ts';
import { VIEW_KEYS } from './views.ts';

const expanded = new WeakMap<ReadonlySet<string>, Map<Catalog, string[]>>();

/** The leaf keys named by template paths, leaves and subtrees, from every language. */
export function expandLabelPaths(catalog: Catalog, keyPaths: ReadonlySet<string>): string[] {
  let byCatalog = expanded.get(keyPaths);
  if (!byCatalog) {
    byCatalog = new Map();
    expanded.set(keyPaths, byCatalog);
  }
  let keys = byCatalog.get(catalog);
  if (!keys) {
    const all = new Set<string>();
    for (const locale of catalog.locales) for (const key of catalog.keys(locale)) all.add(key);
    const out = new Set<string>();
    for (const path of keyPaths) {
      let found = false;
      for (const key of all) {
        if (key === path || key.startsWith(`${path}.`)) {
          out.add(key);
          found = true;
        }
      }
      if (!found) out.add(path); // used but defined nowhere: reported as missing
    }
    keys = [...out];
    byCatalog.set(catalog, keys);
  }
  return keys;
}

/**
 * Every key an email may read, each a leaf: template paths expanded, plus the
 * keys code reads.
 *
 * @example requiredKeys(catalog, templates.keyPaths).includes('conference.join') // true
 */
export function requiredKeys(catalog: Catalog, keyPaths: ReadonlySet<string>): string[] {
  const code = new Set<string>([
    ...TIME_TEXT_KEYS,
    ...RECURRENCE_TEXT_KEYS,
    ...VIEW_KEYS,
    ...CHANGES_VIEW_KEYS,
    ...CONFERENCE_VIEW_KEYS,
    ...FAILURE_REASON_KEYS,
  ]);
  return [...new Set([...expandLabelPaths(catalog, keyPaths), ...expandLabelPaths(catalog, code)])].sort();
}

/**
 * Keys an email needs that a language lacks, by language.
 *
 * @example missingKeys(catalog, templates.keyPaths) // { ru: [], en: [] }
 */
export function missingKeys(catalog: Catalog, keyPaths: ReadonlySet<string>): Record<string, string[]> {
  const required = requiredKeys(catalog, keyPaths);
  return Object.fromEntries(catalog.locales.map((locale) => [locale, required.filter((key) => !catalog.has(locale, key))]));
}

/**
 * Plural forms a language needs (CLDR, through Intl.PluralRules) that its
 * files lack: Russian needs one, few, many and other.
 *
 * @example missingPluralForms(catalog).ru // ['people.more_few'] when that form is missing
 */
export function missingPluralForms(catalog: Catalog): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const locale of catalog.locales) {
    const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
    const raw = catalog.rawKeys(locale);
    const bases = new Set([...raw].map((key) => /^(.*)_(?:zero|one|two|few|many|other)$/.exec(key)?.[1]).filter((b): b is string => b !== undefined));
    const missing: string[] = [];
    for (const base of [...bases].sort()) {
      for (const category of categories) if (!raw.has(`${base}_${category}`)) missing.push(`${base}_${category}`);
    }
    result[locale] = missing;
  }
  return result;
}
