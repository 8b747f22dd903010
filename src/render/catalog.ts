/**
 * The translations: every `locales/<language>/*.json`, loaded once into one
 * i18next instance. A language is a folder; nothing else needs to change to
 * add one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import i18next, { type i18n } from 'i18next';

/** A locale file that cannot be read, with the file and where in it. */
export class LocaleFileError extends Error {
  readonly code = 'LOCALE_INVALID';
  readonly file: string;
  readonly detail: string;

  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'LocaleFileError';
    this.file = file;
    this.detail = detail;
  }
}

/**
 * Translates one key of one language; `count` picks the plural form.
 * (i18next's own TFunction type is keyed to a resource type we load at run time.)
 */
export type Translate = (key: string, values?: Readonly<Record<string, unknown>>) => string;

const PLURAL_SUFFIX = /_(zero|one|two|few|many|other)$/;

export interface Catalog {
  /** The languages there are folders for, e.g. ['en', 'ru']. */
  readonly locales: readonly string[];
  readonly defaultLocale: string;
  /** The language to use for a recipient's `locale`: exact, then its base language, then the default. */
  resolveLocale(requested: string | undefined): string;
  /** A translate function bound to one language, made once per language. */
  translator(locale: string): Translate;
  /** Whether a key (plural forms count as the key) exists in that language's own files. */
  has(locale: string, key: string): boolean;
  /** Every key of a language, plural suffixes removed: `people.more` for `people.more_few`. */
  keys(locale: string): ReadonlySet<string>;
  /** The raw keys of a language with their plural suffixes: `people.more_few`. */
  rawKeys(locale: string): ReadonlySet<string>;
  /**
   * The `{{names}}` a key's string uses in a language (its own, else the default
   * language's), every plural form together.
   */
  placeholders(locale: string, key: string): ReadonlySet<string>;
  /** The `{{names}}` of every key a language's own files hold (plural forms together). */
  ownPlaceholders(locale: string): ReadonlyMap<string, ReadonlySet<string>>;
  /** Writing direction of a language, from CLDR through Intl. */
  direction(locale: string): 'ltr' | 'rtl';
  readonly i18n: i18n;
}

/**
 * Loads every locale folder below `localesDir`.
 *
 * @throws LocaleFileError for a JSON file that does not parse or is not an object.
 * @example
 * const catalog = await loadCatalog('locales', 'en');
 * catalog.translator('ru')('actions.openCalendar') // 'Открыть календарь'
 */
export async function loadCatalog(localesDir: string, defaultLocale: string): Promise<Catalog> {
  const resources: Record<string, { translation: Record<string, unknown> }> = {};
  // In code-unit order (sort()): localeCompare's first call loads ICU's collator, ~9 ms of every start.
  // Read synchronously, as the templates' hash reads them (template-cache.ts): a few small files,
  // at start (before listening) or when the preview reloads.
  const folders = readdirSync(localesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  for (const folder of folders.sort()) {
    const merged: Record<string, unknown> = {};
    const files = readdirSync(join(localesDir, folder))
      .filter((f) => f.endsWith('.json'))
      .sort();
    for (const file of files) {
      const path = join(localesDir, folder, file);
      const content = parseLocaleFile(path, readFileSync(path, 'utf8'));
      for (const [key, value] of Object.entries(content)) {
        if (key in merged) throw new LocaleFileError(path, `top-level key "${key}" is already defined by another file of ${folder}`);
        merged[key] = value;
      }
    }
    resources[folder] = { translation: merged };
  }
  const locales = Object.keys(resources);
  if (!locales.includes(defaultLocale)) {
    throw new LocaleFileError(join(localesDir, defaultLocale), `the default locale "${defaultLocale}" has no folder (found: ${locales.join(', ') || 'none'})`);
  }

  const instance = i18next.createInstance();
  await instance.init({
    resources,
    lng: defaultLocale,
    fallbackLng: defaultLocale,
    supportedLngs: locales,
    initAsync: false,
    returnNull: false,
    // Handlebars escapes HTML exactly once; subject and text are never HTML.
    interpolation: { escapeValue: false },
    showSupportNotice: false,
  } as Parameters<typeof instance.init>[0]);

  const rawKeys = new Map<string, Set<string>>();
  const keys = new Map<string, Set<string>>();
  for (const locale of locales) {
    const raw = new Set(flattenKeys(resources[locale]!.translation));
    rawKeys.set(locale, raw);
    keys.set(locale, new Set([...raw].map((key) => key.replace(PLURAL_SUFFIX, ''))));
  }
  const translators = new Map<string, Translate>();
  const directions = new Map<string, 'ltr' | 'rtl'>();
  const placeholderMaps = new Map<string, Map<string, Set<string>>>();
  const placeholderMap = (locale: string) => {
    let map = placeholderMaps.get(locale);
    if (!map) {
      map = new Map();
      for (const raw of rawKeys.get(locale) ?? []) {
        const text = instance.getResource(locale, 'translation', raw);
        if (typeof text !== 'string') continue;
        const key = raw.replace(PLURAL_SUFFIX, '');
        const names = map.get(key) ?? new Set<string>();
        for (const match of text.matchAll(PLACEHOLDER_NAMES)) names.add(match[1]!);
        map.set(key, names);
      }
      placeholderMaps.set(locale, map);
    }
    return map;
  };

  return Object.freeze({
    locales,
    defaultLocale,
    i18n: instance,
    resolveLocale(requested: string | undefined): string {
      if (!requested) return defaultLocale;
      const normalized = requested.replace('_', '-');
      const exact = locales.find((l) => l.toLowerCase() === normalized.toLowerCase());
      if (exact) return exact;
      const base = normalized.split('-')[0]!.toLowerCase();
      return locales.find((l) => l.toLowerCase() === base) ?? defaultLocale;
    },
    translator(locale: string): Translate {
      let t = translators.get(locale);
      if (!t) {
        t = compiledTranslator(instance, locale, defaultLocale, rawKeys);
        translators.set(locale, t);
      }
      return t;
    },
    has(locale: string, key: string): boolean {
      return keys.get(locale)?.has(key) ?? false;
    },
    keys(locale: string): ReadonlySet<string> {
      return keys.get(locale) ?? new Set();
    },
    rawKeys(locale: string): ReadonlySet<string> {
      return rawKeys.get(locale) ?? new Set();
    },
    placeholders(locale: string, key: string): ReadonlySet<string> {
      return placeholderMap(locale).get(key) ?? placeholderMap(defaultLocale).get(key) ?? new Set();
    },
    ownPlaceholders: placeholderMap,
    direction(locale: string): 'ltr' | 'rtl' {
      let direction = directions.get(locale);
      if (!direction) {
        direction = textDirection(locale);
        directions.set(locale, direction);
      }
      return direction;
    },
  });
}

/** A `{{name}}` placeholder of i18next's default interpolation. */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g;
/** The name of a placeholder, formatted ones (`{{count, number}}`) too. */
const PLACEHOLDER_NAMES = /\{\{\s*([A-Za-z0-9_.]+)\s*(?:,[^}]*)?\}\}/g;

/**
 * A translate function for one language that compiles each plain string
 * once (split at its `{{placeholders}}`) and fills it by concatenation; a
 * string with plural forms, nesting (`$t(…)`) or formatting goes through
 * i18next. Same result, without i18next's per-call lookup and regex work,
 * which was a third of rendering time here.
 */
function compiledTranslator(instance: i18n, locale: string, defaultLocale: string, rawKeys: Map<string, Set<string>>): Translate {
  const viaI18next = instance.getFixedT(locale) as unknown as Translate;
  const compiled = new Map<string, ((values?: Readonly<Record<string, unknown>>) => string) | null>();
  const compile = (key: string) => {
    const source = [locale, defaultLocale].find((lng) => rawKeys.get(lng)?.has(key));
    if (!source) return null;
    const text = instance.getResource(source, 'translation', key);
    if (typeof text !== 'string' || text.includes('$t(') || /\{\{[^}]*,/.test(text)) return null;
    const pieces = text.split(PLACEHOLDER); // [literal, name, literal, name, …, literal]
    if (pieces.length === 1) return () => text;
    return (values?: Readonly<Record<string, unknown>>) => {
      let out = pieces[0]!;
      for (let i = 1; i < pieces.length; i += 2) {
        const value = values?.[pieces[i]!];
        out += (value === undefined || value === null ? `{{${pieces[i]}}}` : String(value)) + pieces[i + 1]!;
      }
      return out;
    };
  };
  return (key, values) => {
    if (values?.count !== undefined) return viaI18next(key, values); // plural forms
    let fill = compiled.get(key);
    if (fill === undefined) {
      fill = compile(key);
      compiled.set(key, fill);
    }
    return fill ? fill(values) : viaI18next(key, values);
  };
}

function parseLocaleFile(path: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LocaleFileError(path, `invalid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LocaleFileError(path, 'must hold a JSON object of strings');
  }
  return parsed as Record<string, unknown>;
}

/**
 * Dotted keys of every string in a resource tree.
 *
 * @example flattenKeys({ a: { b: 'x' }, c: 'y' }) // ['a.b', 'c']
 */
export function flattenKeys(tree: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'object' && value !== null) out.push(...flattenKeys(value as Record<string, unknown>, path));
    else out.push(path);
  }
  return out;
}

function textDirection(locale: string): 'ltr' | 'rtl' {
  try {
    const info = new Intl.Locale(locale) as Intl.Locale & { getTextInfo?: () => { direction: string }; textInfo?: { direction: string } };
    const direction = info.getTextInfo?.().direction ?? info.textInfo?.direction;
    return direction === 'rtl' ? 'rtl' : 'ltr';
  } catch {
    return 'ltr';
  }
}
