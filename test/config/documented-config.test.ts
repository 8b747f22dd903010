import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('docs/configuration.md documents every configuration variable', () => {
  it('that src/config/config.ts reads', () => {
    const readme = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const source = readFileSync(new URL('../../src/config/config.ts', import.meta.url), 'utf8');
    const schema = /const envSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source)![1]!;
    const variables = [...schema.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
    expect(variables.length).toBeGreaterThan(20);
    const documented = new Set([...readme.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    expect(variables.filter((v) => !documented.has(v))).toEqual([]);
  });
});
