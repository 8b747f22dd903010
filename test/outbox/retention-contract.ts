/**
 * What every outbox promises of RETENTION and erasure, run against each
 * backend with a clock the test holds (purge's `finalBefore`): a notification
 * is kept until all its recipients are final and then for as long as asked,
 * and removed with everything stored of it.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StaleDeliveryError } from '../../src/outbox/outbox.ts';
import { example } from '../helpers/examples.ts';
import { attempt, claimUntil, notificationOf, type OutboxHarness, openedOutbox, outcomes, reply } from './contract.ts';

export function retentionContract(name: string, harness: () => OutboxHarness): void {
  describe(`retention contract: ${name}`, () => {
    const t = openedOutbox(harness);

    it('purges a notification once every recipient is final, counting from the last change; with its facts, events and idempotency key', async () => {
      const n = notificationOf(example('trueconf-weekly'), { idempotencyKey: `key-${randomUUID()}`, bodyHash: 'A' });
      const waiting = notificationOf(example('skype-invitation'));
      await t.outbox.accept(n);
      await t.outbox.accept(waiting);
      const claimed = await claimUntil(t.outbox, (c) => c.length >= 4);
      const mine = claimed.filter((c) => c.notificationId === n.id);
      await attempt(t.outbox, mine[0]!, outcomes.sent('<0@x>'));
      await attempt(t.outbox, mine[1]!, outcomes.final('failed', '<1@x>', { ...reply, responseCode: 550 }));
      const lastAt = Date.now();
      await attempt(t.outbox, mine[2]!, { ...outcomes.sent('<2@x>'), at: lastAt });
      const other = claimed.find((c) => c.notificationId === waiting.id)!;
      await attempt(t.outbox, other, outcomes.retrying(Date.now() + 60_000)); // not final: kept whatever the time

      expect(await t.outbox.purge(lastAt - 1, 100)).toEqual({ notifications: 0, undeliveredEvents: {} });
      // A bounce after it became final: RETENTION counts from it.
      const bounceAt = lastAt + 5000;
      expect(
        await t.outbox.report(
          { notificationId: n.id, position: 0 },
          { action: 'failed', status: '5.1.1', diagnostic: null, remoteMta: null, reportingMta: null, at: bounceAt },
        ),
      ).toBe('bounced');
      expect((await t.outbox.purge(bounceAt - 1, 100)).notifications).toBe(0);

      const removed = await t.outbox.purge(bounceAt + 3_600_000, 100);
      // Events no one took: four for the one-by-one consumer (sent, failed, sent, and the bounce behind the first sent), two gathered failures.
      expect(removed).toEqual({ notifications: 1, undeliveredEvents: { 'one-by-one': 4, gathered: 2 } });
      expect(await t.outbox.status(n.id)).toBeNull();
      expect(await t.outbox.body(n.id)).toBeNull();
      expect(await t.outbox.status(waiting.id)).not.toBeNull();
      expect(await t.outbox.counts()).toMatchObject({ sent: 0, failed: 0, bounced: 0, retrying: 1 });
      const left = await t.outbox.events.claim('one-by-one', 100, Date.now() + 3_600_000, 60_000);
      expect(left.flatMap((b) => b.events.map((e) => e.fact.notificationId)).filter((id) => id === n.id)).toEqual([]);
      expect(await t.outbox.events.claim('gathered', 100, Date.now() + 3_600_000, 60_000)).toEqual([]);
      expect(
        await t.outbox.report(
          { notificationId: n.id, position: 0 },
          { action: 'failed', status: '5.1.1', diagnostic: null, remoteMta: null, reportingMta: null, at: Date.now() },
        ),
      ).toBe('no-such-delivery');
      // The idempotency key went with it: the same request is a new notification now.
      expect((await t.outbox.accept({ ...n, id: randomUUID() })).kind).toBe('accepted');
    });

    it('erases a notification now, whatever its state: what was not sent is never sent, and a claimed delivery cannot start', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const [first, held, third] = await claimUntil(t.outbox, (c) => c.length >= 3);
      await attempt(t.outbox, first!, outcomes.sent('<0@x>'));
      await t.outbox.release([third!.deliveryId]); // queued again
      const removed = await t.outbox.erase(n.id);
      expect(removed).toMatchObject({ notifications: 1 });
      expect(await t.outbox.status(n.id)).toBeNull();
      await expect(t.outbox.begin(held!.deliveryId, Date.now())).rejects.toBeInstanceOf(StaleDeliveryError);
      await t.outbox.release([held!.deliveryId]).catch(() => undefined);
      // Nothing of it is handed out any more.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await t.outbox.claim(10, Date.now())).filter((c) => c.notificationId === n.id)).toEqual([]);
      expect(await t.outbox.counts()).toMatchObject({ queued: 0, sending: 0, sent: 0 });
      expect(await t.outbox.erase(n.id)).toBeNull();
    });
  });
}
