/**
 * What changed in an update, as the templates list it: each changed field
 * with its old and new value in the reader's language and zone, and a notice
 * when the conference was removed.
 */
import type { EventTimes } from '../model/event-times.ts';
import { mustResolve } from '../model/event-times.ts';
import type { Attendee, NotificationRequest } from '../model/schema.ts';
import { conferenceView } from './conference-view.ts';
import { describeRecurrence } from './recurrence-text.ts';
import type { Span, TimeText } from './time-text.ts';
import type { LocaleView } from './views.ts';

/** Keys read here (for check:i18n). */
export const CHANGES_VIEW_KEYS = ['changes.empty', 'conference.removed', 'conference.none'] as const;

/**
 * @example changesView(request, times, localeLayer, timeText)?.items[0] // { field: 'time', was: '…', now: '…' }
 */
export function changesView(request: NotificationRequest, times: EventTimes, locale: LocaleView, text: TimeText) {
  const changes = request.changes;
  if (!changes) return null;
  const { t } = locale;
  const previous = changes.previous;
  const empty = t('changes.empty');
  const items: { field: string; was: string; now: string }[] = [];
  let conferenceRemoved: string | null = null;
  for (const field of changes.fields) {
    switch (field) {
      case 'title':
        items.push({ field, was: previous.title ?? empty, now: request.event.title });
        break;
      case 'time': {
        const allDay = previous.allDay ?? times.allDay;
        const was: Span = {
          start: previous.start !== undefined ? mustResolve(previous.start, times.zone, allDay) : times.start,
          end: previous.end !== undefined ? mustResolve(previous.end, times.zone, allDay) : times.end,
          allDay,
        };
        items.push({ field, was: text.span(was).long, now: text.span(times.shown).long });
        break;
      }
      case 'location':
        items.push({ field, was: previous.location ?? empty, now: request.event.location ?? empty });
        break;
      case 'description':
        items.push({ field, was: previous.description ?? empty, now: request.event.description ?? empty });
        break;
      case 'recurrence':
        items.push({
          field,
          was:
            (previous.recurrence ? describeRecurrence(t, locale.locale, previous.recurrence, locale.eventZoneText, times.zone, times.allDay) : null) ?? empty,
          now: locale.recurrence ?? empty,
        });
        break;
      case 'conference': {
        const before = conferenceView(previous.conference, t);
        const now = locale.conference;
        if (before && !now) conferenceRemoved = t('conference.removed', { provider: before.provider });
        // Providers only: a removed link must not stay clickable, and the current one is in the conference block.
        items.push({ field, was: before ? before.provider : t('conference.none'), now: now ? now.provider : t('conference.none') });
        break;
      }
      case 'attendees': {
        const names = (list: readonly Attendee[]) => list.map((a) => a.name).join(', ') || empty;
        items.push({ field, was: previous.attendees ? names(previous.attendees) : empty, now: names(request.attendees) });
        break;
      }
    }
  }
  return { items, conferenceRemoved };
}
