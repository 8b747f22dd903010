import { describe, expect, it } from 'vitest';
import { sendRateLimiter } from '../../src/transport/smtp.ts';

describe('the send rate limiter', () => {
  it('starts a window’s allowance and no more; the rest go in the next windows', async () => {
    const startSlot = sendRateLimiter(200); // 20 per 100 ms
    let started = 0;
    const all = Array.from({ length: 45 }, () => startSlot().then(() => started++));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(20);
    await new Promise((resolve) => setTimeout(resolve, 105));
    expect(started).toBe(40);
    await Promise.all(all);
    expect(started).toBe(45);
  });
});
