import type { Config } from '../config/config.ts';

/**
 * The message settings of a configuration (all but the Date, which is per notification).
 *
 * @example composeMessage(request, email, { ...messageOptionsOf(config), date: new Date() })
 */
export function messageOptionsOf(config: Config) {
  return { senderPolicy: config.sender.policy, serviceMailbox: config.sender.serviceMailbox, bounceAddress: config.sender.bounceAddress };
}
