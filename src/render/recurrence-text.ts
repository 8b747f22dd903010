/**
 * A recurrence rule in words, in any language of `locales/` («каждую неделю
 * по понедельникам, 12 раз», "Weekly on Monday, 12 times"). rrule's
 * `toText` is English-only; this reads every word from the locale files and
 * joins lists with Intl.
 */

import { resolveEventTime } from '../model/datetime.ts';
import type { Recurrence } from '../model/schema.ts';
import type { Translate } from './catalog.ts';
import { joinList } from './formatters.ts';
import type { TimeText } from './time-text.ts';

/** Locale keys this module reads (check:i18n counts them as used). */
export const RECURRENCE_TEXT_KEYS = [
  'recurrence.daily',
  'recurrence.weekly',
  'recurrence.monthly',
  'recurrence.yearly',
  'recurrence.everyNDays',
  'recurrence.everyNWeeks',
  'recurrence.everyNMonths',
  'recurrence.everyNYears',
  'recurrence.onWeekdays',
  'recurrence.onMonthDays',
  'recurrence.lastDayOfMonth',
  'recurrence.times',
  'recurrence.until',
  'recurrence.except',
  'recurrence.separator',
  'recurrence.withDays',
  'weekdaysPlural.MO',
  'weekdaysPlural.TU',
  'weekdaysPlural.WE',
  'weekdaysPlural.TH',
  'weekdaysPlural.FR',
  'weekdaysPlural.SA',
  'weekdaysPlural.SU',
] as const;

const EVERY_N = {
  daily: 'recurrence.everyNDays',
  weekly: 'recurrence.everyNWeeks',
  monthly: 'recurrence.everyNMonths',
  yearly: 'recurrence.everyNYears',
} as const;

/**
 * Describes a validated recurrence rule.
 *
 * @param times words for dates, in the event's zone (UNTIL and EXDATE are the event's own dates).
 * @example describeRecurrence(t, 'ru', { frequency: 'weekly', interval: 1, byWeekday: ['MO'], count: 12 }, times, 'Europe/Moscow', false)
 *          // 'каждую неделю по понедельникам, 12 раз'
 */
export function describeRecurrence(t: Translate, locale: string, rule: Recurrence, times: TimeText, eventZone: string, allDay: boolean): string {
  const frequency = rule.interval === 1 ? t(`recurrence.${rule.frequency}`) : t(EVERY_N[rule.frequency], { count: rule.interval });
  const days: string[] = [];
  if (rule.byWeekday?.length) {
    days.push(
      t('recurrence.onWeekdays', {
        days: joinList(
          locale,
          rule.byWeekday.map((day) => t(`weekdaysPlural.${day}`)),
        ),
      }),
    );
  }
  if (rule.byMonthDay?.length) {
    const positive = rule.byMonthDay.filter((day) => day > 0);
    if (positive.length) days.push(t('recurrence.onMonthDays', { days: joinList(locale, positive.map(String)) }));
    if (rule.byMonthDay.includes(-1)) days.push(t('recurrence.lastDayOfMonth'));
  }
  // «каждую неделю по понедельникам»: the days belong to the frequency; the rest is listed after it.
  const parts = [days.length ? t('recurrence.withDays', { frequency, days: days.join(' ') }) : frequency];
  if (rule.count !== undefined) parts.push(t('recurrence.times', { count: rule.count }));
  if (rule.until !== undefined) {
    const until = resolveEventTime(rule.until, eventZone, rule.until.length === 10);
    if (typeof until !== 'string') parts.push(t('recurrence.until', { date: times.longDate(until) }));
  }
  if (rule.exceptions?.length) {
    const dates = rule.exceptions
      .map((value) => resolveEventTime(value, eventZone, allDay))
      .filter((value) => typeof value !== 'string')
      .map((date) => times.cardDate(date, true));
    parts.push(t('recurrence.except', { dates: joinList(locale, dates) }));
  }
  return parts.join(t('recurrence.separator'));
}
