/**
 * The diagnostics channel (node:diagnostics_channel) on which the service
 * says it listens, right after its log line says so: the start (src/start.ts)
 * writes V8's code cache of the bundle then, once every function of the way
 * to listening has been compiled.
 *
 * @example subscribe(LISTENING_CHANNEL, ({ address }) => console.log(address));
 */
export const LISTENING_CHANNEL = 'invite-mailer:listening';
