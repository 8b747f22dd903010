/**
 * Preparing claimed deliveries: one notification's recipients rendered and
 * composed into the MIME messages that go over SMTP. The same code runs on a
 * rendering thread (threads.ts) or, with RENDER_THREADS=0, on the main thread.
 * Pure but for the memory it keeps: no network, no files.
 */
import { LRUCache } from 'lru-cache';
import { DateTime } from 'luxon';
import { composeMessage, type MessageOptions } from '../message/compose.ts';
import type { DkimKey } from '../message/dkim-keys.ts';
import { createDkimSigner, type DkimFallback } from '../message/dkim-signer.ts';
import { type MessageBuffers, messageBuffers } from '../message/message-buffers.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import { MAX_PEOPLE, type NotificationRequest } from '../model/schema.ts';
import type { Renderer, RequestRendering } from '../render/renderer.ts';

/** One notification's deliveries to prepare. */
export interface PrepareTask {
  readonly notificationId: string;
  /**
   * The request as stored (JSON): parsed once per thread and kept for the notification's next
   * tasks. A SharedArrayBuffer of its UTF-8 when it goes to a thread: every task of a fan-out
   * names the same megabyte without copying it.
   */
  readonly body: string | SharedArrayBuffer;
  /** When the notification was accepted: the Date header and the calendar's DTSTAMP. */
  readonly acceptedAt: number;
  readonly deliveries: readonly DeliveryToPrepare[];
}

export interface DeliveryToPrepare {
  readonly recipient: string;
  /** The envelope sender (VERP) of this delivery, when bounces are taken in. */
  readonly bounceAddress?: string;
  /** The DSN envelope id (RFC 3461) to ask reports with. */
  readonly envelopeId?: string;
}

/** A delivery's message, ready for the transport. */
export interface PreparedMessage {
  readonly kind: 'message';
  readonly from: string;
  readonly envelope: { readonly from: string; readonly to: readonly string[]; readonly envelopeId?: string };
  readonly messageId: string;
  /** The message's bytes, DKIM-signed when there are keys: the start of `raw.buffer` (memory handed back with `recycle` once sent). */
  readonly raw: Buffer;
  /** The first message from a From domain without a key of its own (signed with the service domain's, or not at all). */
  readonly dkimFallback?: DkimFallback;
}

/**
 * Why a delivery has no message: EINVALID, a stored request the contract no longer accepts
 * (never renders: permanent); ERENDER, a template or locale broken at run time, or a recipient
 * not in the request; ECOMPOSE, composing failed (a fault of ours, fixed by a deploy).
 */
export interface PreparationProblem {
  readonly kind: 'problem';
  readonly code: 'EINVALID' | 'ERENDER' | 'ECOMPOSE';
  readonly permanent: boolean;
  readonly message: string;
  /** The error's stack, for the log, when it is a fault of ours. */
  readonly stack?: string;
}

export type Prepared = PreparedMessage | PreparationProblem;

export interface Preparation {
  /** Each delivery's message or problem, in the task's order. */
  prepare(task: PrepareTask): Promise<Prepared[]>;
  /** Memory of messages sent (`raw.buffer` of a PreparedMessage), to write the next ones over. */
  recycle(memory: readonly ArrayBuffer[]): void;
}

/** DKIM keys, and the service mailbox's domain, whose key signs mail from a domain without one. */
export interface DkimSetting {
  readonly keys: readonly DkimKey[];
  readonly serviceDomain: string;
}

interface KeptRequest {
  readonly request: NotificationRequest;
  readonly rendering: RequestRendering;
}

/**
 * @example
 * const preparation = preparationOf(renderer, messageOptionsOf(config), 10, { keys: config.smtp.dkimKeys ?? [], serviceDomain: config.smtp.serviceDomain });
 * const [prepared] = await preparation.prepare({ notificationId, body, acceptedAt, deliveries: [{ recipient: 'anna@example.com' }] });
 */
export function preparationOf(renderer: Renderer, message: Omit<MessageOptions, 'date' | 'buffers'>, keptMessages: number, dkim?: DkimSetting): Preparation {
  /**
   * Requests and what their recipients share, kept while their deliveries are prepared. Bounded by
   * the people they hold (one of the largest a request may be): kept by count, every fan-out's
   * 3.5 MB stayed until two hundred came, and ten back-to-back fan-outs grew the heap after each
   * full collection from 26 to 60 MB.
   */
  const requests = new LRUCache<string, KeptRequest>({
    max: 200,
    maxSize: 2 * MAX_PEOPLE + 1,
    sizeCalculation: ({ request }) => 1 + request.attendees.length + (request.recipients?.length ?? 0),
  });
  /** Memory of sent messages, written over by the next ones (message-buffers.ts). */
  const buffers: MessageBuffers = messageBuffers(keptMessages);
  const signer = dkim?.keys.length ? createDkimSigner(dkim.keys, dkim.serviceDomain) : null;

  /** The message signed, in memory of `buffers` (what goes back and forth between threads); the unsigned one's memory reused. */
  async function signedMessage(from: string, unsigned: Buffer): Promise<{ raw: Buffer; fallback: DkimFallback | null }> {
    if (!signer) return { raw: unsigned, fallback: null };
    const { raw: signed, fallback } = await signer.sign(from, unsigned);
    if (signed === unsigned) return { raw: unsigned, fallback };
    const raw = buffers.take(signed.length);
    signed.copy(raw);
    buffers.recycle(unsigned);
    return { raw, fallback };
  }

  function keptRequest(task: PrepareTask): KeptRequest {
    let kept = requests.get(task.notificationId);
    if (!kept) {
      const text = typeof task.body === 'string' ? task.body : Buffer.from(task.body).toString('utf8');
      const request = parseNotificationRequest(JSON.parse(text));
      kept = { request, rendering: renderer.forRequest(request, DateTime.fromMillis(task.acceptedAt, { zone: 'utc' })) };
      requests.set(task.notificationId, kept);
    }
    return kept;
  }

  async function prepare(task: PrepareTask): Promise<Prepared[]> {
    let kept: KeptRequest;
    let emails: ReturnType<RequestRendering['render']>;
    try {
      kept = keptRequest(task);
      emails = kept.rendering.render(task.deliveries.map((d) => d.recipient));
    } catch (error) {
      // A stored request the contract no longer accepts will never render: permanent.
      // A template or locale broken at run time is fixed by a deploy: worth retrying until the deadline.
      const problem: PreparationProblem =
        error instanceof InvalidRequestError
          ? { kind: 'problem', code: 'EINVALID', permanent: true, message: error.message }
          : { kind: 'problem', code: 'ERENDER', permanent: false, message: (error as Error).message, ...stackOf(error) };
      return task.deliveries.map(() => problem);
    }
    const byAddress = new Map(emails.map((e) => [e.to.email.toLowerCase(), e]));
    const prepared: Prepared[] = [];
    for (const delivery of task.deliveries) {
      const email = byAddress.get(delivery.recipient.toLowerCase());
      if (!email) {
        prepared.push({ kind: 'problem', code: 'ERENDER', permanent: true, message: 'the recipient is not in the request' });
        continue;
      }
      try {
        const composed = await composeMessage(kept.request, email, {
          ...message,
          date: new Date(task.acceptedAt),
          ...(delivery.bounceAddress ? { bounceAddress: delivery.bounceAddress } : {}),
          ...(delivery.envelopeId ? { envelopeId: delivery.envelopeId } : {}),
          buffers,
        });
        const { from, envelope, messageId } = composed;
        const { raw, fallback } = await signedMessage(from, composed.raw);
        prepared.push({ kind: 'message', from, envelope, messageId, raw, ...(fallback ? { dkimFallback: fallback } : {}) });
      } catch (error) {
        prepared.push({ kind: 'problem', code: 'ECOMPOSE', permanent: false, message: (error as Error).message, ...stackOf(error) });
      }
    }
    return prepared;
  }

  return {
    prepare,
    recycle(memory) {
      for (const m of memory) buffers.adopt(m);
    },
  };
}

function stackOf(error: unknown): { stack?: string } {
  return error instanceof Error && error.stack ? { stack: error.stack } : {};
}
