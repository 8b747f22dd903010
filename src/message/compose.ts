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
 * Pure apart from nodemailer's MIME builder: no network.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { peopleOf } from '../model/people.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { RenderedEmail } from '../render/renderer.ts';
import { invitationMessageIdFor, messageIdFor } from './message-id.ts';
import { senderHeaders, type Mailbox, type SenderPolicy } from './sender.ts';

export interface MessageOptions {
  readonly senderPolicy: SenderPolicy;
  /** The service's own mailbox: Sender, or From under the `service` policy; its domain names Message-IDs. */
  readonly serviceMailbox: Mailbox;
  /** Envelope sender (MAIL FROM): where bounces go. */
  readonly bounceAddress: string;
  /** The Date header: when the notification was accepted. */
  readonly date: Date;
}

/** A message ready for SMTP: envelope, Message-ID and the bytes. */
export interface OutgoingMessage {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly messageId: string;
  readonly raw: Buffer;
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
  const headers = senderHeaders(options.senderPolicy, peopleOf(request).author, options.serviceMailbox, email.viaName);
  const envelope = { from: options.bounceAddress, to: [email.to.email] };

  // Copies: nodemailer rewrites address objects in place (punycode), and configuration is frozen.
  const mail: Mail.Options = {
    from: { ...headers.from },
    ...(headers.sender ? { sender: { ...headers.sender } } : {}),
    ...(headers.replyTo ? { replyTo: { ...headers.replyTo } } : {}),
    to: email.to.name ? { name: email.to.name, address: email.to.email } : email.to.email,
    subject: email.subject,
    date: options.date,
    messageId,
    ...(threadsOnInvitation ? { inReplyTo: firstInvitation, references: [firstInvitation] } : {}),
    text: email.text,
    html: email.html,
    // nodemailer adds it twice: as the text/calendar alternative and as invite.ics.
    icalEvent: { method: email.calendar.method, filename: 'invite.ics', content: email.calendar.content },
    headers: {
      // RFC 3834: a notification, not a person writing; no out-of-office answers to it.
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'OOF, AutoReply',
      'Content-Language': email.locale,
    },
    envelope,
    // RFC 5322 §2.1: lines end with CRLF, so the bytes composed are the bytes sent (and the .eml).
    newline: 'windows',
    // Nothing in a message may make nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  const raw = await new MailComposer(mail).compile().build();
  return { envelope, messageId, raw };
}
