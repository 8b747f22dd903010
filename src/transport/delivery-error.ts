/**
 * What went wrong delivering one message, as a retry decision: transient
 * (try again later) or permanent (report it), with the server's own words.
 */

export type FailureKind = 'transient' | 'permanent';

export interface DeliveryFailure {
  readonly status: 'failed';
  readonly kind: FailureKind;
  /** Stable code: nodemailer's (`EENVELOPE`, `ECONNECTION`, `ETIMEDOUT`, …) or `EREJECTED`. */
  readonly code: string;
  /** The SMTP reply code, when the server answered (`550`, `451`). */
  readonly responseCode: number | null;
  /** The server's reply line, when it answered. */
  readonly response: string | null;
  /** The SMTP command that failed (`RCPT TO`, `DATA`, `CONN`…), when known. */
  readonly command: string | null;
  readonly message: string;
}

// Failures of our side of the line (network, TLS, credentials): the message itself is fine,
// so it waits for the relay to be reachable or the configuration to be fixed.
const INFRASTRUCTURE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EAUTH', 'ENOAUTH', 'EPROTOCOL', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

/**
 * Classifies an error of nodemailer's SMTP client (RFC 5321 §4.2.1: 4yz is
 * transient, 5yz permanent).
 *
 * @example classifyFailure({ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 No such user' }).kind // 'permanent'
 * @example classifyFailure({ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }).kind // 'transient'
 */
export function classifyFailure(error: unknown): DeliveryFailure {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpErrorLike;
  const code = e.code ?? 'EUNKNOWN';
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : null;
  let kind: FailureKind;
  if (INFRASTRUCTURE_CODES.has(code)) kind = 'transient';
  else if (responseCode !== null && responseCode >= 500) kind = 'permanent';
  else if (responseCode !== null && responseCode >= 400) kind = 'transient';
  else if (code === 'EENVELOPE' || code === 'EMESSAGE') kind = 'permanent'; // refused before any server saw it
  else kind = 'transient';
  return {
    status: 'failed',
    kind,
    code,
    responseCode,
    response: e.response ?? null,
    command: e.command ?? null,
    message: e.message ?? code,
  };
}
