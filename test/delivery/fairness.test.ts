import { describe, expect, it } from 'vitest';
import {
  deliveryClass,
  fairStartTag,
  jobPriority,
  organizerFlow,
  rateWindow,
  SMALL_NOTIFICATION,
  TAGS_PER_CLASS,
  tagOfPriority,
} from '../../src/delivery/fairness.ts';
import { claimBatchSize } from '../../src/runtime/worker.ts';

describe('fair delivery rules', () => {
  it('puts small notifications first, then large changes, then large invitations', () => {
    expect(deliveryClass('invitation', SMALL_NOTIFICATION)).toBe(0);
    expect(deliveryClass('cancellation', 1)).toBe(0);
    expect(deliveryClass('cancellation', SMALL_NOTIFICATION + 1)).toBe(1);
    expect(deliveryClass('update', 1600)).toBe(1);
    expect(deliveryClass('reply', 40)).toBe(1);
    expect(deliveryClass('invitation', SMALL_NOTIFICATION + 1)).toBe(2);
  });

  it('orders BullMQ priorities by class, then tag, within BullMQ’s 2^21, and reads the tag back', () => {
    expect(jobPriority(0, 0)).toBe(1);
    expect(jobPriority(0, TAGS_PER_CLASS - 1)).toBeLessThan(jobPriority(1, 0));
    expect(jobPriority(1, TAGS_PER_CLASS - 1)).toBeLessThan(jobPriority(2, 0));
    expect(jobPriority(2, 10 ** 9)).toBe(jobPriority(2, TAGS_PER_CLASS - 1)); // a tag past the room stays at the last
    expect(jobPriority(2, TAGS_PER_CLASS - 1)).toBeLessThanOrEqual(2 ** 21);
    for (const [c, tag] of [
      [0, 0],
      [1, 7],
      [2, TAGS_PER_CLASS - 1],
    ] as const)
      expect(tagOfPriority(jobPriority(c, tag))).toEqual({ deliveryClass: c, tag });
  });

  it("starts an organizer's notification where the class is served, or behind that organizer's own if later; the flow names no one", () => {
    expect(fairStartTag(40, undefined)).toBe(40);
    expect(fairStartTag(40, 12)).toBe(40); // its earlier one is served already
    expect(fairStartTag(40, 1640)).toBe(1640);
    expect(organizerFlow('E.Smirnova@MyDomain.ru')).toBe(organizerFlow('e.smirnova@mydomain.ru'));
    expect(organizerFlow('e.smirnova@mydomain.ru')).not.toBe(organizerFlow('o.kuznetsova@partner.ru'));
    expect(organizerFlow('e.smirnova@mydomain.ru')).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('claims a tenth of a second of the send rate (the pool at least), or 100 without one', () => {
    expect(claimBatchSize(10)).toBe(100);
    expect(claimBatchSize(10, 200)).toBe(20);
    expect(claimBatchSize(10, 20)).toBe(10);
    expect(claimBatchSize(10, 5000)).toBe(100);
  });

  it('counts a send rate in windows of about a tenth of a second, at the same average rate', () => {
    expect(rateWindow(200)).toEqual({ max: 20, durationMs: 100 });
    expect(rateWindow(7)).toEqual({ max: 1, durationMs: 143 });
    for (const rate of [1, 7, 15, 200, 1234]) {
      const { max, durationMs } = rateWindow(rate);
      expect(Math.abs((max * 1000) / durationMs - rate) / rate).toBeLessThan(0.01);
      expect(durationMs).toBeLessThanOrEqual(1000);
    }
  });
});
