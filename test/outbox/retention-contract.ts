/**
 * What every outbox promises of RETENTION and erasure, run against each
 * backend with a clock the test holds (purge's `finalBefore`): a notification
 * is kept until all its recipients are final and then for as long as asked,
 * and removed with everything stored of it.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Outbox, StaleDeliveryError } from '../../src/outbox/outbox.ts';
import { example } from '../helpers/examples.ts';
import { attempt, claimUntil, notificationOf, type OutboxHarness, outcomes, reply } from './contract.ts';

export function retentionContract(name: string, harness: () => OutboxHarness): void {
  describe(`retention contract: ${name}`, () => {
    let h: OutboxHarness;
    let outbox: Outbox;
    beforeEach(async () => {
      h = harness();
      outbox = await h.open();
    });
    afterEach(async () => {
      await outbox.close().catch(() => undefined);
      await h.cleanup();
    });

    it('purges a notification once every recipient is final, counting from the last change; with its facts, events and idempotency key', async () => {
      const n = notificationOf(example('trueconf-weekly'), { idempotencyKey: `key-${randomUUID()}`, bodyHash: 'A' });
      const waiting = notificationOf(example('skype-invitation'));
      await outbox.accept(n);
      await outbox.accept(waiting);
      const claimed = await claimUntil(outbox, (c) => c.length >= 4);
      const mine = claimed.filter((c) => c.notificationId === n.id);
      await attempt(outbox, mine[0]!, outcomes.sent('<0@x>'));
      await attempt(outbox, mine[1]!, outcomes.final('failed', '<1@x>', { ...reply, responseCode: 550 }));
      const lastAt = Date.now();
      await attempt(outbox, mine[2]!, { ...outcomes.sent('<2@x>'), at: lastAt });
      const other = claimed.find((c) => c.notificationId === waiting.id)!;
      await attempt(outbox, other, outcomes.retrying(Date.now() + 60_000)); // not final: kept whatever the time

      expect(await outbox.purge(lastAt - 1, 100)).toEqual({ notifications: 0, undeliveredEvents: {} });
      // A bounce after it became final: RETENTION counts from it.
      const bounceAt = lastAt + 5000;
      expect(
        await outbox.report(
          { notificationId: n.id, position: 0 },
          { action: 'failed', status: '5.1.1', diagnostic: null, remoteMta: null, reportingMta: null, at: bounceAt },
        ),
      ).toBe('bounced');
      expect((await outbox.purge(bounceAt - 1, 100)).notifications).toBe(0);

      const removed = await outbox.purge(bounceAt + 3_600_000, 100);
      // Events no one took: four for the one-by-one consumer (sent, failed, sent, and the bounce behind the first sent), two gathered failures.
      expect(removed).toEqual({ notifications: 1, undeliveredEvents: { 'one-by-one': 4, gathered: 2 } });
      expect(await outbox.status(n.id)).toBeNull();
      expect(await outbox.body(n.id)).toBeNull();
      expect(await outbox.status(waiting.id)).not.toBeNull();
      expect(await outbox.counts()).toMatchObject({ sent: 0, failed: 0, bounced: 0, retrying: 1 });
      const left = await outbox.events.claim('one-by-one', 100, Date.now() + 3_600_000, 60_000);
      expect(left.flatMap((b) => b.events.map((e) => e.fact.notificationId)).filter((id) => id === n.id)).toEqual([]);
      expect(await outbox.events.claim('gathered', 100, Date.now() + 3_600_000, 60_000)).toEqual([]);
      expect(
        await outbox.report(
          { notificationId: n.id, position: 0 },
          { action: 'failed', status: '5.1.1', diagnostic: null, remoteMta: null, reportingMta: null, at: Date.now() },
        ),
      ).toBe('no-such-delivery');
      // The idempotency key went with it: the same request is a new notification now.
      expect((await outbox.accept({ ...n, id: randomUUID() })).kind).toBe('accepted');
    });

    it('erases a notification now, whatever its state: what was not sent is never sent, and a claimed delivery cannot start', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await outbox.accept(n);
      const [first, held, third] = await claimUntil(outbox, (c) => c.length >= 3);
      await attempt(outbox, first!, outcomes.sent('<0@x>'));
      await outbox.release([third!.deliveryId]); // queued again
      const removed = await outbox.erase(n.id);
      expect(removed).toMatchObject({ notifications: 1 });
      expect(await outbox.status(n.id)).toBeNull();
      await expect(outbox.begin(held!.deliveryId, Date.now())).rejects.toBeInstanceOf(StaleDeliveryError);
      await outbox.release([held!.deliveryId]).catch(() => undefined);
      // Nothing of it is handed out any more.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await outbox.claim(10, Date.now())).filter((c) => c.notificationId === n.id)).toEqual([]);
      expect(await outbox.counts()).toMatchObject({ queued: 0, sending: 0, sent: 0 });
      expect(await outbox.erase(n.id)).toBeNull();
    });
  });
}
