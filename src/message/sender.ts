/**
 * In whose name a notification goes out. Mail is sent "in the organizer's
 * name"; whether the organizer's own address may stand in From depends on
 * the relay's SPF/DKIM/DMARC setup, so it is a policy of configuration.
 */
import type { Person } from '../model/schema.ts';

export type SenderPolicy = 'organizer' | 'service';

export interface Mailbox {
  readonly name?: string;
  readonly address: string;
}

export interface SenderHeaders {
  readonly from: Mailbox;
  /** RFC 5322 §3.6.2: the mailbox that actually sent it, when not the author. */
  readonly sender: Mailbox | null;
  readonly replyTo: Mailbox | null;
}

/**
 * The From, Sender and Reply-To of a notification written by `author` (the
 * organizer, or for a reply the attendee who answered).
 *
 * - `organizer`: From is the author, Sender the service mailbox.
 * - `service`: From is "<author> via <product>" at the service mailbox, Reply-To the author.
 *
 * @example senderHeaders('service', { name: 'Елена', email: 'e@x.ru' }, { address: 'calendar@x.ru' }, 'Елена via Calendar')
 *          // { from: { name: 'Елена via Calendar', address: 'calendar@x.ru' }, sender: null, replyTo: { name: 'Елена', address: 'e@x.ru' } }
 */
export function senderHeaders(policy: SenderPolicy, author: Person, service: Mailbox, viaName: string): SenderHeaders {
  const authorMailbox = { name: author.name, address: author.email };
  if (policy === 'service') return { from: { name: viaName, address: service.address }, sender: null, replyTo: authorMailbox };
  const sameMailbox = author.email.toLowerCase() === service.address.toLowerCase();
  return { from: authorMailbox, sender: sameMailbox ? null : service, replyTo: null };
}
