/**
 * What the templates see, built in three layers so that per recipient only
 * the recipient's own bits are made:
 *   - per (request, locale): people, conference, recurrence, reply, and the
 *     translate function of the templates' `t` helper;
 *   - per (request, locale, zone): times, changes (changes-view.ts);
 *   - per recipient: address, answer links, agenda (agenda-view.ts).
 * Everything here is data in, data out: no I/O.
 */
import type { CalendarWords } from '../calendar/calendar.ts';
import type { EventTimes } from '../model/event-times.ts';
import { peopleOf } from '../model/people.ts';
import type { Attendee, NotificationRequest, Recipient, Recurrence } from '../model/schema.ts';
import { agendaView } from './agenda-view.ts';
import type { Branding } from './branding.ts';
import type { Catalog, Translate } from './catalog.ts';
import { changesView } from './changes-view.ts';
import { type ConferenceView, conferenceView } from './conference-view.ts';
import { describeRecurrence } from './recurrence-text.ts';
import type { RecipientData } from './slots.ts';
import { type TemplateTranslator, templateTranslator } from './template-translate.ts';
import { type Span, TimeText } from './time-text.ts';

/** Keys read here (for check:i18n). */
export const VIEW_KEYS = ['sender.via', 'brand.defaultName'] as const;

export interface ViewOptions {
  readonly catalog: Catalog;
  readonly branding: Branding;
  readonly participantsShown: number;
  /** `fallback`: a key missing in a language is taken from the default language; `mark`: shown as ⟦key⟧ (preview). See template-translate.ts. */
  readonly missingLabels: 'fallback' | 'mark';
}

export interface LocaleView {
  readonly locale: string;
  /** Strings the code composes (times, recurrence, changes). */
  readonly t: Translate;
  /** What the templates' `t` helper translates with (`data.translate`), and the keys it found missing. */
  readonly templates: TemplateTranslator;
  readonly eventZoneText: TimeText;
  readonly conference: ConferenceView | null;
  readonly recurrence: string | null;
  readonly base: Record<string, unknown>;
  /** The calendar part's words in this language. */
  readonly calendarWords: CalendarWords;
  /** "Елена Смирнова через Календарь": the From name when mail goes out from the service's mailbox. */
  readonly viaName: string;
  /** The configured product name, or "Calendar" in this language. */
  readonly productName: string;
}

export interface ZoneView {
  readonly locale: string;
  readonly zone: string;
  readonly text: TimeText;
  readonly context: Record<string, unknown>;
}

/**
 * Builds the per-(request, locale) layer.
 */
export function localeView(request: NotificationRequest, times: EventTimes, locale: string, options: ViewOptions): LocaleView {
  const { catalog, participantsShown, branding } = options;
  const t = catalog.translator(locale);
  const eventZoneText = new TimeText(t, locale, times.zone);
  const { organizer, participants, replier, author } = peopleOf(request);
  const conference = conferenceView(request.event.conference, t);
  const recurrence = recurrenceText(request.event.recurrence, t, locale, eventZoneText, times);
  const visible = participants.slice(0, participantsShown);
  const { event, type } = request;
  const occurrenceCancelled = type === 'cancellation' && times.occurrence !== null;

  const page = pageView(catalog, branding, locale, t);
  const { brand } = page;
  const base = {
    ...page,
    type,
    isInvitation: type === 'invitation',
    isUpdate: type === 'update',
    isCancellation: type === 'cancellation',
    isReply: type === 'reply',
    isOccurrenceCancelled: occurrenceCancelled,
    event: {
      title: event.title,
      description: event.description ?? null,
      location: event.location ?? null,
      url: event.url ?? null,
      recurrence,
    },
    organizer,
    participants: {
      visible: visible.map(personView),
      hiddenCount: participants.length - visible.length,
      total: participants.length,
      // A list too long to show whole says how many answered what (non-zero counts, in this order).
      answers: visible.length < participants.length ? answerCounts(participants) : [],
    },
    conference,
    reply: request.reply && replier ? { status: request.reply.status, comment: request.reply.comment ?? null, attendee: personView(replier) } : null,
  };
  const viaName = t('sender.via', { name: author.name, product: brand.productName });
  const templates = templateTranslator(catalog, locale, options.missingLabels);
  return {
    locale,
    t,
    templates,
    eventZoneText,
    conference,
    recurrence,
    base,
    calendarWords: calendarWords(conference, t),
    viaName,
    productName: brand.productName,
  };
}

/**
 * What every email's page needs: its language, writing direction and brand.
 *
 * @example pageView(catalog, branding, 'ru', catalog.translator('ru')).dir.start // 'left'
 */
export function pageView(catalog: Catalog, branding: Branding, locale: string, t: Translate) {
  const direction = catalog.direction(locale);
  return {
    lang: locale,
    dir: { name: direction, start: direction === 'rtl' ? 'right' : 'left', end: direction === 'rtl' ? 'left' : 'right' },
    brand: { ...branding, productName: branding.productName ?? t('brand.defaultName') },
  };
}

/**
 * The conference as calendar clients show it in the event's notes: provider,
 * link, ID and dial-in, in one language.
 */
function calendarWords(conference: ConferenceView | null, t: Translate): CalendarWords {
  if (!conference) return { provider: '', joinBlock: null };
  const lines = [t('conference.title', { provider: conference.provider }), `${t('conference.join')}: ${conference.joinUrl}`];
  if (conference.conferenceId) lines.push(`${t('conference.id')}: ${conference.conferenceId}`);
  for (const dial of conference.dialIn) lines.push(`${t('conference.dialIn')}: ${dial.number}${dial.pin ? `, ${t('conference.pin')}: ${dial.pin}` : ''}`);
  return { provider: conference.provider, joinBlock: lines.join('\n') };
}

/**
 * Builds the per-(request, locale, zone) layer: times, changes, and the one
 * cancelled occurrence's date and time.
 */
export function zoneView(request: NotificationRequest, times: EventTimes, locale: LocaleView, zone: string): ZoneView {
  const text = zone === times.zone ? locale.eventZoneText : new TimeText(locale.t, locale.locale, zone);
  const shown: Span = times.shown;
  const span = text.span(shown);
  const occurrence = times.occurrence && request.type === 'cancellation' ? { date: text.cardDate(shown.start, shown.allDay), time: span.card } : null;
  const context = {
    ...locale.base,
    when: { long: span.long, card: span.card, eventZone: text.eventZoneNote(shown, times.zone, locale.eventZoneText) },
    occurrence,
    changes: request.type === 'update' ? changesView(request, times, locale, text) : null,
  };
  return { locale: locale.locale, zone, text, context };
}

/**
 * What only this recipient sees: their address, answer links and day. Only
 * strings, booleans and lists (see slots.ts).
 */
export function recipientData(request: NotificationRequest, times: EventTimes, zone: ZoneView, recipient: Recipient, name: string | null): RecipientData {
  const answers = request.type === 'invitation' || request.type === 'update' ? recipient.rsvp : undefined;
  const rsvp = answers && (answers.accept || answers.tentative || answers.decline) ? { ...answers } : null;
  return {
    recipient: { email: recipient.email, name },
    rsvp,
    agenda: recipient.agenda?.length ? agendaView(request, times, zone.text, recipient) : null,
  };
}

/** The order the counts of a long list are told in: who comes, who may, who does not, who has not said. */
const ANSWER_ORDER = ['accepted', 'tentative', 'declined', 'needs-action'] as const;

/**
 * @example answerCounts(attendees) // [{ status: 'accepted', count: 12 }, { status: 'needs-action', count: 138 }]
 */
function answerCounts(people: readonly Attendee[]): { status: (typeof ANSWER_ORDER)[number]; count: number }[] {
  return ANSWER_ORDER.map((status) => ({ status, count: people.filter((person) => person.status === status).length })).filter(({ count }) => count > 0);
}

function personView(person: Attendee) {
  return { name: person.name, email: person.email, role: person.role, status: person.status };
}

function recurrenceText(rule: Recurrence | undefined | null, t: Translate, locale: string, eventZoneText: TimeText, times: EventTimes): string | null {
  return rule ? describeRecurrence(t, locale, rule, eventZoneText, times.zone, times.allDay) : null;
}
