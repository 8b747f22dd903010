/**
 * The notice to the organizer that an invitation could not be delivered
 * (NOTIFY_ORGANIZER=failures): the event, and per recipient who could not be
 * reached, the reason in plain words and the server's own answer. Pure: data
 * in, an email out, in the organizer's language and zone.
 */
import { resolveEventTimes } from '../model/event-times.ts';
import { sameAddress } from '../model/parse.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { Branding } from './branding.ts';
import type { Catalog } from './catalog.ts';
import { type FailedDelivery, failureDetails, failureReason } from './failure-reason.ts';
import { templateTranslator } from './template-translate.ts';
import type { TemplateSet } from './templates.ts';
import { oneLine, tidyText } from './text-shape.ts';
import { TimeText } from './time-text.ts';
import { pageView } from './views.ts';

export type { FailedDelivery } from './failure-reason.ts';

/**
 * Another server's words as they are shown: quoted by the locale's string,
 * and never a link, in our HTML or by a mail client's own linking of text.
 * An invitee's server chooses them ("log in at https://…"), and the notice
 * comes from the service. Each `.` becomes U+2024 ONE DOT LEADER and each
 * `//` two U+2215 DIVISION SLASHes: they look the same, but no linker takes
 * them for a host name or a scheme's `//` (neither is a dot of IDNA, RFC 3490 §3.1).
 *
 * @example unlinkable('log in at https://evil.example/x') // 'log in at https:∕∕evil․example/x'
 */
export function unlinkable(text: string | null): string | null {
  return text === null ? null : text.replaceAll('.', '\u2024').replaceAll('//', '\u2215\u2215');
}

/** The notice, before it becomes a MIME message. */
export interface RenderedNotice {
  readonly to: { readonly email: string; readonly name: string };
  readonly locale: string;
  readonly timeZone: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

export interface FailureNoticeOptions {
  readonly catalog: Catalog;
  readonly templates: TemplateSet;
  readonly branding: Branding;
  /** Zone when neither the organizer nor their recipient entry names one. Default: the event's. */
  readonly defaultTimeZone?: string;
}

/**
 * @example
 * const notice = renderFailureNotice(request, [{ email: 'x@partner.invalid', status: 'bounced', lastReply: null, report }], options);
 * notice.subject // 'Не доставлено: Планёрка'
 */
export function renderFailureNotice(request: NotificationRequest, failures: readonly FailedDelivery[], options: FailureNoticeOptions): RenderedNotice {
  const { organizer } = request;
  const own = request.recipients?.find((r) => sameAddress(r.email, organizer.email));
  const locale = options.catalog.resolveLocale(organizer.locale ?? own?.locale);
  const times = resolveEventTimes(request);
  const zone = organizer.timeZone ?? own?.timeZone ?? options.defaultTimeZone ?? times.zone;
  const { translate } = templateTranslator(options.catalog, locale, 'fallback');
  const span = new TimeText(translate, locale, zone).span(times.shown);
  const names = new Map(request.attendees.map((a) => [a.email.toLowerCase(), a.name]));
  const context: Record<string, unknown> = {
    ...pageView(options.catalog, options.branding, locale, translate),
    event: { title: request.event.title, url: request.event.url ?? null },
    when: { long: span.long, card: span.card },
    count: failures.length,
    failures: failures.map((failure) => ({
      email: failure.email,
      name: names.get(failure.email.toLowerCase()) ?? null,
      reason: translate(`failureNotice.reasons.${failureReason(failure)}`),
      details: unlinkable(failureDetails(failure)),
    })),
  };
  const template = options.templates.emails['delivery-failure'];
  const data = { data: { translate } };
  const subject = oneLine(template.subject(context, data));
  context.subject = subject; // the HTML's <title>
  return {
    to: { email: organizer.email, name: organizer.name },
    locale,
    timeZone: zone,
    subject,
    html: template.html(context, data),
    text: tidyText(template.text(context, data)),
  };
}
