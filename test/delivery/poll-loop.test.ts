import { describe, expect, it } from 'vitest';
import { pollLoop } from '../../src/delivery/poll-loop.ts';

describe('pollLoop', () => {
  it('handles what it claims; while the worker is busy it claims as yielding and pauses between batches, then catches up', async () => {
    let busy = true;
    let backlog = 40;
    const claims: { yielding: boolean; at: number }[] = [];
    const handled: number[] = [];
    const loop = pollLoop({
      claim: async (yielding) => {
        claims.push({ yielding, at: Date.now() });
        const take = Math.min(backlog, yielding ? 2 : 20);
        backlog -= take;
        return Array.from({ length: take }, (_, i) => i);
      },
      handle: async (item) => {
        handled.push(item);
      },
      pollMs: 20,
      onClaimError: () => undefined,
      yieldWhile: () => busy,
      yieldMs: 100,
    });
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 350));
    const whileBusy = claims.filter((c) => c.yielding);
    // about one small batch per pause, not the whole backlog
    expect(whileBusy.length).toBeGreaterThanOrEqual(2);
    expect(whileBusy.length).toBeLessThanOrEqual(5);
    expect(whileBusy[1]!.at - whileBusy[0]!.at).toBeGreaterThanOrEqual(95);
    expect(handled.length).toBe(whileBusy.length * 2);
    busy = false;
    for (const started = Date.now(); backlog > 0 && Date.now() - started < 2000; ) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(backlog).toBe(0); // caught up once the worker was idle
    expect(claims.filter((c) => !c.yielding).length).toBeGreaterThanOrEqual(2); // in batches of 20, without pauses
    expect(handled).toHaveLength(40);
    await loop.stop();
  });

  it('a failing claim is reported and tried again', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const loop = pollLoop({
      claim: async () => {
        calls++;
        if (calls === 1) throw new Error('outbox away');
        return [];
      },
      handle: async () => undefined,
      pollMs: 10,
      onClaimError: (error) => errors.push(error),
    });
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 80));
    await loop.stop();
    expect(errors).toHaveLength(1);
    expect(calls).toBeGreaterThan(2);
  });
});
