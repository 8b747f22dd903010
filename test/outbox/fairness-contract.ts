/**
 * What every outbox promises of fair delivery (src/delivery/fairness.ts), run
 * against each backend: a small notification goes ahead of large ones, a
 * large change ahead of a large invitation, and organizers' large ones of one
 * class take turns rather than waiting for each other's end, while one
 * organizer's go one after the other.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import type { ClaimedDelivery } from '../../src/outbox/outbox.ts';
import { example } from '../helpers/examples.ts';
import { notificationOf, type OutboxHarness, openedOutbox } from './contract.ts';

/** A large invitation (or another type) of an event of its own, by the seed's organizer or another. */
function large(count: number, type: 'invitation' | 'cancellation' = 'invitation', organizer = 'e.smirnova@mydomain.ru') {
  const payload = seedFanOut(count);
  payload.type = type;
  payload.event.uid = `${randomUUID()}@mydomain.ru`;
  if (type !== 'invitation') payload.event.sequence = 1;
  payload.organizer = { name: 'Организатор', email: organizer };
  payload.attendees[0] = { ...payload.attendees[0], name: 'Организатор', email: organizer };
  return notificationOf(payload);
}

export function fairnessContract(name: string, harness: () => OutboxHarness): void {
  describe(`fairness contract: ${name}`, () => {
    const t = openedOutbox(harness);

    /** Claims everything due, a few at a time, as a worker with a small pool does; in the order handed out. */
    async function claimAll(total: number): Promise<ClaimedDelivery[]> {
      const claimed: ClaimedDelivery[] = [];
      const started = Date.now();
      while (claimed.length < total) {
        if (Date.now() - started > 15_000) throw new Error(`claimed ${claimed.length} of ${total}`);
        claimed.push(...(await t.outbox.claim(5, Date.now())));
      }
      return claimed;
    }

    it("a small notification first, then a large change, then two organizers' large invitations taking turns", async () => {
      const first = large(60);
      const second = large(60, 'invitation', 'o.kuznetsova@partner.ru');
      const cancellation = large(30, 'cancellation');
      const small = notificationOf(example('skype-invitation'));
      for (const n of [first, second, cancellation, small]) await t.outbox.accept(n);
      const order = (await claimAll(151)).map((c) => c.notificationId);
      expect(order[0]).toBe(small.id);
      expect(order.slice(1, 31)).toEqual(Array(30).fill(cancellation.id));
      // The two invitations share what follows: within any 60 in a row, both are served (one job of
      // 25 at a time on Redis, one recipient at a time on SQLite), not the first 60 of the first one.
      const rest = order.slice(31);
      expect(rest).toHaveLength(120);
      expect(new Set(rest.slice(0, 60))).toEqual(new Set([first.id, second.id]));
    });

    it("another organizer's large invitation accepted while one is under way starts where that one is, not behind its end", async () => {
      const under = large(100);
      await t.outbox.accept(under);
      const before = await claimAll(50);
      expect(new Set(before.map((c) => c.notificationId))).toEqual(new Set([under.id]));
      const later = large(100, 'invitation', 'o.kuznetsova@partner.ru');
      await t.outbox.accept(later);
      const next = (await claimAll(50)).map((c) => c.notificationId);
      // Taking turns from here: the later one is served long before the first one's last 50 are.
      expect(next.filter((id) => id === later.id).length).toBeGreaterThanOrEqual(20);
      expect(next.filter((id) => id === under.id).length).toBeGreaterThanOrEqual(20);
    });

    it.each([false, true])(
      "an organizer's large invitations go one after the other, sharing the relay with another organizer's (outbox reopened between: %s)",
      async (reopened) => {
        const first = large(60);
        await t.outbox.accept(first);
        if (reopened) {
          // A restart on the same data remembers where the organizer's flow ends.
          await t.outbox.close();
          t.outbox = await t.h.reopen();
        }
        const second = large(60);
        const other = large(60, 'invitation', 'o.kuznetsova@partner.ru');
        for (const n of [second, other]) await t.outbox.accept(n);
        const order = (await claimAll(180)).map((c) => c.notificationId);
        // The other organizer shares the relay with the first one's flow from the start: the first 120 are its
        // 60 and the first invitation's, taking turns; the second invitation of the first organizer comes after.
        expect(new Set(order.slice(0, 120))).toEqual(new Set([first.id, other.id]));
        expect(new Set(order.slice(0, 60))).toEqual(new Set([first.id, other.id]));
        expect(order.slice(120)).toEqual(Array(60).fill(second.id));
      },
    );
  });
}
