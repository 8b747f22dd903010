// @ts-check
/**
 * The diagnostics channel (node:diagnostics_channel) on which `npm start`'s
 * service says it listens, once it has said so in its log: what comes after
 * the start waits for it (run-bundle.cjs makes its code cache then), and so
 * can a monitoring tool in the same process.
 *
 * @example subscribe(LISTENING_CHANNEL, ({ address }) => console.log(address));
 */
const LISTENING_CHANNEL = 'invite-mailer:listening';

module.exports = { LISTENING_CHANNEL };
