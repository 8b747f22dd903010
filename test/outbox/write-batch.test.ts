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

  it(`an asynchronous commit (a round trip) takes one turn's items at once; a rejection fails its batch only`, async () => {
    const commits: string[][] = [];
    const write = writeBatch(async (items: readonly string[]) => {
      commits.push([...items]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (items.includes('bad')) throw new Error('Connection is closed');
      return items.map((item) => item.toUpperCase());
    });
    const first = Promise.allSettled([write('a'), write('bad')]);
    await new Promise((resolve) => setImmediate(resolve));
    // queued while the first batch is still on its way: committed in a batch of its own
    const second = Promise.all([write('b'), write('c')]);
    expect((await first).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await second).toEqual(['B', 'C']);
    expect(commits).toEqual([
      ['a', 'bad'],
      ['b', 'c'],
    ]);
  });
});
