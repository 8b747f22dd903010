/**
 * What the templates' `t` helper translates with, in one language. The
 * contract with translators is checked by check:i18n before anything ships;
 * this is the last guard, so that nothing a translator wrote wrong reaches an
 * email as code:
 *   - a key the language lacks: the default language's string (`fallback`),
 *     or `⟦key⟧` (`mark`, the preview);
 *   - a `{{name}}` the template does not pass: left out (`fallback`), or
 *     `⟦key: {{name}} is not passed⟧` (`mark`).
 */
import type { Catalog, Translate } from './catalog.ts';

export interface TemplateTranslator {
  readonly translate: Translate;
  /** Keys asked for that the language lacks, so far. */
  readonly missingKeys: ReadonlySet<string>;
  /** `key {{name}}`: placeholders a string uses that its template call does not pass, so far. */
  readonly unpassed: ReadonlySet<string>;
}

/**
 * @example
 * const { translate } = templateTranslator(catalog, 'ru', 'fallback');
 * translate('intro.invitation', { organizer: 'Елена' }) // 'Елена приглашает вас на встречу'
 */
export function templateTranslator(catalog: Catalog, locale: string, mode: 'fallback' | 'mark'): TemplateTranslator {
  const t = catalog.translator(locale);
  const missingKeys = new Set<string>();
  const unpassed = new Set<string>();
  const translate: Translate = (key, values = {}) => {
    if (!catalog.has(locale, key)) {
      missingKeys.add(key);
      if (mode === 'mark') return `⟦${key}⟧`;
    }
    let filled = values;
    for (const name of catalog.placeholders(locale, key)) {
      if (values[name] !== undefined && values[name] !== null) continue;
      // Passed but empty (no occurrence date in a whole-event email) is nothing to show; not passed is a mistake.
      if (!(name in values)) {
        unpassed.add(`${key} {{${name}}}`);
        if (mode === 'mark') return `⟦${key}: {{${name}}} is not passed⟧`;
      }
      if (filled === values) filled = { ...values };
      (filled as Record<string, unknown>)[name] = '';
    }
    return t(key, filled);
  };
  return { translate, missingKeys, unpassed };
}
