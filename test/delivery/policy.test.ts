/**
 * The delivery rules without a database: what each outbox applies.
 */
import { describe, expect, it } from 'vitest';
import {
  afterReport,
  arbitrate,
  canTransition,
  DELAY_REPORT_INTERVAL_MS,
  DELIVERY_STATUSES,
  decide,
  FINAL_STATUSES,
  ORDER_RECHECK_MS,
  type OrderedDelivery,
  supersedes,
} from '../../src/delivery/policy.ts';
import { acceptedBy, classifyFailure } from '../../src/transport/delivery-error.ts';

const policy = { initialDelayMs: 1000, maxDelayMs: 60_000, unconfirmedDelayMs: 3_600_000 };
const now = 1_700_000_000_000;
const deadlineAt = now + 86_400_000;
const half = () => 0.5;

function delivery(overrides: Partial<OrderedDelivery>): OrderedDelivery {
  return { id: 'x', status: 'queued', sequence: 0, arrival: 1, method: 'REQUEST', occurrence: null, nextAttemptAt: now, ...overrides };
}

describe('statuses and transitions', () => {
  it('a final status is never left but for a bounce after acceptance; only what was on the wire gets an outcome', () => {
    for (const final of FINAL_STATUSES)
      for (const to of DELIVERY_STATUSES) expect(canTransition(final, to)).toBe(to === 'bounced' && (final === 'sent' || final === 'unknown'));
    for (const to of ['sent', 'failed', 'expired', 'unknown'] as const) {
      expect(canTransition('queued', to)).toBe(false);
      expect(canTransition('retrying', to)).toBe(false);
      expect(canTransition('sending', to)).toBe(true);
    }
    expect(canTransition('sending', 'superseded')).toBe(false);
    expect(canTransition('retrying', 'superseded')).toBe(true);
    expect(canTransition('sending', 'queued')).toBe(true); // handed back, or found after a crash
  });
});

describe('afterReport: what a delivery status notification does', () => {
  const at = Date.UTC(2026, 11, 7, 9);
  it('a failure after acceptance bounces a sent (or unknown) delivery; a delay is noted; nothing else changes', () => {
    expect(afterReport('sent', { action: 'failed', at })).toBe('bounced');
    expect(afterReport('unknown', { action: 'failed', at })).toBe('bounced');
    expect(afterReport('sent', { action: 'delayed', at })).toBe('noted');
    for (const status of ['queued', 'sending', 'retrying', 'failed', 'expired', 'superseded', 'bounced'] as const)
      expect(afterReport(status, { action: 'failed', at })).toBe('ignored');
  });

  it('a delay is told once per DELAY_REPORT_INTERVAL_MS: a second within it changes nothing; a failure always counts', () => {
    const delayed = { action: 'delayed', at } as const;
    expect(afterReport('sent', { action: 'delayed', at: at + DELAY_REPORT_INTERVAL_MS - 1 }, delayed)).toBe('ignored');
    expect(afterReport('sent', { action: 'delayed', at: at + DELAY_REPORT_INTERVAL_MS }, delayed)).toBe('noted');
    expect(afterReport('sent', { action: 'failed', at: at + 1 }, delayed)).toBe('bounced');
  });
});

describe('decide: a send result becomes the outcome to record', () => {
  const first = { attempt: 1, unconfirmed: 0, deadlineAt };

  it('accepted: sent, with the relay reply', () => {
    expect(decide(first, acceptedBy('250 2.0.0 queued as A1'), '<m@x>', now, policy)).toEqual({
      kind: 'sent',
      reply: { code: 'OK', responseCode: 250, response: '250 2.0.0 queued as A1', message: '250 2.0.0 queued as A1' },
      messageId: '<m@x>',
      at: now,
    });
  });

  it('permanent: failed at once', () => {
    expect(decide(first, classifyFailure({ code: 'EENVELOPE', responseCode: 550, response: '550 no' }), '<m@x>', now, policy).kind).toBe('failed');
  });

  it('transient: retrying with backoff, expired past the deadline', () => {
    const transient = classifyFailure({ code: 'EENVELOPE', responseCode: 451, response: '451 later' });
    expect(decide(first, transient, '<m@x>', now, policy, half)).toMatchObject({ kind: 'retrying', nextAttemptAt: now + 750, unconfirmed: false });
    expect(decide({ ...first, attempt: 3 }, transient, '<m@x>', now, policy, half)).toMatchObject({ nextAttemptAt: now + 3000 });
    expect(decide({ ...first, deadlineAt: now }, transient, '<m@x>', now, policy).kind).toBe('expired');
  });

  it('unknown (no answer to the end of DATA): resent once after the long delay, then final; never expired', () => {
    const lost = classifyFailure({ code: 'ETIMEDOUT', message: 'Timeout' }, { handedOver: true });
    expect(lost.verdict).toBe('unknown');
    expect(decide(first, lost, '<m@x>', now, policy)).toMatchObject({ kind: 'retrying', nextAttemptAt: now + 3_600_000, unconfirmed: true });
    expect(decide({ attempt: 2, unconfirmed: 1, deadlineAt }, lost, '<m@x>', now, policy).kind).toBe('unknown');
    expect(decide({ ...first, deadlineAt: now }, lost, '<m@x>', now, policy).kind).toBe('unknown');
    // a resend is never scheduled past the deadline
    expect(decide({ ...first, deadlineAt: now + 60_000 }, lost, '<m@x>', now, policy)).toMatchObject({ nextAttemptAt: now + 60_000 });
  });

  it('the same timeout before the message was handed over is an ordinary transient failure', () => {
    expect(classifyFailure({ code: 'ETIMEDOUT', message: 'Greeting never received' }).verdict).toBe('transient');
    expect(classifyFailure({ code: 'ECONNECTION', message: 'closed' }, { handedOver: false }).verdict).toBe('transient');
    // a reset or a close after the whole message was written is no answer lost in time: the relay dropped it
    for (const code of ['ECONNECTION', 'ECONNRESET', 'ESOCKET', 'EPIPE'])
      expect(classifyFailure({ code, message: 'closed' }, { handedOver: true }).verdict, code).toBe('transient');
    // a relay that answered, even late, is read by its code
    expect(classifyFailure({ code: 'EMESSAGE', responseCode: 554, response: '554 no' }, { handedOver: true }).verdict).toBe('permanent');
  });
});

describe('supersede and order per event and recipient', () => {
  const invitation = delivery({ id: 'i', sequence: 0, arrival: 1 });
  const update = delivery({ id: 'u', sequence: 1, arrival: 2 });
  const cancel = delivery({ id: 'c', sequence: 2, arrival: 3, method: 'CANCEL' });
  const reply = delivery({ id: 'r', sequence: 3, arrival: 4, method: 'REPLY' });

  it('a later REQUEST or CANCEL supersedes a waiting REQUEST; a REPLY supersedes nothing; nothing supersedes a CANCEL', () => {
    expect(supersedes(update, invitation)).toBe(true);
    expect(supersedes(cancel, invitation)).toBe(true);
    expect(supersedes(reply, invitation)).toBe(false);
    expect(supersedes(invitation, update)).toBe(false); // older never replaces newer
    expect(supersedes(delivery({ id: 'n', sequence: 5, arrival: 9 }), cancel)).toBe(false);
    expect(supersedes(update, { ...invitation, status: 'sending' })).toBe(false); // on the wire already
  });

  it('one occurrence never supersedes the whole event, the whole event supersedes an occurrence', () => {
    const occurrence = delivery({ id: 'o', sequence: 1, arrival: 2, occurrence: '2024-01-08T10:00:00' });
    expect(supersedes(occurrence, invitation)).toBe(false);
    expect(supersedes(update, { ...occurrence, sequence: 0, arrival: 1 })).toBe(true);
    expect(supersedes(delivery({ id: 'p', sequence: 2, arrival: 3, occurrence: '2024-01-08T10:00:00' }), occurrence)).toBe(true);
  });

  it('arbitrate: supersede, wait for an older unfinished one, or send', () => {
    expect(arbitrate(invitation, [invitation, update], now)).toEqual({ action: 'supersede' });
    // the update does not wait for the invitation it supersedes
    expect(arbitrate(update, [invitation, update], now)).toEqual({ action: 'send' });
    // a reply waits for an older message on the wire, then for one retrying until its time
    expect(arbitrate(reply, [{ ...cancel, status: 'sending', nextAttemptAt: null }, reply], now)).toEqual({ action: 'wait', until: now + ORDER_RECHECK_MS });
    expect(arbitrate(reply, [{ ...cancel, status: 'retrying', nextAttemptAt: now + 9000 }, reply], now)).toEqual({ action: 'wait', until: now + 9000 });
    expect(arbitrate(reply, [{ ...cancel, status: 'sent' }, reply], now)).toEqual({ action: 'send' });
  });
});
