/**
 * What every outbox's event queue promises (../../src/outbox/events.ts), run
 * against each backend: facts stored with the change they tell of, per
 * consumer, in order per key, leased, the same ids on every retry.
 */
import { describe, expect, it } from 'vitest';
import type { EventBatch } from '../../src/outbox/events.ts';
import type { Outbox } from '../../src/outbox/outbox.ts';
import { example } from '../helpers/examples.ts';
import {
  attempt,
  claimUntil as claimDeliveriesUntil,
  GATHER_WINDOW_MS,
  notificationOf,
  type OutboxHarness,
  openedOutbox,
  outcomes,
  reply,
} from './contract.ts';

const claimDeliveries = (outbox: Outbox) => claimDeliveriesUntil(outbox, (claimed) => claimed.length >= 1);

/** Claims a consumer's batches until `count` came (a lease or a retry time has to run out first). */
async function claimUntil(outbox: Outbox, consumer: string, count: number, leaseMs = 60_000): Promise<{ batches: EventBatch[]; claimedAt: number }> {
  const batches: EventBatch[] = [];
  const started = Date.now();
  while (batches.length < count) {
    if (Date.now() - started > 30_000) throw new Error(`no ${consumer} event came`);
    batches.push(...(await outbox.events.claim(consumer, 10, Date.now(), leaseMs)));
    if (batches.length < count) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { batches, claimedAt: Date.now() };
}

const UUID_V7_ID = /^evt_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const bounceOf = (status: string) => ({
  action: 'failed' as const,
  status,
  diagnostic: `smtp; 550 ${status} unknown`,
  remoteMta: null,
  reportingMta: 'dns; relay',
  at: Date.now(),
});

export function eventQueueContract(name: string, harness: () => OutboxHarness): void {
  describe(`event queue contract: ${name}`, () => {
    const t = openedOutbox(harness);

    it('stores a fact with each heard change, hands out one per delivery in order, again after a lost lease, with the same id', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const claimed = new Map((await t.outbox.claim(10, Date.now())).map((c) => [c.position, c]));
      await attempt(t.outbox, claimed.get(0)!, outcomes.sent('<0@x>', '250 2.0.0 queued'));
      await attempt(t.outbox, claimed.get(1)!, outcomes.retrying(Date.now() + 60_000));
      await attempt(t.outbox, claimed.get(2)!, outcomes.final('failed', '<2@x>', { ...reply, responseCode: 550, response: '550 5.1.1 no' }));
      expect(await t.outbox.report({ notificationId: n.id, position: 0 }, bounceOf('5.1.1'))).toBe('bounced');

      const first = await t.outbox.events.claim('one-by-one', 10, Date.now(), 60_000);
      const byStatus = Object.fromEntries(first.map((b) => [b.events[0]!.fact.status, b]));
      // one per delivery: position 0 has sent and bounced, only sent is out; position 1 retries, no event
      expect(Object.keys(byStatus).sort()).toEqual(['failed', 'sent']);
      expect(first.every((b) => b.events.length === 1 && b.attempt === 1 && UUID_V7_ID.test(b.events[0]!.id))).toBe(true);
      expect(byStatus.sent!.events[0]!.fact).toEqual({
        notificationId: n.id,
        position: 0,
        recipient: n.recipients[0]!.email,
        status: 'sent',
        messageId: '<0@x>',
        lastReply: { code: 'OK', responseCode: 250, response: '250 2.0.0 queued', message: expect.any(String) },
        report: null,
        at: expect.any(Number),
      });
      expect(byStatus.failed!.events[0]!.fact).toMatchObject({ position: 2, status: 'failed', lastReply: { responseCode: 550 } });
      expect(await t.outbox.events.claim('one-by-one', 10, Date.now(), 60_000)).toEqual([]); // leased

      await t.outbox.events.settle(byStatus.sent!, { done: true });
      const {
        batches: [bounced],
      } = await claimUntil(t.outbox, 'one-by-one', 1, 500); // a short lease, lost below
      expect(bounced!.events[0]!.fact).toMatchObject({ position: 0, status: 'bounced', report: { status: '5.1.1' } });

      await t.outbox.events.settle(byStatus.failed!, { retryAt: Date.now() + 300 });
      const {
        batches: [again],
      } = await claimUntil(t.outbox, 'one-by-one', 1);
      expect(again).toMatchObject({ attempt: 2, events: [{ id: byStatus.failed!.events[0]!.id }] });

      // a lost lease (the consumer died without an answer): the same event again, after the lease
      await t.outbox.close();
      t.outbox = await t.h.reopen();
      const {
        batches: [afterCrash],
      } = await claimUntil(t.outbox, 'one-by-one', 1);
      expect(afterCrash!.events.map((e) => e.id)).toEqual(bounced!.events.map((e) => e.id));
    });

    it("tells how many of a consumer's events wait and when the oldest was made (for /metrics)", async () => {
      expect(await t.outbox.events.backlog('one-by-one')).toEqual({ waiting: 0, oldestAt: null });
      const before = Date.now();
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const claimed = await t.outbox.claim(10, Date.now());
      for (const c of claimed) await attempt(t.outbox, c, outcomes.sent(`<${c.position}@x>`));
      expect(await t.outbox.report({ notificationId: n.id, position: 0 }, bounceOf('5.1.1'))).toBe('bounced');
      const backlog = await t.outbox.events.backlog('one-by-one');
      expect(backlog.waiting).toBe(4); // three sent, one bounced
      expect(backlog.oldestAt).toBeGreaterThanOrEqual(before - 5);
      expect(backlog.oldestAt).toBeLessThanOrEqual(Date.now());
      const batches = await t.outbox.events.claim('one-by-one', 10, Date.now(), 60_000);
      for (const batch of batches) await t.outbox.events.settle(batch, { done: true });
      expect((await t.outbox.events.backlog('one-by-one')).waiting).toBe(1); // the bounce, behind its delivery's sent
    });

    it("gathers a notification's failures for a window after the first; what comes later waits for the next batch", async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const claimed = new Map((await t.outbox.claim(10, Date.now())).map((c) => [c.position, c]));
      await attempt(t.outbox, claimed.get(0)!, outcomes.sent('<0@x>'));
      const firstFailureAt = Date.now();
      await attempt(t.outbox, claimed.get(1)!, outcomes.final('failed', '<1@x>', { ...reply, responseCode: 550, response: '550 5.1.1 no such user' }));
      await attempt(t.outbox, claimed.get(2)!, outcomes.final('unknown', '<2@x>')); // not heard by this consumer
      expect(await t.outbox.events.claim('gathered', 10, Date.now(), 60_000)).toEqual([]); // inside the window
      const bounce = bounceOf('5.1.2');
      expect(await t.outbox.report({ notificationId: n.id, position: 0 }, bounce)).toBe('bounced');

      const {
        batches: [batch],
        claimedAt,
      } = await claimUntil(t.outbox, 'gathered', 1);
      expect(claimedAt - firstFailureAt).toBeGreaterThanOrEqual(GATHER_WINDOW_MS);
      expect(batch).toMatchObject({ consumer: 'gathered', key: n.id, attempt: 1 });
      expect(batch!.events.map((e) => e.fact)).toEqual([
        expect.objectContaining({ position: 1, recipient: n.recipients[1]!.email, status: 'failed', messageId: '<1@x>' }),
        expect.objectContaining({ position: 0, recipient: n.recipients[0]!.email, status: 'bounced', report: expect.objectContaining({ status: '5.1.2' }) }),
      ]);
      // One fact, two consumers: the same change told to each.
      expect(batch!.events[0]!.id).not.toBe(batch!.events[1]!.id);
      expect(await t.outbox.events.claim('gathered', 10, Date.now(), 60_000)).toEqual([]); // leased

      // Not done: due again at the retry time, the same events, the next attempt.
      await t.outbox.events.settle(batch!, { retryAt: Date.now() + 200 });
      const {
        batches: [again],
      } = await claimUntil(t.outbox, 'gathered', 1, 300); // a short lease, lost below
      expect(again).toMatchObject({ attempt: 2, through: batch!.through, events: batch!.events });

      // A lost lease: the same batch again after a restart.
      await t.outbox.close();
      t.outbox = await t.h.reopen();
      const {
        batches: [afterCrash],
      } = await claimUntil(t.outbox, 'gathered', 1);
      expect(afterCrash!.events).toEqual(batch!.events);

      // A failure that comes while a batch is out goes in the next one, not lost with the first.
      await t.outbox.report({ notificationId: n.id, position: 2 }, { ...bounce, at: Date.now() }); // `unknown` can bounce too
      await t.outbox.events.settle(afterCrash!, { done: true });
      const {
        batches: [next],
      } = await claimUntil(t.outbox, 'gathered', 1);
      expect(next!.events.map((e) => e.fact)).toEqual([expect.objectContaining({ position: 2, status: 'bounced' })]);
      expect(next!.attempt).toBe(1);
      // A repeated answer for the first batch (another instance's, late) drops nothing more and leaves the lease alone.
      await t.outbox.events.settle(afterCrash!, { done: true });
      expect(await t.outbox.events.claim('gathered', 10, Date.now(), 60_000)).toEqual([]);
      await t.outbox.events.settle(next!, { retryAt: Date.now() });
      const {
        batches: [stillThere],
      } = await claimUntil(t.outbox, 'gathered', 1);
      expect(stillThere!.events).toEqual(next!.events);
      await t.outbox.events.settle(stillThere!, { done: true });
      expect(await t.outbox.events.claim('gathered', 10, Date.now() + 10 * GATHER_WINDOW_MS, 60_000)).toEqual([]);
    });

    it('gives ids no other outbox gives: a receiver of two outboxes never takes one event for another', async () => {
      const other = harness();
      const second = await other.open();
      try {
        const ids: string[] = [];
        for (const box of [t.outbox, second]) {
          await box.accept(notificationOf(example('skype-invitation')));
          const [claimed] = await claimDeliveries(box);
          await attempt(box, claimed!, outcomes.sent('<m@x>'));
          const { batches } = await claimUntil(box, 'one-by-one', 1);
          ids.push(...batches.map((b) => b.events[0]!.id));
        }
        expect(ids).toHaveLength(2);
        expect(new Set(ids).size).toBe(2); // a counter per outbox made evt_1 twice
      } finally {
        await second.close();
        await other.cleanup();
      }
    });

    it('refuses a consumer it was not opened with', async () => {
      await expect(t.outbox.events.claim('nobody', 10, Date.now(), 60_000)).rejects.toThrow(/no event consumer named nobody/);
    });
  });
}
