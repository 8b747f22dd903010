/**
 * The organizer's notice of undelivered recipients as a MIME message:
 *
 *   multipart/alternative
 *   ├─ text/plain
 *   └─ text/html
 *
 * From the service's own mailbox, threaded with the invitation, and sent with
 * a null envelope sender (MAIL FROM:<>, RFC 5321 §4.5.5, as for any report on
 * delivery) so that a notice that cannot be delivered ends there instead of
 * bouncing back. Pure: no network, no files.
 */
import type { NotificationRequest } from '../model/schema.ts';
import type { RenderedNotice } from '../render/failure-notice.ts';
import type { OutgoingMessage } from './compose.ts';
import { invitationMessageIdFor, noticeMessageIdFor } from './message-id.ts';
import { mimeMessage } from './mime.ts';
import type { Mailbox } from './sender.ts';

export interface NoticeMessageOptions {
  /** The service's mailbox: the notice's From; its domain names the Message-ID. */
  readonly serviceMailbox: Mailbox;
  readonly date: Date;
}

/** How many failed messages a notice's References name besides the invitation's thread. */
const REFERENCES_KEPT = 10;

/**
 * @example
 * const notice = renderer.renderFailureNotice(request, failures);
 * const message = composeFailureNotice(request, notice, { notificationId, through, messageIds }, { serviceMailbox, date: new Date() });
 */
export function composeFailureNotice(
  request: NotificationRequest,
  notice: RenderedNotice,
  about: { readonly notificationId: string; readonly through: string; readonly messageIds: readonly (string | null)[] },
  options: NoticeMessageOptions,
): OutgoingMessage {
  const domain = options.serviceMailbox.address.split('@')[1]!;
  const messageId = noticeMessageIdFor(about.notificationId, about.through, domain);
  // The thread the organizer's calendar mail lives in, then the messages that did not arrive (as an NDR names its original).
  const thread = invitationMessageIdFor(request.event.uid, request.organizer.email, domain);
  const failed = [...new Set(about.messageIds.filter((id): id is string => id !== null))].slice(0, REFERENCES_KEPT);
  const raw = mimeMessage(
    [
      ['Auto-Submitted', 'auto-generated'], // RFC 3834: no person wrote it; no one should answer it automatically
      ['X-Auto-Response-Suppress', 'All'],
      ['Content-Language', notice.locale],
      ['From', { ...options.serviceMailbox }],
      ['To', { name: notice.to.name, address: notice.to.email }],
      ['Subject', notice.subject],
      ['Message-ID', messageId],
      ['In-Reply-To', thread],
      ['References', [thread, ...failed].join(' ')],
      ['Date', options.date],
    ],
    {
      multipart: 'alternative',
      parts: [
        { contentType: 'text/plain; charset=utf-8', text: notice.text },
        { contentType: 'text/html; charset=utf-8', text: notice.html },
      ],
    },
  );
  return { from: options.serviceMailbox.address, envelope: { from: '', to: [notice.to.email] }, messageId, raw };
}
