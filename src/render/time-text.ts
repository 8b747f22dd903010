/**
 * Times in words, in the reader's language and zone. The shapes come from
 * `locales/<lng>` (`time.*`), the pieces from Intl, so a translator can
 * reorder them: «пн, 28 августа 2023 в 10:00», "Mon, August 28, 2023 at 10:00 AM".
 */

import { DateTime } from 'luxon';
import type { Translate } from './catalog.ts';
import { gmtOffset, type ZonedFormatter, zonedFormatter } from './formatters.ts';

/** Locale keys this module reads (check:i18n counts them as used). */
export const TIME_TEXT_KEYS = [
  'time.longDateTime',
  'time.longDate',
  'time.cardDateTime',
  'time.cardDate',
  'time.longRange',
  'time.cardRangeSameDay',
  'time.cardRange',
  'time.allDaySingle',
  'time.allDayRange',
  'time.timeRange',
  'time.allDay',
  'time.eventZone',
] as const;

/** An event's span: an all-day span of floating dates (end exclusive), or two instants. */
export interface Span {
  readonly start: DateTime;
  readonly end: DateTime;
  readonly allDay: boolean;
}

export interface SpanText {
  /** «пн, 28 августа 2023 в 10:00 — пн, 28 августа 2023 в 12:30 (GMT+03:00)» */
  readonly long: string;
  /** «28 августа, пн, 10:00 – 12:30 (GMT+03:00)»: a single day shown once. */
  readonly card: string;
}

/** Words for times of one language in one zone. */
export class TimeText {
  readonly locale: string;
  readonly zone: string;
  private readonly t: Translate;
  private readonly format: ZonedFormatter;
  private readonly floating: ZonedFormatter;
  private readonly agendaTimes = new Map<string, string>();

  /**
   * @example new TimeText(catalog.translator('ru'), 'ru', 'Europe/Moscow').span(span).card
   */
  constructor(t: Translate, locale: string, zone: string) {
    this.t = t;
    this.locale = locale;
    this.zone = zone;
    this.format = zonedFormatter(locale, zone);
    this.floating = zonedFormatter(locale, 'UTC');
  }

  /** The long and the card form of a span, in this zone. */
  span(span: Span): SpanText {
    if (span.allDay) return this.allDaySpan(span.start, span.end);
    const start = span.start.setZone(this.zone);
    const end = span.end.setZone(this.zone);
    const offset = gmtOffset(start);
    const long = this.t('time.longRange', { start: this.longDateTime(start), end: this.longDateTime(end), offset });
    // Same calendar day in this zone (luxon's hasSame recomputes zone offsets: slow per call).
    const sameDay = start.year === end.year && start.month === end.month && start.day === end.day;
    const card = sameDay
      ? this.t('time.cardRangeSameDay', { date: this.cardDate(start), startTime: this.format.time(start), endTime: this.format.time(end), offset })
      : this.t('time.cardRange', { start: this.cardDateTime(start), end: this.cardDateTime(end), offset });
    return { long, card };
  }

  /** «По времени события (Москва, стандартное время): 7 декабря, пн, 11:00 – 11:45 (GMT+03:00)», or null when the zones agree. */
  eventZoneNote(span: Span, eventZone: string, eventZoneText: TimeText): string | null {
    if (span.allDay || eventZone === this.zone) return null;
    const sameOffsets =
      span.start.setZone(this.zone).offset === span.start.setZone(eventZone).offset &&
      span.end.setZone(this.zone).offset === span.end.setZone(eventZone).offset;
    if (sameOffsets) return null;
    return this.t('time.eventZone', { zone: eventZoneText.format.zoneName(span.start), time: eventZoneText.span(span).card });
  }

  /** «28 августа, пн» for an instant, or for a floating date. */
  cardDate(instant: DateTime, floating = false): string {
    return this.t('time.cardDate', floating ? this.floating.dateParts(floatingInstant(instant)) : this.format.dateParts(instant));
  }

  /** «пн, 28 августа 2023» for a floating date. */
  longDate(date: DateTime): string {
    return this.t('time.longDate', this.floating.dateParts(floatingInstant(date)));
  }

  /** «09:00 – 09:30», or «весь день», for a line of the agenda; remembered, as agendas repeat across recipients. */
  agendaTime(span: Span): string {
    if (span.allDay) return this.t('time.allDay');
    const key = `${span.start.toMillis()}|${span.end.toMillis()}`;
    let text = this.agendaTimes.get(key);
    if (text === undefined) {
      text = this.t('time.timeRange', { start: this.format.time(span.start), end: this.format.time(span.end) });
      this.agendaTimes.set(key, text);
    }
    return text;
  }

  private longDateTime(instant: DateTime): string {
    return this.t('time.longDateTime', { ...this.format.dateParts(instant), time: this.format.time(instant) });
  }

  private cardDateTime(instant: DateTime): string {
    return this.t('time.cardDateTime', { ...this.format.dateParts(instant), time: this.format.time(instant) });
  }

  private allDaySpan(start: DateTime, endExclusive: DateTime): SpanText {
    const last = endExclusive.minus({ days: 1 });
    if (last <= start) {
      return {
        long: this.t('time.allDaySingle', { date: this.longDate(start) }),
        card: this.t('time.allDaySingle', { date: this.cardDate(start, true) }),
      };
    }
    return {
      long: this.t('time.allDayRange', { start: this.longDate(start), end: this.longDate(last) }),
      card: this.t('time.allDayRange', { start: this.cardDate(start, true), end: this.cardDate(last, true) }),
    };
  }
}

/** The calendar day of a floating date as midnight UTC, where Intl keeps it whatever the zone. */
function floatingInstant(date: DateTime): DateTime {
  return DateTime.utc(date.year, date.month, date.day);
}
