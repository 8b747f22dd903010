import { describe, expect, it } from 'vitest';
import { writeBatch } from '../../src/outbox/write-batch.ts';

describe('writeBatch', () => {
  it('commits what arrives in one turn of the event loop together, each caller getting its own result after the commit', async () => {
    const commits: number[][] = [];
    const double = writeBatch((items: readonly number[]) => {
      commits.push([...items]);
      return items.map((n) => n * 2);
    });
    const first = await Promise.all([double(1), double(2), double(3)]);
    const second = await double(4);
    expect(first).toEqual([2, 4, 6]);
    expect(second).toBe(8);
    expect(commits).toEqual([[1, 2, 3], [4]]);
  });

  it('a commit that throws fails every caller of its batch, and the next batch starts afresh', async () => {
    let fail = true;
    const write = writeBatch((items: readonly string[]) => {
      if (fail) throw new Error('disk full');
      return items.map(() => 'ok');
    });
    const results = await Promise.allSettled([write('a'), write('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('disk full');
    fail = false;
    await expect(write('c')).resolves.toBe('ok');
  });
});
