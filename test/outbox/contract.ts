/**
 * What every outbox promises, run against each backend (sqlite.test.ts,
 * redis.test.ts): the same suite, so that they can replace each other.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newNotification } from '../../src/delivery/admission.ts';
import { DELAY_REPORT_INTERVAL_MS, type Outcome } from '../../src/delivery/policy.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { type ClaimedDelivery, type LastReply, type NewNotification, type Outbox, StaleDeliveryError } from '../../src/outbox/outbox.ts';
import { acceptedBy } from '../../src/transport/delivery-error.ts';
import { example } from '../helpers/examples.ts';

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

/** Claims webhook events until `count` came (a lease or a retry time has to run out first). */
async function claimWebhooksUntil(outbox: Outbox, count: number, leaseMs = 60_000) {
  const events = [];
  const started = Date.now();
  while (events.length < count) {
    if (Date.now() - started > 90_000) throw new Error('no webhook event came');
    events.push(...(await outbox.claimWebhooks(10, Date.now(), leaseMs)));
    if (events.length < count) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return events;
}

/** The notice window the harnesses open their outbox with (`notices: { windowMs }`). */
export const NOTICE_WINDOW_MS = 400;

/** Claims organizer notices until one comes. */
async function claimNoticeWhenDue(outbox: Outbox, leaseMs = 60_000) {
  const started = Date.now();
  for (;;) {
    const [batch] = await outbox.claimNotices(10, Date.now(), leaseMs);
    if (batch) return { batch, claimedAt: Date.now() };
    if (Date.now() - started > 30_000) throw new Error('no notice came');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface OutboxHarness {
  /** A fresh, empty outbox. */
  open(): Promise<Outbox>;
  /** The same outbox opened again after close (a restart on the same data). */
  reopen(): Promise<Outbox>;
  cleanup(): Promise<void>;
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

const reply: LastReply = { code: 'EENVELOPE', responseCode: 451, response: '451 4.7.1 Try later', message: 'greylisted' };

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

export function outboxContract(name: string, harness: () => OutboxHarness): void {
  describe(`outbox contract: ${name}`, () => {
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

    it('stores a notification with a queued delivery per recipient, readable by id', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      const outcome = await outbox.accept(n);
      expect(outcome.kind).toBe('accepted');
      const status = await outbox.status(n.id);
      // The answer to the POST is what a read right after it says.
      expect(outcome).toEqual({ kind: 'accepted', notification: status });
      expect(status).toMatchObject({ id: n.id, type: 'invitation', event: { uid: n.event.uid, sequence: 0 } });
      expect(status!.recipients.map((r) => [r.email, r.status, r.attempts])).toEqual(n.recipients.map((r) => [r.email, 'queued', 0]));
      expect(await outbox.status('no-such-id')).toBeNull();
      expect((await outbox.counts()).queued).toBe(3);
    });

    it('replays the same key with the same body, refuses it with another body', async () => {
      const first = notificationOf(example('skype-invitation'), { idempotencyKey: 'key-1', bodyHash: 'A' });
      expect((await outbox.accept(first)).kind).toBe('accepted');
      const again = await outbox.accept({ ...first, id: randomUUID() });
      expect(again).toMatchObject({ kind: 'replayed', notification: { id: first.id } });
      expect((await outbox.accept({ ...first, id: randomUUID(), bodyHash: 'B' })).kind).toBe('key-reused');
      expect((await outbox.counts()).queued).toBe(1);
    });

    it('claims due deliveries once; `sending` only once on the wire; what was on the wire survives a restart', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await outbox.accept(n);
      const claimed = await outbox.claim(10, Date.now());
      expect(claimed.map((c) => c.recipient).sort()).toEqual(n.recipients.map((r) => r.email).sort());
      expect(claimed[0]).toMatchObject({ notificationId: n.id, attempt: 1, unconfirmed: 0, body: n.body, acceptedAt: n.acceptedAt, deadlineAt: n.deadlineAt });
      expect(await outbox.claim(10, Date.now())).toEqual([]);
      // claimed is not on the wire: still queued
      expect(await outbox.counts()).toMatchObject({ queued: 3, sending: 0 });
      for (const c of claimed) await outbox.begin(c.deliveryId, Date.now());
      expect(await outbox.counts()).toMatchObject({ queued: 0, sending: 3 });
      expect((await outbox.status(n.id))!.recipients.every((r) => r.status === 'sending' && r.attempts === 1)).toBe(true);
      await outbox.settle(claimed[0]!.deliveryId, outcomes.sent('<a@b>'));
      await outbox.close();
      outbox = await h.reopen();
      const status = await outbox.status(n.id);
      expect(status!.recipients.filter((r) => r.status === 'sent')).toHaveLength(1);
      // the two left on the wire by the "crash" are due again
      const again = await claimUntil(outbox, (c) => c.length >= 2);
      expect(again).toHaveLength(2);
      expect(again.every((c) => c.attempt === 2)).toBe(true);
      expect(await outbox.counts()).toMatchObject({ queued: 2, sending: 0, sent: 1 });
    });

    it('records sent, retrying, failed, expired and unknown with the last reply; counters stay exact', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await outbox.accept(n);
      const [a, b, c] = await outbox.claim(10, Date.now());
      const at = Date.now();
      await attempt(outbox, a!, outcomes.sent('<1@x>', '250 2.0.0 queued'));
      await attempt(outbox, b!, outcomes.retrying(at + 1000, '<2@x>'));
      await attempt(outbox, c!, outcomes.final('failed', '<3@x>', { ...reply, responseCode: 550, response: '550 5.1.1 No such user' }));
      const byEmail = Object.fromEntries((await outbox.status(n.id))!.recipients.map((r) => [r.email, r]));
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
      expect(await outbox.claim(10, Date.now())).toEqual([]);
      const retried = await claimUntil(outbox, (c) => c.length >= 1);
      expect(Date.now()).toBeGreaterThanOrEqual(at + 1000);
      expect(retried.map((r) => [r.recipient, r.attempt])).toEqual([[b!.recipient, 2]]);
      await attempt(outbox, retried[0]!, outcomes.final('expired', '<2@x>'));
      expect(await outbox.counts()).toEqual({ queued: 0, sending: 0, sent: 1, retrying: 0, failed: 1, expired: 1, unknown: 0, superseded: 0, bounced: 0 });
    });

    it('an unknown outcome is resent once, counted, then final', async () => {
      const n = notificationOf(example('skype-invitation'));
      await outbox.accept(n);
      const [first] = await outbox.claim(1, Date.now());
      await attempt(outbox, first!, outcomes.retrying(Date.now() + 300, '<m@x>', true));
      const [again] = await claimUntil(outbox, (c) => c.length >= 1);
      expect(again).toMatchObject({ attempt: 2, unconfirmed: 1 });
      await attempt(outbox, again!, outcomes.final('unknown', '<m@x>'));
      expect((await outbox.status(n.id))!.recipients[0]).toMatchObject({ status: 'unknown', attempts: 2, messageId: '<m@x>', nextAttemptAt: null });
      expect((await outbox.counts()).unknown).toBe(1);
    });

    it('hands back claimed deliveries untouched, and refuses an outcome for a delivery not on the wire', async () => {
      await outbox.accept(notificationOf(example('skype-invitation')));
      const [claimed] = await outbox.claim(1, Date.now());
      await expect(outbox.settle(claimed!.deliveryId, outcomes.sent('<x@y>'))).rejects.toBeInstanceOf(StaleDeliveryError);
      await outbox.release([claimed!.deliveryId]);
      const again = await claimUntil(outbox, (c) => c.length >= 1);
      expect(again.map((c) => [c.deliveryId, c.attempt])).toEqual([[claimed!.deliveryId, 1]]);
      expect((await outbox.counts()).queued).toBe(1);
    });

    it('supersedes a queued REQUEST by a newer REQUEST or CANCEL for the same event and recipient', async () => {
      const invitation = notificationOf(example('skype-invitation'));
      const update = notificationOf(example('update-time-changed'));
      const cancel = notificationOf(example('cancellation'));
      for (const n of [invitation, update, cancel]) await outbox.accept(n);
      const claimed = await claimUntil(outbox, (c) => c.length >= 1);
      expect(claimed.map((c) => c.notificationId)).toEqual([cancel.id]);
      expect(await outbox.claim(10, Date.now())).toEqual([]);
      expect((await outbox.status(invitation.id))!.recipients[0]!.status).toBe('superseded');
      expect((await outbox.status(update.id))!.recipients[0]!.status).toBe('superseded');
    });

    it('sends per event and recipient in sequence order: a newer one waits for an older one that is still on its way', async () => {
      const cancel = notificationOf(example('cancellation')); // sequence 3
      const reinvite = example('skype-invitation');
      reinvite.event.sequence = 4;
      const again = notificationOf(reinvite);
      await outbox.accept(cancel);
      await outbox.accept(again);
      const first = await claimUntil(outbox, (c) => c.length >= 1);
      expect(first.map((c) => c.notificationId)).toEqual([cancel.id]);
      expect(await outbox.claim(10, Date.now())).toEqual([]);
      await attempt(outbox, first[0]!, outcomes.retrying(Date.now() + 800));
      expect(await outbox.claim(10, Date.now())).toEqual([]); // still waits behind the retrying cancellation
      const retried = await claimUntil(outbox, (c) => c.length >= 1);
      expect(retried.map((c) => c.notificationId)).toEqual([cancel.id]);
      await attempt(outbox, retried[0]!, outcomes.sent('<c@x>', '250 ok'));
      expect((await claimUntil(outbox, (c) => c.length >= 1)).map((c) => c.notificationId)).toEqual([again.id]);
    });

    it('never lets answers of different attendees replace each other', async () => {
      const accepted = notificationOf(example('reply-accepted'));
      const other = example('reply-accepted');
      other.attendees.push({ name: 'Ирина', email: 'i@mydomain.ru', role: 'required', status: 'declined' });
      other.reply = { attendee: 'i@mydomain.ru', status: 'declined' };
      const declined = notificationOf(other);
      await outbox.accept(accepted);
      await outbox.accept(declined);
      expect((await claimUntil(outbox, (c) => c.length >= 2)).map((c) => c.notificationId).sort()).toEqual([accepted.id, declined.id].sort());
    });

    it("applies delivery reports: a failure bounces a sent delivery with the DSN's words, a delay is kept on it, others change nothing", async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await outbox.accept(n);
      const claimed = await outbox.claim(10, Date.now());
      const byPosition = new Map(claimed.map((c) => [c.position, c]));
      expect([...byPosition.keys()].sort()).toEqual([0, 1, 2]);
      await attempt(outbox, byPosition.get(0)!, outcomes.sent('<0@x>'));
      await attempt(outbox, byPosition.get(1)!, outcomes.sent('<1@x>'));
      const failed = {
        action: 'failed' as const,
        status: '5.1.1',
        diagnostic: 'smtp; 550 5.1.1 <x@partner.example>: user unknown',
        remoteMta: 'dns; mx.partner.example',
        reportingMta: 'dns; relay.mydomain.ru',
        at: Date.now(),
      };
      expect(await outbox.report({ notificationId: n.id, position: 0 }, failed)).toBe('bounced');
      expect(await outbox.report({ notificationId: n.id, position: 1 }, { ...failed, action: 'delayed', status: '4.4.7' })).toBe('noted');
      // A second delay within DELAY_REPORT_INTERVAL_MS changes nothing (and makes no event); one after it is noted.
      const later = { ...failed, action: 'delayed' as const, status: '4.4.1', diagnostic: 'again' };
      expect(await outbox.report({ notificationId: n.id, position: 1 }, { ...later, at: failed.at + DELAY_REPORT_INTERVAL_MS - 1000 })).toBe('ignored');
      expect(await outbox.report({ notificationId: n.id, position: 1 }, { ...later, at: failed.at + DELAY_REPORT_INTERVAL_MS + 1000 })).toBe('noted');
      expect(await outbox.report({ notificationId: n.id, position: 2 }, failed)).toBe('ignored'); // still queued: not sent yet
      expect(await outbox.report({ notificationId: n.id, position: 0 }, failed)).toBe('ignored'); // bounced already
      expect(await outbox.report({ notificationId: randomUUID(), position: 0 }, failed)).toBe('no-such-delivery');
      const [first, second, third] = (await outbox.status(n.id))!.recipients;
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
      expect(await outbox.counts()).toMatchObject({ bounced: 1, sent: 1, queued: 1 });
    });

    it('stores a webhook event with each final status and report, hands out one per recipient in order, again after a lost lease, with the same id', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await outbox.accept(n);
      const claimed = new Map((await outbox.claim(10, Date.now())).map((c) => [c.position, c]));
      await attempt(outbox, claimed.get(0)!, outcomes.sent('<0@x>', '250 2.0.0 queued'));
      await attempt(outbox, claimed.get(1)!, outcomes.retrying(Date.now() + 60_000));
      await attempt(outbox, claimed.get(2)!, outcomes.final('failed', '<2@x>', { ...reply, responseCode: 550, response: '550 5.1.1 no' }));
      const bounce = {
        action: 'failed' as const,
        status: '5.1.1',
        diagnostic: 'smtp; 550 5.1.1 unknown',
        remoteMta: null,
        reportingMta: 'dns; relay',
        at: Date.now(),
      };
      expect(await outbox.report({ notificationId: n.id, position: 0 }, bounce)).toBe('bounced');

      const first = await outbox.claimWebhooks(10, Date.now(), 60_000);
      const byType = Object.fromEntries(first.map((e) => [JSON.parse(e.payload).type, { ...e, body: JSON.parse(e.payload) }]));
      // one per recipient: position 0 has sent and bounced, only sent is out; position 1 retries, no event
      expect(Object.keys(byType).sort()).toEqual(['delivery.failed', 'delivery.sent']);
      expect(byType['delivery.sent']!.body.data).toMatchObject({
        notificationId: n.id,
        position: 0,
        recipient: n.recipients[0]!.email,
        status: 'sent',
        messageId: '<0@x>',
        lastReply: { code: 'OK', responseCode: 250 },
      });
      expect(byType['delivery.failed']!.body.data).toMatchObject({ position: 2, status: 'failed', lastReply: { responseCode: 550 } });
      // UUIDv7 (RFC 9562): minted with the event, never a counter that starts again with a new outbox.
      expect(first.every((e) => /^evt_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(e.id) && e.attempt === 1)).toBe(true);
      expect(await outbox.claimWebhooks(10, Date.now(), 60_000)).toEqual([]); // leased

      await outbox.settleWebhook(byType['delivery.sent']!, { delivered: true });
      const [bounced] = await claimWebhooksUntil(outbox, 1, 500); // a short lease, lost below
      expect(JSON.parse(bounced!.payload)).toMatchObject({ type: 'delivery.bounced', data: { position: 0, status: 'bounced', report: { status: '5.1.1' } } });

      await outbox.settleWebhook(byType['delivery.failed']!, { retryAt: Date.now() + 300 });
      const [again] = await claimWebhooksUntil(outbox, 1);
      expect(again).toMatchObject({ id: byType['delivery.failed']!.id, attempt: 2 });

      // a lost lease (the dispatcher died without an answer): the same event again, after the lease
      await outbox.close();
      outbox = await h.reopen();
      const [afterCrash] = await claimWebhooksUntil(outbox, 1, 500);
      expect(afterCrash!.id).toBe(bounced!.id);
    });

    it('gathers the undelivered recipients of a notification for one notice to the organizer, a window after the first; what comes later waits for the next', async () => {
      const n = notificationOf(example('trueconf-weekly'));
      await outbox.accept(n);
      const claimed = new Map((await outbox.claim(10, Date.now())).map((c) => [c.position, c]));
      const noSuchUser = { ...reply, responseCode: 550, response: '550 5.1.1 no such user' };
      await attempt(outbox, claimed.get(0)!, outcomes.sent('<0@x>'));
      const firstFailureAt = Date.now();
      await attempt(outbox, claimed.get(1)!, outcomes.final('failed', '<1@x>', noSuchUser));
      await attempt(outbox, claimed.get(2)!, outcomes.final('unknown', '<2@x>')); // may have arrived: not a failure to tell of
      expect(await outbox.claimNotices(10, Date.now(), 60_000)).toEqual([]); // inside the window
      const bounce = {
        action: 'failed' as const,
        status: '5.1.2',
        diagnostic: 'smtp; 550 5.1.2 host not found',
        remoteMta: null,
        reportingMta: 'dns; relay',
        at: Date.now(),
      };
      expect(await outbox.report({ notificationId: n.id, position: 0 }, bounce)).toBe('bounced');

      const { batch, claimedAt } = await claimNoticeWhenDue(outbox);
      expect(claimedAt - firstFailureAt).toBeGreaterThanOrEqual(NOTICE_WINDOW_MS); // not before the window after the first failure
      expect(batch).toMatchObject({ notificationId: n.id, body: n.body, attempt: 1 });
      expect(batch.failures).toEqual([
        expect.objectContaining({
          position: 1,
          recipient: n.recipients[1]!.email,
          status: 'failed',
          messageId: '<1@x>',
          lastReply: expect.objectContaining({ response: '550 5.1.1 no such user' }),
        }),
        expect.objectContaining({
          position: 0,
          recipient: n.recipients[0]!.email,
          status: 'bounced',
          report: expect.objectContaining({ status: '5.1.2', diagnostic: bounce.diagnostic }),
        }),
      ]);
      expect(await outbox.claimNotices(10, Date.now(), 60_000)).toEqual([]); // leased

      // Not sent: due again at the retry time, the same failures, the next attempt.
      await outbox.settleNotice(batch, { retryAt: Date.now() + 200 });
      const { batch: again } = await claimNoticeWhenDue(outbox, 300); // a short lease, lost below
      expect(again).toMatchObject({ attempt: 2, through: batch.through, failures: batch.failures });

      // A lost lease (the sender died): the same notice again after a restart.
      await outbox.close();
      outbox = await h.reopen();
      const { batch: afterCrash } = await claimNoticeWhenDue(outbox);
      expect(afterCrash.failures).toEqual(batch.failures);

      // A failure that comes while a notice is out goes in the next one, not lost with the first.
      await outbox.report({ notificationId: n.id, position: 2 }, { ...bounce, at: Date.now() }); // `unknown` can bounce too
      await outbox.settleNotice(afterCrash, { done: true });
      const { batch: next } = await claimNoticeWhenDue(outbox);
      expect(next.failures).toEqual([expect.objectContaining({ position: 2, status: 'bounced' })]);
      // A repeated answer for the first notice (another instance's, late) drops nothing more and leaves the lease alone.
      await outbox.settleNotice(afterCrash, { done: true });
      expect(await outbox.claimNotices(10, Date.now(), 60_000)).toEqual([]);
      await outbox.settleNotice(next, { retryAt: Date.now() });
      const { batch: stillThere } = await claimNoticeWhenDue(outbox);
      expect(stillThere.failures).toEqual(next.failures);
      await outbox.settleNotice(stillThere, { done: true });
      expect(await outbox.claimNotices(10, Date.now() + 10 * NOTICE_WINDOW_MS, 60_000)).toEqual([]);
    });

    it('reports whether it can take a write', async () => {
      await expect(outbox.checkWritable()).resolves.toBeUndefined();
    });
  });
}
