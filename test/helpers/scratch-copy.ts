import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_LOCALES = fileURLToPath(new URL('../../locales/', import.meta.url));
export const PROJECT_TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));

/** A temporary copy of locales/ and templates/, to break or extend without touching the project's. */
export async function scratchCopy() {
  const root = await mkdtemp(join(tmpdir(), 'i18n-'));
  const localesDir = join(root, 'locales');
  const templatesDir = join(root, 'templates');
  await cp(PROJECT_LOCALES, localesDir, { recursive: true });
  await cp(PROJECT_TEMPLATES, templatesDir, { recursive: true });
  return {
    root,
    localesDir,
    templatesDir,
    /** Reads, changes and writes one locale's email.json. */
    async editLocale(locale: string, change: (tree: any) => void) {
      const file = join(localesDir, locale, 'email.json');
      const tree = JSON.parse(await readFile(file, 'utf8'));
      change(tree);
      await writeFile(file, JSON.stringify(tree, null, 2));
    },
    async editFile(relative: string, change: (text: string) => string) {
      const file = join(root, relative);
      await writeFile(file, change(await readFile(file, 'utf8')));
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
