import { describe, expect, it } from 'vitest';
import { purgeIntervalMs } from '../../src/runtime/retention.ts';

describe('the RETENTION purge', () => {
  it('looks once a minute, or every half of a shorter RETENTION (a second at least): a notification goes within a minute of its time', () => {
    expect(purgeIntervalMs(30 * 86_400_000)).toBe(60_000);
    expect(purgeIntervalMs(60_000)).toBe(30_000);
    expect(purgeIntervalMs(2000)).toBe(1000);
    expect(purgeIntervalMs(1000)).toBe(1000);
  });
});
