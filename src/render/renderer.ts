/**
 * Rendering: a validated request in, one email per recipient out (subject,
 * HTML, plain text, calendar). Pure: no network, no process `TZ`; the clock
 * only when no `stamp` is given.
 */
import { DateTime } from 'luxon';
import { buildCalendar, type CalendarForRecipients, type CalendarPart } from '../calendar/calendar.ts';
import { resolveEventTimes } from '../model/event-times.ts';
import { recipientsOf } from '../model/people.ts';
import type { NotificationRequest, Recipient } from '../model/schema.ts';
import { type Branding, brandingSchema } from './branding.ts';
import { type Catalog, loadCatalog } from './catalog.ts';
import { type FailedDelivery, type RenderedNotice, renderFailureNotice } from './failure-notice.ts';
import { groupedRenderer, type TextSegments } from './slots.ts';
import { loadTemplates, type TemplateSet } from './templates.ts';
import { tidyText } from './text-shape.ts';
import { type LocaleView, localeView, recipientData, type ZoneView, zoneView } from './views.ts';

export interface RendererOptions {
  /** Folder of the templates; default `templates` of this project. */
  readonly templatesDir?: string;
  /** Folder of the locales; default `locales` of this project. */
  readonly localesDir?: string;
  readonly branding?: Partial<Branding>;
  /** Language of recipients without `locale` (or with one there is no folder for). Default `en`. */
  readonly defaultLocale?: string;
  /** Zone of recipients without `timeZone`. Default: the event's own zone. */
  readonly defaultTimeZone?: string;
  /** How many participants are listed before «и ещё N участников». Default 10. */
  readonly participantsShown?: number;
  /** See ViewOptions.missingLabels. Default `fallback`. */
  readonly missingLabels?: 'fallback' | 'mark';
  /** ORGANIZER;SENT-BY of the calendar, when mail goes out from the service's mailbox. */
  readonly sentBy?: string;
  /** See CalendarOptions.attendeesLimit. Default 100. */
  readonly calendarAttendeesLimit?: number;
  /** See LoadTemplatesOptions.compileIn. Default `in-process`. */
  readonly compileTemplatesIn?: 'in-process' | 'child-process';
  /** See LoadTemplatesOptions.cacheDir. Default none. */
  readonly templateCacheDir?: string;
}

export interface RenderOptions {
  /** When the notification was accepted: DTSTAMP of the calendar. Default: now. */
  readonly stamp?: DateTime;
  /** Render only these recipients (as a worker does for the deliveries it claimed). Default: all. */
  readonly only?: readonly string[];
}

/** One recipient's email, before it becomes a MIME message. */
export interface RenderedEmail {
  readonly to: { readonly email: string; readonly name: string | null };
  readonly locale: string;
  readonly timeZone: string;
  readonly subject: string;
  readonly html: string;
  /** `html` as the text this recipient's group shares and their own strings between (see slots.ts). */
  readonly htmlSegments?: TextSegments;
  readonly text: string;
  /** The iCalendar part (iMIP): the same for every recipient of a language. */
  readonly calendar: CalendarPart;
  /** The author shown "via" the product, for the `service` sender policy. */
  readonly viaName: string;
  /** Labels the recipient's language lacks (taken from the default language, or marked). */
  readonly missingKeys: readonly string[];
  /** `key {{name}}`: placeholders a string uses that its template does not pass (left out, or marked). */
  readonly unpassedPlaceholders: readonly string[];
}

/** See Renderer.forRequest. */
export interface RequestRendering {
  /** The emails of these recipients (default all), in the order of the request's recipients. */
  render(only?: readonly string[]): RenderedEmail[];
}

export interface Renderer {
  /** Every recipient's email, in the order of `recipients`. */
  render(request: NotificationRequest, options?: RenderOptions): RenderedEmail[];
  /**
   * One request's rendering, for rendering its recipients a few at a time: what they share (each
   * language's texts and calendar, each zone's times, the template's common segments) is made once
   * and kept for the next call. `stamp`: when the notification was accepted (default now).
   */
  forRequest(request: NotificationRequest, stamp?: DateTime): RequestRendering;
  /** The organizer's notice of recipients this notification could not reach (failure-notice.ts). */
  renderFailureNotice(request: NotificationRequest, failures: readonly FailedDelivery[]): RenderedNotice;
  readonly catalog: Catalog;
  readonly templates: TemplateSet;
}

const PROJECT_ROOT = new URL('../../', import.meta.url);

/**
 * Loads locales and compiles templates once; the renderer then renders any
 * number of requests.
 *
 * @example
 * const renderer = await createRenderer({ branding: { productName: 'MyOffice' } });
 * for (const email of renderer.render(parseNotificationRequest(body))) console.log(email.subject);
 */
export async function createRenderer(options: RendererOptions = {}): Promise<Renderer> {
  const templatesDir = options.templatesDir ?? new URL('templates/', PROJECT_ROOT).pathname;
  const localesDir = options.localesDir ?? new URL('locales/', PROJECT_ROOT).pathname;
  const [catalog, templates] = await Promise.all([
    loadCatalog(localesDir, options.defaultLocale ?? 'en'),
    loadTemplates(templatesDir, {
      compileIn: options.compileTemplatesIn ?? 'in-process',
      ...(options.templateCacheDir ? { cacheDir: options.templateCacheDir } : {}),
    }),
  ]);
  const branding = Object.freeze(brandingSchema.parse(options.branding ?? {}));
  const viewOptions = {
    catalog,
    branding,
    participantsShown: options.participantsShown ?? 10,
    missingLabels: options.missingLabels ?? 'fallback',
  } as const;

  function forRequest(request: NotificationRequest, stamp: DateTime = DateTime.utc()): RequestRendering {
    const times = resolveEventTimes(request);
    const calendars = new Map<string, CalendarForRecipients>();
    const renderOne = groupedRenderer(templates.emails[request.type]);
    const locales = new Map<string, LocaleView>();
    const zones = new Map<string, ZoneView>();
    const names = new Map<string, string>();
    for (const person of [...request.attendees, request.organizer]) names.set(person.email.toLowerCase(), person.name);

    function renderRecipient(recipient: Recipient): RenderedEmail {
      const locale = catalog.resolveLocale(recipient.locale);
      const zone = recipient.timeZone ?? options.defaultTimeZone ?? times.zone;
      let localeLayer = locales.get(locale);
      if (!localeLayer) {
        localeLayer = localeView(request, times, locale, viewOptions);
        locales.set(locale, localeLayer);
      }
      const zoneKey = `${locale}|${zone}`;
      let zoneLayer = zones.get(zoneKey);
      if (!zoneLayer) {
        zoneLayer = zoneView(request, times, localeLayer, zone);
        zones.set(zoneKey, zoneLayer);
      }
      let calendar = calendars.get(locale);
      if (!calendar) {
        calendar = buildCalendar(request, {
          stamp,
          times,
          words: localeLayer.calendarWords,
          ...(options.sentBy ? { sentBy: options.sentBy } : {}),
          ...(options.calendarAttendeesLimit ? { attendeesLimit: options.calendarAttendeesLimit } : {}),
        });
        calendars.set(locale, calendar);
      }
      const name = names.get(recipient.email.toLowerCase()) ?? null;
      const data = recipientData(request, times, zoneLayer, recipient, name);
      const { subject, html, htmlSegments, text } = renderOne(zoneKey, zoneLayer.context, data, { translate: localeLayer.templates.translate });
      return {
        to: { email: recipient.email, name },
        locale,
        timeZone: zone,
        subject,
        html,
        htmlSegments,
        text: tidyText(text),
        calendar: calendar.forRecipient(recipient.email),
        viaName: localeLayer.viaName,
        missingKeys: [...localeLayer.templates.missingKeys],
        unpassedPlaceholders: [...localeLayer.templates.unpassed],
      };
    }

    return {
      render(only) {
        const wanted = only ? new Set(only.map((e) => e.toLowerCase())) : null;
        const recipients = wanted ? recipientsOf(request).filter((r) => wanted.has(r.email.toLowerCase())) : recipientsOf(request);
        return recipients.map(renderRecipient);
      },
    };
  }

  function render(request: NotificationRequest, renderOptions: RenderOptions = {}): RenderedEmail[] {
    return forRequest(request, renderOptions.stamp).render(renderOptions.only);
  }

  const noticeOptions = { catalog, templates, branding, ...(options.defaultTimeZone ? { defaultTimeZone: options.defaultTimeZone } : {}) };
  return Object.freeze({
    render,
    forRequest,
    renderFailureNotice: (request: NotificationRequest, failures: readonly FailedDelivery[]) => renderFailureNotice(request, failures, noticeOptions),
    catalog,
    templates,
  });
}
