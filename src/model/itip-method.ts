/**
 * The iTIP method of each notification type (RFC 5546 §1.4): part of the
 * request model, because both the calendar part and the delivery rules
 * (a newer REQUEST or CANCEL supersedes a queued REQUEST) read it.
 */
import type { NotificationType } from './schema.ts';

export type CalendarMethod = 'REQUEST' | 'CANCEL' | 'REPLY';

const METHODS: Readonly<Record<NotificationType, CalendarMethod>> = {
  invitation: 'REQUEST',
  update: 'REQUEST',
  cancellation: 'CANCEL',
  reply: 'REPLY',
};

/**
 * @example calendarMethod('cancellation') // 'CANCEL'
 */
export function calendarMethod(type: NotificationType): CalendarMethod {
  return METHODS[type];
}
