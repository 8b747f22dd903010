/**
 * Who a request is about: who organizes, who answered, who takes part, who writes.
 */
import { sameAddress } from './parse.ts';
import type { Attendee, NotificationRequest, Person, Recipient } from './schema.ts';

export interface People {
  readonly organizer: Person;
  /** Attendees other than the organizer. */
  readonly participants: readonly Attendee[];
  /** For a reply: the attendee who answered. */
  readonly replier: Attendee | null;
  /** In whose name the message goes out: the organizer; for a reply, the attendee who answered. */
  readonly author: Person;
}

/**
 * @example peopleOf(request).participants.length // attendees without the organizer
 */
export function peopleOf(request: NotificationRequest): People {
  const organizer = request.organizer;
  const participants = request.attendees.filter((a) => !sameAddress(a.email, organizer.email));
  const reply = request.reply;
  const replier = request.type === 'reply' && reply ? (request.attendees.find((a) => sameAddress(a.email, reply.attendee)) ?? null) : null;
  return { organizer, participants, replier, author: authorOf(request) };
}

/**
 * In whose name the message goes out: the organizer; for a reply, the
 * attendee who answered. (peopleOf without filtering every attendee: this
 * runs per message.)
 */
export function authorOf(request: NotificationRequest): Person {
  const reply = request.reply;
  if (request.type !== 'reply' || !reply) return request.organizer;
  return request.attendees.find((a) => sameAddress(a.email, reply.attendee)) ?? request.organizer;
}

/**
 * Who gets an email: `recipients`, or every attendee but the organizer; for
 * a reply without `recipients`, the organizer.
 *
 * @example recipientsOf(request).map((r) => r.email)
 */
export function recipientsOf(request: NotificationRequest): Recipient[] {
  if (request.recipients) return request.recipients;
  if (request.type === 'reply') return [{ email: request.organizer.email }];
  return peopleOf(request).participants.map((a) => ({ email: a.email }));
}
