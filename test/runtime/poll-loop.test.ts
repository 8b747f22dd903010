import { describe, expect, it } from 'vitest';
import { pollLoop } from '../../src/runtime/poll-loop.ts';

describe('pollLoop', () => {
  /** A loop over a backlog of `backlog` items: 2 a claim while yielding, 20 otherwise. */
  function backlogLoop(backlog: number, busy: () => boolean, yieldMs: number) {
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
      yieldWhile: busy,
      yieldMs,
    });
    return { loop, claims, handled, left: () => backlog };
  }

  async function until(done: () => boolean, withinMs: number): Promise<void> {
    for (const started = Date.now(); !done() && Date.now() - started < withinMs; ) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  it('while the worker is busy it claims a small batch once a pause has passed, one per pause; then catches up', async () => {
    let busy = true;
    const started = Date.now();
    const { loop, claims, handled, left } = backlogLoop(40, () => busy, 100);
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 450));
    const whileBusy = claims.filter((c) => c.yielding);
    // about one small batch per pause, the first after a pause, not the whole backlog
    expect(whileBusy.length).toBeGreaterThanOrEqual(2);
    expect(whileBusy.length).toBeLessThanOrEqual(5);
    expect(whileBusy[0]!.at - started).toBeGreaterThanOrEqual(95);
    expect(whileBusy[1]!.at - whileBusy[0]!.at).toBeGreaterThanOrEqual(95);
    expect(handled.length).toBe(whileBusy.length * 2);
    busy = false;
    await until(() => left() === 0, 2000);
    expect(left()).toBe(0); // caught up once the worker was idle
    expect(claims.filter((c) => !c.yielding).length).toBeGreaterThanOrEqual(2); // in batches of 20, without pauses
    expect(handled).toHaveLength(40);
    await loop.stop();
  });

  it('a burst shorter than the pause is not interrupted, and the catch-up starts as it ends, not a pause later', async () => {
    let busy = true;
    const { loop, claims, handled, left } = backlogLoop(40, () => busy, 5000);
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(claims).toEqual([]); // nothing claimed, so nothing handled, while the worker sends
    busy = false;
    const idleAt = Date.now();
    await until(() => left() === 0, 2000);
    expect(claims.every((c) => !c.yielding)).toBe(true);
    expect(claims[0]!.at - idleAt).toBeLessThan(1000); // looked at every 50 ms: far less than the 5 s pause
    expect(handled).toHaveLength(40);
    await loop.stop();
  });

  it('stops at once while giving way', async () => {
    const { loop, claims } = backlogLoop(40, () => true, 60_000);
    loop.start();
    const stopping = Date.now();
    await loop.stop();
    expect(Date.now() - stopping).toBeLessThan(1000);
    expect(claims).toEqual([]);
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
