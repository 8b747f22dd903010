/**
 * Why a message could not be delivered, in words a person understands: the
 * enhanced status code (RFC 3463: class.subject.detail) of the bounce or of
 * the relay's reply picks one of a few plain reasons, as an Exchange NDR
 * does. Pure.
 */
import type { DeliveryStatus } from '../delivery/policy.ts';

/** The reasons, each a locale key `failureNotice.reasons.<reason>`. */
export const FAILURE_REASONS = [
  'noSuchUser',
  'noSuchDomain',
  'badAddress',
  'mailboxFull',
  'mailboxUnavailable',
  'tooLarge',
  'unreachable',
  'policy',
  'expired',
  'refused',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** The locale keys of the reasons, for check:i18n. */
export const FAILURE_REASON_KEYS = FAILURE_REASONS.map((reason) => `failureNotice.reasons.${reason}`);

/** A recipient that could not be reached, as the outbox recorded it (the parts a notice reads). */
export interface FailedDelivery {
  readonly email: string;
  readonly status: Extract<DeliveryStatus, 'failed' | 'expired' | 'bounced'>;
  /** The relay's last reply. */
  readonly lastReply: { readonly responseCode: number | null; readonly response: string | null; readonly message: string } | null;
  /** The delivery status notification that said it bounced. */
  readonly report: { readonly status: string | null; readonly diagnostic: string | null } | null;
}

// RFC 3463 §3: subject 1 addressing, 2 mailbox, 3 mail system, 4 network and routing, 7 security or policy.
const BY_CODE: readonly [RegExp, FailureReason][] = [
  [/^\d\.1\.1$/, 'noSuchUser'],
  [/^\d\.1\.10$/, 'noSuchUser'], // RFC 7505: null MX, the domain takes no mail
  [/^\d\.1\.2$/, 'noSuchDomain'],
  [/^\d\.1\.\d+$/, 'badAddress'],
  [/^\d\.2\.2$/, 'mailboxFull'],
  [/^\d\.2\.3$/, 'tooLarge'],
  [/^\d\.2\.\d+$/, 'mailboxUnavailable'],
  [/^\d\.3\.4$/, 'tooLarge'],
  [/^\d\.4\.\d+$/, 'unreachable'],
  [/^\d\.7\.\d+$/, 'policy'],
];

/**
 * @example failureReason({ email: 'x@partner.invalid', status: 'bounced', lastReply: null, report: { status: '5.1.2', … } }) // 'noSuchDomain'
 * @example failureReason({ email, status: 'expired', lastReply: { code: 'ECONNECTION', … }, report: null }) // 'expired'
 */
export function failureReason(failure: FailedDelivery): FailureReason {
  if (failure.status === 'expired') return 'expired';
  const code = failure.report?.status ?? enhancedCodeOf(failure.lastReply?.response ?? null);
  if (code) for (const [pattern, reason] of BY_CODE) if (pattern.test(code)) return reason;
  if (failure.lastReply?.responseCode === 550 && /user|mailbox|recipient/i.test(failure.lastReply.response ?? '')) return 'noSuchUser';
  return 'refused';
}

/**
 * What the receiving side said, verbatim, for the curious: the bounce's
 * diagnostic, else the relay's reply.
 *
 * @example failureDetails({ …, report: { diagnostic: 'smtp; 550 5.1.1 no such user', … } }) // 'smtp; 550 5.1.1 no such user'
 */
export function failureDetails(failure: FailedDelivery): string | null {
  return failure.report?.diagnostic ?? failure.lastReply?.response ?? failure.lastReply?.message ?? null;
}

/** The enhanced status code in an SMTP reply line (`550 5.1.1 …`), if it has one. */
function enhancedCodeOf(response: string | null): string | null {
  return response ? (/^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1] ?? null) : null;
}
