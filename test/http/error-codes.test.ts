import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../src/http/errors.ts';

describe('docs/api.md documents every error code', () => {
  it('with its status and meaning, exactly as the registry has them', () => {
    const readme = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const table = /<!-- error-codes:[^>]*-->([\s\S]*?)<!-- \/error-codes -->/.exec(readme)![1]!;
    const rows = [...table.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map(([, code, status, meaning]) => [code, Number(status), meaning]);
    expect(rows).toEqual(Object.entries(API_ERRORS).map(([code, e]) => [code, e.status, e.meaning]));
  });
});
