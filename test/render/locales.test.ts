import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { loadCatalog } from '../../src/render/catalog.ts';
import { missingKeys, missingPluralForms, requiredKeys } from '../../src/render/label-keys.ts';
import { createRenderer } from '../../src/render/renderer.ts';
import { loadTemplates, type TemplateSet } from '../../src/render/templates.ts';
import { example } from '../helpers/examples.ts';

const LOCALES = fileURLToPath(new URL('../../locales/', import.meta.url));
const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));

let templates: TemplateSet;
let scratch: string | undefined;
beforeAll(async () => {
  templates = await loadTemplates(TEMPLATES);
});
afterEach(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** A temporary copy of locales/ with one key removed from one language. */
async function localesWithout(locale: string, dottedKey: string): Promise<string> {
  scratch = await mkdtemp(join(tmpdir(), 'locales-'));
  await cp(LOCALES, scratch, { recursive: true });
  const file = join(scratch, locale, 'email.json');
  const tree = JSON.parse(await readFile(file, 'utf8'));
  const parts = dottedKey.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) node = node[part];
  delete node[parts[parts.length - 1]!];
  await writeFile(file, JSON.stringify(tree));
  return scratch;
}

describe('locale keys the emails need', () => {
  it('every language of the project has every key the templates and code read', async () => {
    const catalog = await loadCatalog(LOCALES, 'en');
    expect(catalog.locales).toEqual(expect.arrayContaining(['ru', 'en']));
    const required = requiredKeys(catalog, templates.keyPaths);
    expect(required).toEqual(expect.arrayContaining(['conference.join', 'actions.openCalendar', 'people.more', 'time.longRange', 'recurrence.times']));
    expect(missingKeys(catalog, templates.keyPaths)).toEqual(Object.fromEntries(catalog.locales.map((l) => [l, []])));
  });

  it('fails when a key a template uses is missing in a language', async () => {
    const dir = await localesWithout('ru', 'conference.join');
    const catalog = await loadCatalog(dir, 'en');
    expect(missingKeys(catalog, templates.keyPaths).ru).toEqual(['conference.join']);
  });

  it('every language has every plural form it needs, and a missing one is named', async () => {
    expect(missingPluralForms(await loadCatalog(LOCALES, 'en'))).toEqual({ en: [], ru: [] });
    const dir = await localesWithout('ru', 'people.more_few');
    expect(missingPluralForms(await loadCatalog(dir, 'en')).ru).toEqual(['people.more_few']);
  });

  it('shows a missing key in the preview mode, and falls back to the default language when sending', async () => {
    const dir = await localesWithout('ru', 'conference.join');
    const request = parseNotificationRequest(example('skype-invitation'));
    const preview = await createRenderer({ localesDir: dir, missingLabels: 'mark' });
    const [marked] = preview.render(request);
    expect(marked!.missingKeys).toEqual(['conference.join']);
    expect(marked!.html).toContain('⟦conference.join⟧');
    const sending = await createRenderer({ localesDir: dir });
    const [fallback] = sending.render(request);
    expect(fallback!.missingKeys).toEqual(['conference.join']);
    expect(fallback!.html).toContain('Join conference');
  });

  it('a placeholder its template does not pass never reaches an email: left out when sending, marked in the preview', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'locales-'));
    await cp(LOCALES, scratch, { recursive: true });
    const file = join(scratch, 'ru', 'email.json');
    const tree = JSON.parse(await readFile(file, 'utf8'));
    tree.conference.join = 'Войти в {{room}} сейчас';
    tree.subject.invitation = 'Приглашение: {{title}} {{room}}';
    await writeFile(file, JSON.stringify(tree));
    const request = parseNotificationRequest(example('skype-invitation'));
    const [sent] = (await createRenderer({ localesDir: scratch })).render(request);
    for (const part of [sent!.subject, sent!.html, sent!.text]) expect(part).not.toMatch(/\{\{|room|⟦/);
    expect(sent!.html).toContain('Войти в  сейчас');
    expect(sent!.subject).toBe(`Приглашение: ${request.event.title}`);
    expect([...sent!.unpassedPlaceholders].sort()).toEqual(['conference.join {{room}}', 'subject.invitation {{room}}']);
    const [marked] = (await createRenderer({ localesDir: scratch, missingLabels: 'mark' })).render(request);
    expect(marked!.html).toContain('⟦conference.join: {{room}} is not passed⟧');
  });

  it('names the file of a locale that is not valid JSON', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'locales-'));
    await cp(LOCALES, scratch, { recursive: true });
    await writeFile(join(scratch, 'ru', 'email.json'), '{ "subject": { "invitation": "Приглашение: {{title}}", } }');
    await expect(loadCatalog(scratch, 'en')).rejects.toThrow(/ru\/email\.json: invalid JSON/);
  });
});
