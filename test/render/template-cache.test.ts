import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredTemplates } from '../../src/render/template-cache.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { scratchCopy } from '../helpers/scratch-copy.ts';

let scratch: Awaited<ReturnType<typeof scratchCopy>> | undefined;
let cacheDir: string | undefined;
afterEach(async () => {
  await scratch?.remove();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  scratch = undefined;
  cacheDir = undefined;
});

const translate = (key: string) => key;

describe('compiled templates are kept by the templates’ hash', () => {
  it('a start with unchanged templates takes the cache; a changed partial or text compiles anew; a broken cache is compiled over', async () => {
    scratch = await scratchCopy();
    cacheDir = await mkdtemp(join(tmpdir(), 'template-cache-'));
    const root = scratch.templatesDir;

    const first = await loadTemplates(root, { cacheDir });
    const [file] = await readdir(cacheDir);
    expect(file).toMatch(/^templates-[0-9a-f]{32}\.json$/);
    const stored = JSON.parse(await readFile(join(cacheDir, file!), 'utf8')) as StoredTemplates & { specs: Record<string, string> };
    // What MJML made and Handlebars precompiled, by path below templates/; the {{t}} calls with them.
    expect(stored.sources.find((s) => s.file === 'invitation/html.mjml')!.handlebars).toBe(
      first.sources.find((s) => s.file === join(root, 'invitation/html.mjml'))!.handlebars,
    );
    expect(Object.keys(stored.specs)).toEqual(expect.arrayContaining(['invitation/html.mjml', 'invitation/text.hbs', 'reply/subject.hbs']));
    expect(stored.translations.length).toBe(first.translations.length);

    // The cache is what the next start runs: a marked spec comes back as it is.
    stored.specs['invitation/subject.hbs'] = '{"compiler":[8,">= 4.3.0"],"main":function () { return "from the cache"; },"useData":true}';
    await writeFile(join(cacheDir, file!), JSON.stringify(stored));
    const cached = await loadTemplates(root, { cacheDir });
    expect(cached.emails.invitation.subject({}, { data: { translate } })).toBe('from the cache');
    expect(cached.translations[0]!.file.startsWith(root)).toBe(true);

    // A change anywhere below templates/ (an MJML partial, a text template) is another hash: compiled again.
    await scratch.editFile('templates/partials/footer.mjml', (text) => text.replace('font-size="12px"', 'font-size="13px"'));
    const changed = await loadTemplates(root, { cacheDir });
    expect(changed.sources.find((s) => s.file === join(root, 'invitation/html.mjml'))!.handlebars).toContain('font-size:13px');
    expect(changed.emails.invitation.subject({ event: { title: 'T' } }, { data: { translate } })).not.toBe('from the cache');
    await scratch.editFile('templates/invitation/subject.hbs', (text) => `Re: ${text}`);
    expect((await loadTemplates(root, { cacheDir })).emails.invitation.subject({}, { data: { translate } })).toMatch(/^Re: /);
    expect(await readdir(cacheDir)).toHaveLength(3);

    // A cache file that does not parse, or whose functions do not load, is compiled over, not trusted.
    for (const name of await readdir(cacheDir)) await writeFile(join(cacheDir, name), '{"sources": ');
    expect((await loadTemplates(root, { cacheDir })).emails.invitation.subject({}, { data: { translate } })).toMatch(/^Re: /);
    for (const name of await readdir(cacheDir)) {
      const text = await readFile(join(cacheDir, name), 'utf8');
      if (!text.endsWith('}')) continue; // the entries broken above
      const entry = JSON.parse(text);
      entry.specs['invitation/subject.hbs'] = '{"main": function ( {';
      await writeFile(join(cacheDir, name), JSON.stringify(entry));
    }
    expect((await loadTemplates(root, { cacheDir })).emails.invitation.subject({}, { data: { translate } })).toMatch(/^Re: /);
  });
});
