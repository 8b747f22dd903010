/**
 * The one registry of video-conference providers. The label a person reads
 * comes from `locales/<lng>/*.json` under `providers.<id>`; what calendar
 * clients expect beyond RFC 7986 CONFERENCE comes from here.
 */

/** Provider ids of the contract, `other` last: then `conference.label` names it. */
export const PROVIDER_IDS = ['trueconf', 'skype-for-business', 'teams', 'zoom', 'jitsi', 'google-meet', 'yandex-telemost', 'other'] as const;

export type ProviderId = (typeof PROVIDER_IDS)[number];

export interface ConferenceProvider {
  readonly id: ProviderId;
  /** i18next key of the label people read, e.g. "providers.teams" → "Microsoft Teams". */
  readonly labelKey: string;
  /**
   * Vendor properties some clients read instead of RFC 7986 CONFERENCE
   * (Outlook shows its Join button from these), each set to the join URL.
   */
  readonly calendarProperties: readonly string[];
}

const VENDOR_PROPERTIES: Partial<Record<ProviderId, readonly string[]>> = {
  teams: ['X-MICROSOFT-SKYPETEAMSMEETINGURL'],
  'skype-for-business': ['X-MICROSOFT-ONLINEMEETINGEXTERNALLINK'],
  'google-meet': ['X-GOOGLE-CONFERENCE'],
};

const REGISTRY: ReadonlyMap<ProviderId, ConferenceProvider> = new Map(
  PROVIDER_IDS.map((id) => [id, Object.freeze({ id, labelKey: `providers.${id}`, calendarProperties: VENDOR_PROPERTIES[id] ?? [] })]),
);

/**
 * The provider for a contract id.
 *
 * @example conferenceProvider('teams').calendarProperties // ['X-MICROSOFT-SKYPETEAMSMEETINGURL']
 */
export function conferenceProvider(id: ProviderId): ConferenceProvider {
  const provider = REGISTRY.get(id);
  if (!provider) throw new Error(`unknown conference provider ${id}`);
  return provider;
}
