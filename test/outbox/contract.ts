/**
 * What every delivery store promises, run against each backend (sqlite.test.ts,
 * redis.test.ts): the same suite, so that they can replace each other. The
 * event queue's promises: events-contract.ts; RETENTION's: retention-contract.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newNotification } from '../../src/delivery/admission.ts';
import { DELAY_REPORT_INTERVAL_MS, type Outcome } from '../../src/delivery/policy.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import type { EventConsumer } from '../../src/outbox/events.ts';
import { type ClaimedDelivery, type LastReply, type NewNotification, type Outbox, StaleDeliveryError } from '../../src/outbox/outbox.ts';
import { acceptedBy } from '../../src/transport/delivery-error.ts';
import { example } from '../helpers/examples.ts';
import { waitFor } from '../helpers/service.ts';

/**
 * Claims until `enough` holds for everything claimed so far: a backend on a
 * real clock (BullMQ) hands out delayed and stalled jobs when their time comes.
 */
export async function claimUntil(outbox: Outbox, enough: (claimed: ClaimedDelivery[]) => boolean, timeoutMs = 15_000): Promise<ClaimedDelivery[]> {
  const claimed: ClaimedDelivery[] = [];
  const started = Date.now();
  while (!enough(claimed)) {
    if (Date.now() - started > timeoutMs) throw new Error(`claimed ${claimed.length} only: ${claimed.map((c) => c.recipient).join(', ')}`);
    claimed.push(...(await outbox.claim(10, Date.now())));
    if (!enough(claimed)) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return claimed;
}

export interface OutboxHarness {
  /** A fresh, empty outbox, with CONTRACT_CONSUMERS. */
  open(): Promise<Outbox>;
  /** The same outbox opened again after close (a restart on the same data). */
  reopen(): Promise<Outbox>;
  cleanup(): Promise<void>;
}

/**
 * A fresh outbox from the harness for each test, closed after it: `t.outbox`
 * (reassign it after `t.h.reopen()`), and `t.h`.
 */
export function openedOutbox(harness: () => OutboxHarness): { outbox: Outbox; h: OutboxHarness } {
  const t = {} as { outbox: Outbox; h: OutboxHarness };
  beforeEach(async () => {
    t.h = harness();
    t.outbox = await t.h.open();
  });
  afterEach(async () => {
    await t.outbox.close().catch(() => undefined);
    await t.h.cleanup();
  });
  return t;
}

export function notificationOf(payload: unknown, overrides: Partial<NewNotification> = {}): NewNotification {
  const body = JSON.stringify(payload);
  const admitted = newNotification(
    parseNotificationRequest(payload),
    { id: randomUUID(), idempotencyKey: null, bodyHash: body, body, acceptedAt: Date.now() },
    { maxAgeMs: 86_400_000, minAgeMs: 86_400_000 },
  );
  return { ...admitted, ...overrides };
}

export const reply: LastReply = { code: 'EENVELOPE', responseCode: 451, response: '451 4.7.1 Try later', message: 'greylisted' };

/** Outcomes as the worker's policy makes them. */
export const outcomes = {
  sent: (messageId: string, response = '250 OK'): Outcome => ({ kind: 'sent', reply: acceptedBy(response).reply, messageId, at: Date.now() }),
  retrying: (nextAttemptAt: number, messageId: string | null = null, unconfirmed = false): Outcome => ({
    kind: 'retrying',
    reply,
    messageId,
    at: Date.now(),
    nextAttemptAt,
    unconfirmed,
  }),
  final: (kind: 'failed' | 'expired' | 'unknown', messageId: string | null, lastReply: LastReply = reply): Outcome => ({
    kind,
    reply: lastReply,
    messageId,
    at: Date.now(),
  }),
};

/** Puts a claimed delivery on the wire and records its outcome, as the worker does. */
export async function attempt(outbox: Outbox, delivery: ClaimedDelivery, outcome: Outcome): Promise<void> {
  await outbox.begin(delivery.deliveryId, Date.now());
  await outbox.settle(delivery.deliveryId, outcome);
}

/** The notice-like consumer's window. */
export const GATHER_WINDOW_MS = 400;

/**
 * Consumers every harness opens its outbox with: one that takes a delivery's
 * events one by one (as the webhook does), one that gathers a notification's
 * failures for a window (as the organizer's notice does).
 */
export const CONTRACT_CONSUMERS: readonly EventConsumer[] = [
  {
    name: 'one-by-one',
    hears: new Set(['sent', 'failed', 'expired', 'unknown', 'superseded', 'bounced', 'delayed']),
    keyBy: 'delivery',
    take: 'oldest',
    delayMs: 0,
  },
  { name: 'gathered', hears: new Set(['failed', 'expired', 'bounced']), keyBy: 'notification', take: 'all', delayMs: GATHER_WINDOW_MS },
];

export function outboxContract(name: string, harness: () => OutboxHarness): void {
  describe(`delivery store contract: ${name}`, () => {
    const t = openedOutbox(harness);

    it('stores a notification with a queued delivery per recipient, readable by id', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      const outcome = await t.outbox.accept(n);
      expect(outcome.kind).toBe('accepted');
      const status = await t.outbox.status(n.id);
      // The answer to the POST is what a read right after it says.
      expect(outcome).toEqual({ kind: 'accepted', notification: status });
      expect(status).toMatchObject({ id: n.id, type: 'invitation', event: { uid: n.event.uid, sequence: 0 } });
      expect(status!.recipients.map((r) => [r.email, r.status, r.attempts])).toEqual(n.recipients.map((r) => [r.email, 'queued', 0]));
      expect(await t.outbox.status('no-such-id')).toBeNull();
      expect((await t.outbox.counts()).queued).toBe(3);
    });

    it('replays the same key with the same body, refuses it with another body', async () => {
      const first = notificationOf(example('skype-invitation'), { idempotencyKey: 'key-1', bodyHash: 'A' });
      expect((await t.outbox.accept(first)).kind).toBe('accepted');
      const again = await t.outbox.accept({ ...first, id: randomUUID() });
      expect(again).toMatchObject({ kind: 'replayed', notification: { id: first.id } });
      expect((await t.outbox.accept({ ...first, id: randomUUID(), bodyHash: 'B' })).kind).toBe('key-reused');
      expect((await t.outbox.counts()).queued).toBe(1);
    });

    it('claims due deliveries once; `sending` only once on the wire; what was on the wire survives a restart', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const claimed = await t.outbox.claim(10, Date.now());
      expect(claimed.map((c) => c.recipient).sort()).toEqual(n.recipients.map((r) => r.email).sort());
      expect(claimed[0]).toMatchObject({ notificationId: n.id, attempt: 1, unconfirmed: 0, body: n.body, acceptedAt: n.acceptedAt, deadlineAt: n.deadlineAt });
      expect(await t.outbox.claim(10, Date.now())).toEqual([]);
      // claimed is not on the wire: still queued
      expect(await t.outbox.counts()).toMatchObject({ queued: 3, sending: 0 });
      for (const c of claimed) await t.outbox.begin(c.deliveryId, Date.now());
      expect(await t.outbox.counts()).toMatchObject({ queued: 0, sending: 3 });
      expect((await t.outbox.status(n.id))!.recipients.every((r) => r.status === 'sending' && r.attempts === 1)).toBe(true);
      await t.outbox.settle(claimed[0]!.deliveryId, outcomes.sent('<a@b>'));
      await t.outbox.close();
      t.outbox = await t.h.reopen();
      const status = await t.outbox.status(n.id);
      expect(status!.recipients.filter((r) => r.status === 'sent')).toHaveLength(1);
      // the two left on the wire by the "crash" are due again
      const again = await claimUntil(t.outbox, (c) => c.length >= 2);
      expect(again).toHaveLength(2);
      expect(again.every((c) => c.attempt === 2)).toBe(true);
      expect(await t.outbox.counts()).toMatchObject({ queued: 2, sending: 0, sent: 1 });
    });

    it('records sent, retrying, failed, expired and unknown with the last reply; counters stay exact', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const [a, b, c] = await t.outbox.claim(10, Date.now());
      const at = Date.now();
      await attempt(t.outbox, a!, outcomes.sent('<1@x>', '250 2.0.0 queued'));
      await attempt(t.outbox, b!, outcomes.retrying(at + 1000, '<2@x>'));
      await attempt(t.outbox, c!, outcomes.final('failed', '<3@x>', { ...reply, responseCode: 550, response: '550 5.1.1 No such user' }));
      const byEmail = Object.fromEntries((await t.outbox.status(n.id))!.recipients.map((r) => [r.email, r]));
      expect(byEmail[a!.recipient]).toMatchObject({
        status: 'sent',
        messageId: '<1@x>',
        attempts: 1,
        lastReply: { code: 'OK', responseCode: 250, response: '250 2.0.0 queued' },
      });
      expect(byEmail[a!.recipient]!.sentAt).not.toBeNull();
      expect(byEmail[b!.recipient]).toMatchObject({ status: 'retrying', lastReply: reply, nextAttemptAt: new Date(at + 1000).toISOString() });
      expect(byEmail[c!.recipient]).toMatchObject({ status: 'failed', lastReply: { responseCode: 550, response: '550 5.1.1 No such user' } });
      // a retry is not due before its time, then it is
      expect(await t.outbox.claim(10, Date.now())).toEqual([]);
      const retried = await claimUntil(t.outbox, (c) => c.length >= 1);
      expect(Date.now()).toBeGreaterThanOrEqual(at + 1000);
      expect(retried.map((r) => [r.recipient, r.attempt])).toEqual([[b!.recipient, 2]]);
      await attempt(t.outbox, retried[0]!, outcomes.final('expired', '<2@x>'));
      expect(await t.outbox.counts()).toEqual({ queued: 0, sending: 0, sent: 1, retrying: 0, failed: 1, expired: 1, unknown: 0, superseded: 0, bounced: 0 });
    });

    it('tells how many deliveries are due and since when the longest-waiting one is (for /metrics)', async () => {
      expect(await t.outbox.backlog(Date.now())).toEqual({ due: 0, oldestDueAt: null });
      const before = Date.now();
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const waiting = await t.outbox.backlog(Date.now());
      expect(waiting.due).toBe(3);
      expect(waiting.oldestDueAt).toBeGreaterThanOrEqual(before - 1000);
      expect(waiting.oldestDueAt).toBeLessThanOrEqual(Date.now());
      const claimed = await claimUntil(t.outbox, (c) => c.length >= 3);
      expect((await t.outbox.backlog(Date.now())).due).toBe(0);
      // a retry is due at its time, not before
      await attempt(t.outbox, claimed[0]!, outcomes.retrying(Date.now() + 300));
      for (const c of claimed.slice(1)) await attempt(t.outbox, c, outcomes.sent('<x@y>'));
      expect((await t.outbox.backlog(Date.now())).due).toBe(0);
      await waitFor(async () => (await t.outbox.backlog(Date.now())).due === 1, 5000, 'the retry due');
    });

    it('an unknown outcome is resent once, counted, then final', async () => {
      const n = notificationOf(example('skype-invitation'));
      await t.outbox.accept(n);
      const [first] = await t.outbox.claim(1, Date.now());
      await attempt(t.outbox, first!, outcomes.retrying(Date.now() + 300, '<m@x>', true));
      const [again] = await claimUntil(t.outbox, (c) => c.length >= 1);
      expect(again).toMatchObject({ attempt: 2, unconfirmed: 1 });
      await attempt(t.outbox, again!, outcomes.final('unknown', '<m@x>'));
      expect((await t.outbox.status(n.id))!.recipients[0]).toMatchObject({ status: 'unknown', attempts: 2, messageId: '<m@x>', nextAttemptAt: null });
      expect((await t.outbox.counts()).unknown).toBe(1);
    });

    it('hands back claimed deliveries untouched, and refuses an outcome for a delivery not on the wire', async () => {
      await t.outbox.accept(notificationOf(example('skype-invitation')));
      const [claimed] = await t.outbox.claim(1, Date.now());
      await expect(t.outbox.settle(claimed!.deliveryId, outcomes.sent('<x@y>'))).rejects.toBeInstanceOf(StaleDeliveryError);
      await t.outbox.release([claimed!.deliveryId]);
      const again = await claimUntil(t.outbox, (c) => c.length >= 1);
      expect(again.map((c) => [c.deliveryId, c.attempt])).toEqual([[claimed!.deliveryId, 1]]);
      expect((await t.outbox.counts()).queued).toBe(1);
    });

    it('supersedes a queued REQUEST by a newer REQUEST or CANCEL for the same event and recipient', async () => {
      const invitation = notificationOf(example('skype-invitation'));
      const update = notificationOf(example('update-time-changed'));
      const cancel = notificationOf(example('cancellation'));
      for (const n of [invitation, update, cancel]) await t.outbox.accept(n);
      const claimed = await claimUntil(t.outbox, (c) => c.length >= 1);
      expect(claimed.map((c) => c.notificationId)).toEqual([cancel.id]);
      expect(await t.outbox.claim(10, Date.now())).toEqual([]);
      expect((await t.outbox.status(invitation.id))!.recipients[0]!.status).toBe('superseded');
      expect((await t.outbox.status(update.id))!.recipients[0]!.status).toBe('superseded');
    });

    it('sends per event and recipient in sequence order: a newer one waits for an older one that is still on its way', async () => {
      const cancel = notificationOf(example('cancellation')); // sequence 3
      const reinvite = example('skype-invitation');
      reinvite.event.sequence = 4;
      const again = notificationOf(reinvite);
      await t.outbox.accept(cancel);
      await t.outbox.accept(again);
      const first = await claimUntil(t.outbox, (c) => c.length >= 1);
      expect(first.map((c) => c.notificationId)).toEqual([cancel.id]);
      expect(await t.outbox.claim(10, Date.now())).toEqual([]);
      await attempt(t.outbox, first[0]!, outcomes.retrying(Date.now() + 800));
      expect(await t.outbox.claim(10, Date.now())).toEqual([]); // still waits behind the retrying cancellation
      const retried = await claimUntil(t.outbox, (c) => c.length >= 1);
      expect(retried.map((c) => c.notificationId)).toEqual([cancel.id]);
      await attempt(t.outbox, retried[0]!, outcomes.sent('<c@x>', '250 ok'));
      expect((await claimUntil(t.outbox, (c) => c.length >= 1)).map((c) => c.notificationId)).toEqual([again.id]);
    });

    it('never lets answers of different attendees replace each other', async () => {
      const accepted = notificationOf(example('reply-accepted'));
      const other = example('reply-accepted');
      other.attendees.push({ name: 'Ирина', email: 'i@mydomain.ru', role: 'required', status: 'declined' });
      other.reply = { attendee: 'i@mydomain.ru', status: 'declined' };
      const declined = notificationOf(other);
      await t.outbox.accept(accepted);
      await t.outbox.accept(declined);
      expect((await claimUntil(t.outbox, (c) => c.length >= 2)).map((c) => c.notificationId).sort()).toEqual([accepted.id, declined.id].sort());
    });

    it("applies delivery reports: a failure bounces a sent delivery with the DSN's words, a delay is kept on it, others change nothing", async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await t.outbox.accept(n);
      const claimed = await t.outbox.claim(10, Date.now());
      const byPosition = new Map(claimed.map((c) => [c.position, c]));
      expect([...byPosition.keys()].sort()).toEqual([0, 1, 2]);
      await attempt(t.outbox, byPosition.get(0)!, outcomes.sent('<0@x>'));
      await attempt(t.outbox, byPosition.get(1)!, outcomes.sent('<1@x>'));
      const failed = {
        action: 'failed' as const,
        status: '5.1.1',
        diagnostic: 'smtp; 550 5.1.1 <x@partner.example>: user unknown',
        remoteMta: 'dns; mx.partner.example',
        reportingMta: 'dns; relay.mydomain.ru',
        at: Date.now(),
      };
      expect(await t.outbox.report({ notificationId: n.id, position: 0 }, failed)).toBe('bounced');
      expect(await t.outbox.report({ notificationId: n.id, position: 1 }, { ...failed, action: 'delayed', status: '4.4.7' })).toBe('noted');
      // A second delay within DELAY_REPORT_INTERVAL_MS changes nothing (and makes no event); one after it is noted.
      const later = { ...failed, action: 'delayed' as const, status: '4.4.1', diagnostic: 'again' };
      expect(await t.outbox.report({ notificationId: n.id, position: 1 }, { ...later, at: failed.at + DELAY_REPORT_INTERVAL_MS - 1000 })).toBe('ignored');
      expect(await t.outbox.report({ notificationId: n.id, position: 1 }, { ...later, at: failed.at + DELAY_REPORT_INTERVAL_MS + 1000 })).toBe('noted');
      expect(await t.outbox.report({ notificationId: n.id, position: 2 }, failed)).toBe('ignored'); // still queued: not sent yet
      expect(await t.outbox.report({ notificationId: n.id, position: 0 }, failed)).toBe('ignored'); // bounced already
      expect(await t.outbox.report({ notificationId: randomUUID(), position: 0 }, failed)).toBe('no-such-delivery');
      const [first, second, third] = (await t.outbox.status(n.id))!.recipients;
      expect(first).toMatchObject({
        status: 'bounced',
        messageId: '<0@x>',
        report: {
          action: 'failed',
          status: '5.1.1',
          diagnostic: failed.diagnostic,
          remoteMta: 'dns; mx.partner.example',
          reportingMta: 'dns; relay.mydomain.ru',
        },
      });
      expect(second).toMatchObject({ status: 'sent', report: { action: 'delayed', status: '4.4.1', diagnostic: 'again' } });
      expect(third!.report).toBeNull();
      expect(await t.outbox.counts()).toMatchObject({ bounced: 1, sent: 1, queued: 1 });
    });

    it('gives the request as accepted, and null for no such notification', async () => {
      const n = notificationOf(example('skype-invitation'));
      await t.outbox.accept(n);
      expect(await t.outbox.body(n.id)).toBe(n.body);
      expect(await t.outbox.body(randomUUID())).toBeNull();
    });

    it('reports whether it can take a write', async () => {
      await expect(t.outbox.checkWritable()).resolves.toBeUndefined();
    });
  });
}
