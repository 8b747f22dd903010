/**
 * What the relay said about one message, as one record for success and
 * failure alike, with the verdict the delivery rules act on: accepted,
 * transient (try again later), permanent (report it), or unknown (the relay
 * may have the message: it did not answer the end of DATA).
 */
import { remoteText } from '../model/remote-text.ts';

/** The relay's answer to one message, as the status API shows it (`lastReply`). */
export interface RelayReply {
  /** `OK` for an accepted message; else nodemailer's code (`EENVELOPE`, `ETIMEDOUT`, …) or ours (`ERENDER`, `EINVALID`). */
  readonly code: string;
  /** The SMTP reply code, when the server answered (`250`, `550`, `451`). */
  readonly responseCode: number | null;
  /** The server's reply line, when it answered. */
  readonly response: string | null;
  readonly message: string;
}

export type SendVerdict = 'accepted' | 'transient' | 'permanent' | 'unknown';

export interface SendResult {
  readonly verdict: SendVerdict;
  readonly reply: RelayReply;
}

// Failures of our side of the line (network, TLS, credentials): the message itself is fine,
// so it waits for the relay to be reachable or the configuration to be fixed.
const INFRASTRUCTURE_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EAUTH',
  'ENOAUTH',
  'EPROTOCOL',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
]);
// Only a reply that times out once the whole message was handed over leaves the outcome unknown:
// the relay may be working on it, and may take it (RFC 5321 §4.5.3.2.6, §6.1). A connection reset or
// closed before the reply is a temporary failure like any other, resent with the same Message-ID: a
// whole message fits in the socket's buffers, so that it was written says nothing of what the relay
// has, and a relay that drops connections mid-DATA (overloaded, restarting) would otherwise leave
// its recipients `unknown`, never delivered.
const LOST_ANSWER_CODES = new Set(['ETIMEDOUT']);

interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/**
 * The relay accepted the message: its reply to the end of DATA.
 *
 * @example acceptedBy('250 2.0.0 Ok: queued as 4F2A').reply.responseCode // 250
 */
export function acceptedBy(response: string): SendResult {
  const responseCode = Number(/^\d{3}/.exec(response)?.[0] ?? 250);
  const said = remoteText(response) ?? String(responseCode);
  return { verdict: 'accepted', reply: { code: 'OK', responseCode, response: said, message: said } };
}

/**
 * Classifies an error of nodemailer's SMTP client (RFC 5321 §4.2.1: 4yz is
 * transient, 5yz permanent). `handedOver`: the whole message had been given to
 * the connection when the error came, so a reply that timed out is an unknown
 * outcome; a reset or a closed connection is transient all the same.
 *
 * @example classifyFailure({ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 No such user' }).verdict // 'permanent'
 * @example classifyFailure({ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }).verdict // 'transient'
 * @example classifyFailure({ code: 'ETIMEDOUT', message: 'Timeout' }, { handedOver: true }).verdict // 'unknown'
 * @example classifyFailure({ code: 'ECONNECTION', message: 'Connection closed unexpectedly' }, { handedOver: true }).verdict // 'transient'
 */
export function classifyFailure(error: unknown, context: { readonly handedOver?: boolean } = {}): SendResult {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpErrorLike;
  const code = e.code ?? 'EUNKNOWN';
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : null;
  let verdict: SendVerdict;
  if (responseCode === null && context.handedOver && LOST_ANSWER_CODES.has(code)) verdict = 'unknown';
  else if (INFRASTRUCTURE_CODES.has(code)) verdict = 'transient';
  else if (responseCode !== null && responseCode >= 500) verdict = 'permanent';
  else if (responseCode !== null && responseCode >= 400) verdict = 'transient';
  else if (code === 'EENVELOPE' || code === 'EMESSAGE')
    verdict = 'permanent'; // refused before any server saw it
  else verdict = 'transient';
  // The relay's words may carry a remote server's (remote-text.ts): cleaned here, where they enter.
  return { verdict, reply: { code, responseCode, response: remoteText(e.response), message: remoteText(e.message) ?? code } };
}

/**
 * A failure found before anything reached the relay (rendering, a stored request no longer valid).
 *
 * @example localFailure('ERENDER', 'transient', 'template broken').reply.code // 'ERENDER'
 */
export function localFailure(code: string, verdict: 'transient' | 'permanent', message: string): SendResult {
  return { verdict, reply: { code, responseCode: null, response: null, message } };
}
