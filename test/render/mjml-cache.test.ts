import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileMjmlFiles } from '../../src/render/mjml.ts';
import { scratchCopy } from '../helpers/scratch-copy.ts';

let scratch: Awaited<ReturnType<typeof scratchCopy>> | undefined;
let cacheDir: string | undefined;
afterEach(async () => {
  await scratch?.remove();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  scratch = undefined;
  cacheDir = undefined;
});

describe('compiled MJML is kept by the templates’ hash', () => {
  it('a start with unchanged templates takes the cache; a changed partial compiles anew; a broken cache is compiled over', async () => {
    scratch = await scratchCopy();
    cacheDir = await mkdtemp(join(tmpdir(), 'mjml-cache-'));
    const root = scratch.templatesDir;
    const paths = [join(root, 'invitation', 'html.mjml'), join(root, 'reply', 'html.mjml')];

    const first = await compileMjmlFiles(paths, root, 'in-process', cacheDir);
    const [file] = await readdir(cacheDir);
    expect(file).toMatch(/^mjml-[0-9a-f]{32}\.json$/);
    expect(JSON.parse(await readFile(join(cacheDir, file!), 'utf8'))).toEqual({
      'invitation/html.mjml': first.get(paths[0]!),
      'reply/html.mjml': first.get(paths[1]!),
    });

    // The cache is what the next start uses: a marked copy of it comes back as it is.
    await writeFile(join(cacheDir, file!), JSON.stringify({ 'invitation/html.mjml': 'from the cache', 'reply/html.mjml': 'from the cache' }));
    expect((await compileMjmlFiles(paths, root, 'in-process', cacheDir)).get(paths[0]!)).toBe('from the cache');

    // A change anywhere below templates/ (here a partial both include) is another hash: compiled again.
    await scratch.editFile('templates/partials/footer.mjml', (text) => text.replace('font-size="12px"', 'font-size="13px"'));
    const changed = await compileMjmlFiles(paths, root, 'in-process', cacheDir);
    expect(changed.get(paths[0]!)).toContain('font-size:13px');
    expect(await readdir(cacheDir)).toHaveLength(2);

    // A cache file that does not parse is compiled over, not trusted.
    for (const name of await readdir(cacheDir)) await writeFile(join(cacheDir, name), '{"invitation/html.mjml": ');
    expect((await compileMjmlFiles(paths, root, 'in-process', cacheDir)).get(paths[0]!)).toContain('font-size:13px');
  });
});
