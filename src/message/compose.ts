/**
 * One recipient's rendered email as the MIME message that goes over SMTP
 * (iMIP, RFC 6047):
 *
 *   multipart/mixed
 *   ├─ multipart/alternative
 *   │  ├─ text/plain
 *   │  ├─ text/html
 *   │  └─ text/calendar; method=REQUEST; charset=UTF-8
 *   └─ application/ics; name=invite.ics (the same calendar, attached)
 *
 * Pure: no network, no files.
 */

import type { CalendarPart } from '../calendar/calendar.ts';
import { authorOf } from '../model/people.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { RenderedEmail } from '../render/renderer.ts';
import type { MessageBuffers } from './message-buffers.ts';
import { invitationMessageIdFor, messageIdFor } from './message-id.ts';
import { base64Body, mimeMessage } from './mime.ts';
import { type Mailbox, type SenderPolicy, senderHeaders } from './sender.ts';

export interface MessageOptions {
  readonly senderPolicy: SenderPolicy;
  /** The service's own mailbox: Sender, or From under the `service` policy; its domain names Message-IDs. */
  readonly serviceMailbox: Mailbox;
  /** Envelope sender (MAIL FROM): where bounces go (a VERP address naming the delivery, when bounces are taken in). */
  readonly bounceAddress: string;
  /** The DSN envelope id (ENVID, RFC 3461) to ask failure and delay reports with; none: no DSN asked. */
  readonly envelopeId?: string;
  /** The Date header: when the notification was accepted. */
  readonly date: Date;
  /** Memory to write the message into, handed back by the transport once sent (see message-buffers.ts); default a fresh buffer. */
  readonly buffers?: MessageBuffers;
}

/** A message ready for SMTP: envelope, Message-ID and the bytes. */
export interface OutgoingMessage {
  /** The From header's address: whose domain's DKIM key signs it. */
  readonly from: string;
  readonly envelope: { readonly from: string; readonly to: readonly string[]; readonly envelopeId?: string };
  readonly messageId: string;
  readonly raw: Buffer;
  /**
   * DKIM is done: signed by whoever composed it (the rendering threads), or left unsigned by the
   * same rules; the transport sends it as it is. Unset: the transport signs it (dkim-signer.ts).
   */
  readonly signed?: boolean;
  /** Called by the transport once the relay accepted the message and no byte of `raw` is read again: its memory may be written over. */
  readonly release?: () => void;
}

/**
 * Composes the message for one rendered email.
 *
 * @example
 * const [email] = renderer.render(request, { stamp });
 * const message = await composeMessage(request, email, options);
 * await transport.send(message);
 */
export async function composeMessage(request: NotificationRequest, email: RenderedEmail, options: MessageOptions): Promise<OutgoingMessage> {
  const domain = options.serviceMailbox.address.split('@')[1]!;
  const { event } = request;
  const messageId = messageIdFor(
    {
      uid: event.uid,
      sequence: event.sequence,
      occurrence: event.occurrence ?? null,
      type: request.type,
      answer: request.reply?.status ?? null,
      recipient: email.to.email,
    },
    domain,
  );
  const firstInvitation = invitationMessageIdFor(event.uid, email.to.email, domain);
  const threadsOnInvitation = messageId !== firstInvitation;
  const headers = senderHeaders(options.senderPolicy, authorOf(request), options.serviceMailbox, email.viaName);
  const envelope = { from: options.bounceAddress, to: [email.to.email], ...(options.envelopeId ? { envelopeId: options.envelopeId } : {}) };

  const calendar = calendarBase64(email.calendar);
  const raw = mimeMessage(
    [
      ['Auto-Submitted', 'auto-generated'], // RFC 3834: a notification, not a person writing
      ['X-Auto-Response-Suppress', 'OOF, AutoReply'], // no out-of-office answers to it (Exchange)
      ['Content-Language', email.locale],
      ['From', { ...headers.from }],
      ['Sender', headers.sender ? { ...headers.sender } : null],
      ['Reply-To', headers.replyTo ? { ...headers.replyTo } : null],
      ['To', email.to.name ? { name: email.to.name, address: email.to.email } : { address: email.to.email }],
      ['Subject', email.subject],
      ['Message-ID', messageId],
      ['In-Reply-To', threadsOnInvitation ? firstInvitation : null],
      ['References', threadsOnInvitation ? firstInvitation : null],
      ['Date', options.date],
    ],
    {
      multipart: 'mixed',
      parts: [
        {
          multipart: 'alternative',
          parts: [
            { contentType: 'text/plain; charset=utf-8', text: email.text },
            { contentType: 'text/html; charset=utf-8', text: email.html, ...(email.htmlSegments ? { segments: email.htmlSegments } : {}) },
            { contentType: `text/calendar; charset=utf-8; method=${email.calendar.method}`, base64: calendar },
          ],
        },
        // The same calendar attached, for clients that read attachments rather than alternatives.
        { contentType: 'application/ics; name="invite.ics"', disposition: 'attachment; filename="invite.ics"', base64: calendar },
      ],
    },
    options.buffers?.take,
  );
  const { buffers } = options;
  return { from: headers.from.address, envelope, messageId, raw, ...(buffers ? { release: () => buffers.recycle(raw) } : {}) };
}

const encodedCalendars = new WeakMap<CalendarPart, Buffer>();

/** A calendar shared by many recipients (a small event) is base64-encoded once. */
function calendarBase64(calendar: CalendarPart): Buffer {
  let encoded = encodedCalendars.get(calendar);
  if (encoded === undefined) {
    encoded = base64Body(calendar.content);
    encodedCalendars.set(calendar, encoded);
  }
  return encoded;
}
