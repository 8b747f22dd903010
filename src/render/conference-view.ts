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
