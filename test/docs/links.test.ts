/**
 * Every link of the documentation a user reads resolves: a file or folder of
 * the project, and for `#anchor` a heading of that page (GitHub's slugs). Web
 * links are left to the reader (these machines reach no network).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(): string[] {
  const found = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'examples/README.md', 'locales/README.md'].map((f) => join(ROOT, f));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) found.push(path);
    }
  };
  walk(join(ROOT, 'docs'));
  return found;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('the documentation’s links', () => {
  it.each(markdownFiles().map((f) => relative(ROOT, f)))('%s: every link to the project resolves', (name) => {
    const file = join(ROOT, name);
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:)/.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = path ? join(dirname(file), path) : file;
      if (!existsSync(resolved)) broken.push(target!);
      else if (anchor && !(statSync(resolved).isFile() && anchorsOf(resolved).has(anchor))) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });
});
