/**
 * What the templates see, built in three layers so that per recipient only
 * the recipient's own bits are made:
 *   - per (request, locale): people, conference, recurrence, reply;
 *   - per (request, locale, zone): times, changes, the translated labels `t`;
 *   - per recipient: address, answer links, agenda.
 * Everything here is data in, data out: no I/O.
 */
import { telUri } from '../conference/dial-in.ts';
import { conferenceProvider } from '../conference/providers.ts';
import type { CalendarWords } from '../calendar/calendar.ts';
import type { EventTimes } from '../model/event-times.ts';
import { mustResolve } from '../model/event-times.ts';
import type { Attendee, Conference, NotificationRequest, Recipient, Recurrence } from '../model/schema.ts';
import { peopleOf } from '../model/people.ts';
import type { Branding } from './branding.ts';
import type { Catalog, Translate } from './catalog.ts';
import { describeRecurrence } from './recurrence-text.ts';
import { expandLabelPaths } from './label-keys.ts';
import type { RecipientData } from './slots.ts';
import { TimeText, type Span } from './time-text.ts';

export interface ViewOptions {
  readonly catalog: Catalog;
  readonly labelPaths: ReadonlySet<string>;
  readonly branding: Branding;
  readonly participantsShown: number;
  /** `fallback`: a key missing in a language is taken from the default language; `mark`: shown as ⟦key⟧ (preview). */
  readonly missingLabels: 'fallback' | 'mark';
}

export interface ConferenceView {
  readonly provider: string;
  readonly joinUrl: string;
  readonly conferenceId: string | null;
  readonly dialIn: readonly { number: string; displayNumber: string; pin: string | null; tel: string }[];
}

export interface LocaleView {
  readonly locale: string;
  readonly t: Translate;
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
  readonly missingKeys: readonly string[];
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
    },
    conference,
    reply: request.reply && replier ? { status: request.reply.status, comment: request.reply.comment ?? null, attendee: personView(replier) } : null,
  };
  const viaName = t('sender.via', { name: author.name, product: brand.productName });
  return { locale, t, eventZoneText, conference, recurrence, base, calendarWords: calendarWords(conference, t), viaName, productName: brand.productName };
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
 * Builds the per-(request, locale, zone) layer: times and the labels `t`.
 */
export function zoneView(request: NotificationRequest, times: EventTimes, locale: LocaleView, zone: string, options: ViewOptions): ZoneView {
  const text = zone === times.zone ? locale.eventZoneText : new TimeText(locale.t, locale.locale, zone);
  const shown: Span = times.shown;
  const span = text.span(shown);
  const { organizer, replier, participants } = peopleOf(request);
  const occurrence = times.occurrence && request.type === 'cancellation' ? { date: text.cardDate(shown.start, shown.allDay), time: span.card } : null;

  const vars = {
    title: request.event.title,
    organizer: organizer.name,
    attendee: replier?.name ?? '',
    provider: locale.conference?.provider ?? '',
    product: locale.productName,
    occurrenceDate: occurrence?.date ?? '',
    occurrenceTime: occurrence?.time ?? '',
  };
  const counts: Record<string, number> = { 'people.more': Math.max(participants.length - options.participantsShown, 0) };
  const { labels, missingKeys } = translateLabels(options, locale, vars, counts);

  const context = {
    ...locale.base,
    t: labels,
    when: { long: span.long, card: span.card, eventZone: text.eventZoneNote(shown, times.zone, locale.eventZoneText) },
    changes: request.type === 'update' ? changesView(request, times, locale, text) : null,
  };
  return { locale: locale.locale, zone, text, context, missingKeys };
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

function personView(person: Attendee) {
  return { name: person.name, email: person.email, role: person.role, status: person.status };
}

function conferenceView(conference: Conference | null | undefined, t: Translate): ConferenceView | null {
  if (!conference) return null;
  return {
    provider: conference.label ?? t(conferenceProvider(conference.provider).labelKey),
    joinUrl: conference.joinUrl,
    conferenceId: conference.conferenceId ?? null,
    // A number must not wrap across lines where it is shown: non-breaking spaces and hyphens.
    dialIn: (conference.dialIn ?? []).map((d) => ({ number: d.number, displayNumber: d.number.replace(/ /g, '\u00a0').replace(/-/g, '\u2011'), pin: d.pin ?? null, tel: telUri(d.number) })),
  };
}

function recurrenceText(rule: Recurrence | undefined | null, t: Translate, locale: string, eventZoneText: TimeText, times: EventTimes): string | null {
  return rule ? describeRecurrence(t, locale, rule, eventZoneText, times.zone, times.allDay) : null;
}

function changesView(request: NotificationRequest, times: EventTimes, locale: LocaleView, text: TimeText) {
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
          was: recurrenceText(previous.recurrence, t, locale.locale, locale.eventZoneText, times) ?? empty,
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

function agendaView(request: NotificationRequest, times: EventTimes, text: TimeText, recipient: Recipient) {
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

/**
 * Translates every label the templates read, once per (request, locale, zone).
 * A path naming a subtree (`statuses`, read with `lookup`) brings every key below it.
 */
function translateLabels(options: ViewOptions, locale: LocaleView, vars: Record<string, string>, counts: Record<string, number>) {
  const { catalog, labelPaths, missingLabels } = options;
  const labels: Record<string, unknown> = {};
  const missingKeys: string[] = [];
  for (const key of expandLabelPaths(catalog, labelPaths)) {
    let value: string;
    if (catalog.has(locale.locale, key)) {
      value = locale.t(key, counts[key] === undefined ? vars : { ...vars, count: counts[key] });
    } else {
      missingKeys.push(key);
      value = missingLabels === 'mark' ? `⟦${key}⟧` : locale.t(key, counts[key] === undefined ? vars : { ...vars, count: counts[key] });
    }
    setPath(labels, key, value);
  }
  return { labels, missingKeys };
}

function setPath(target: Record<string, unknown>, key: string, value: string): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}
