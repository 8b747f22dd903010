/**
 * The conference as the templates show it: the provider's name in the
 * reader's language, the link, the ID and dial-in numbers that never wrap.
 */
import { telUri } from '../conference/dial-in.ts';
import { conferenceProvider } from '../conference/providers.ts';
import type { Conference } from '../model/schema.ts';
import type { Translate } from './catalog.ts';

export interface ConferenceView {
  readonly provider: string;
  readonly joinUrl: string;
  /** The link as the HTML shows it (the href stays whole): no scheme, at most SHOWN_URL_LENGTH characters. */
  readonly joinUrlShown: string;
  readonly conferenceId: string | null;
  readonly dialIn: readonly { number: string; displayNumber: string; pin: string | null; tel: string }[];
}

/** Keys read here (for check:i18n): the providers' names. */
export const CONFERENCE_VIEW_KEYS = ['providers'] as const;

/**
 * @example conferenceView(request.event.conference, catalog.translator('ru'))?.provider // 'TrueConf'
 */
export function conferenceView(conference: Conference | null | undefined, t: Translate): ConferenceView | null {
  if (!conference) return null;
  return {
    provider: conference.label ?? t(conferenceProvider(conference.provider).labelKey),
    joinUrl: conference.joinUrl,
    joinUrlShown: shownUrl(conference.joinUrl),
    conferenceId: conference.conferenceId ?? null,
    // A number must not wrap across lines where it is shown: non-breaking spaces and hyphens.
    dialIn: (conference.dialIn ?? []).map((d) => ({
      number: d.number,
      displayNumber: d.number.replace(/ /g, '\u00a0').replace(/-/g, '\u2011'),
      pin: d.pin ?? null,
      tel: telUri(d.number),
    })),
  };
}

/**
 * How long a link shown as text may be: a Teams link runs to 300 characters
 * in segments of 100 without a break, and a client that drops `word-break`
 * (Yahoo) lets it widen a phone's view. 40 characters fit at 320 px.
 */
export const SHOWN_URL_LENGTH = 40;

/**
 * @example shownUrl('https://video.mydomain.ru/c/sever-weekly') // 'video.mydomain.ru/c/sever-weekly'
 * @example shownUrl('https://teams.microsoft.com/l/meetup-join/19%3ameeting_N2Q…') // 'teams.microsoft.com/l/meetup-join/19%3a…'
 */
export function shownUrl(url: string): string {
  const bare = url.replace(/^https?:\/\//i, '');
  return bare.length <= SHOWN_URL_LENGTH ? bare : `${bare.slice(0, SHOWN_URL_LENGTH - 1)}…`;
}
