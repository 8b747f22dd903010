/**
 * What the outbox stores for an accepted request: the notification with its
 * deadline, and each recipient with the key the delivery rules order it by.
 */
import { calendarMethod } from '../model/itip-method.ts';
import { recipientsOf } from '../model/people.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { NewNotification } from '../outbox/outbox.ts';
import { type DeadlineOptions, deadlineFor } from './deadline.ts';
import { deliveryClass, organizerFlow } from './fairness.ts';
import { orderKey } from './policy.ts';

export interface Admission {
  readonly id: string;
  readonly idempotencyKey: string | null;
  readonly bodyHash: string;
  /** The request as received (JSON text). */
  readonly body: string;
  readonly acceptedAt: number;
}

/**
 * @example outbox.accept(newNotification(request, { id, idempotencyKey: null, bodyHash, body, acceptedAt: Date.now() }, config.retry))
 */
export function newNotification(request: NotificationRequest, admission: Admission, deadline: DeadlineOptions): NewNotification {
  const recipients = recipientsOf(request).map((r) => ({ email: r.email, orderKey: orderKey(request, r.email) }));
  return {
    ...admission,
    type: request.type,
    event: { uid: request.event.uid, sequence: request.event.sequence, occurrence: request.event.occurrence ?? null },
    method: calendarMethod(request.type),
    recipients,
    deliveryClass: deliveryClass(request.type, recipients.length),
    flow: organizerFlow(request.organizer.email),
    deadlineAt: deadlineFor(request, admission.acceptedAt, deadline),
  };
}
