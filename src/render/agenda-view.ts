/**
 * A recipient's day ("Other events of the day"): their other events and this
 * one, in time order, in the recipient's zone.
 */
import type { EventTimes } from '../model/event-times.ts';
import { mustResolve } from '../model/event-times.ts';
import type { NotificationRequest, Recipient } from '../model/schema.ts';
import type { Span, TimeText } from './time-text.ts';

/**
 * @example agendaView(request, times, timeText, recipient) // [{ time: '09:00 – 09:30', title: 'Стендап', isThisEvent: false }, …]
 */
export function agendaView(request: NotificationRequest, times: EventTimes, text: TimeText, recipient: Recipient) {
  const items = (recipient.agenda ?? []).map((item) => {
    const span: Span = {
      start: mustResolve(item.start, times.zone, item.allDay),
      end: mustResolve(item.end, times.zone, item.allDay),
      allDay: item.allDay,
    };
    return { sortKey: span.allDay ? -Infinity : span.start.toMillis(), time: text.agendaTime(span), title: item.title, isThisEvent: false };
  });
  const shown = times.shown;
  items.push({ sortKey: shown.allDay ? -Infinity : shown.start.toMillis(), time: text.agendaTime(shown), title: request.event.title, isThisEvent: true });
  return items.sort((a, b) => a.sortKey - b.sortKey).map(({ time, title, isThisEvent }) => ({ time, title, isThisEvent }));
}
