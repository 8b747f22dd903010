/**
 * What a configuration means for the parts of the service, decided once:
 * the renderer it asks for, and the sender policy's consequences (SENDER_POLICY
 * is read here and nowhere else: From and Sender of the message, ORGANIZER's
 * SENT-BY in the calendar). The service and the command-line tools both build
 * from these.
 */
import { fileURLToPath } from 'node:url';
import type { MessageOptions } from '../message/compose.ts';
import { createRenderer, type Renderer, type RendererOptions } from '../render/renderer.ts';
import type { Config } from './config.ts';

/** Compiled templates, by their hash (template-cache.ts): where build tools keep their caches (`node_modules/.cache`). */
const TEMPLATE_CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/invite-mailer/', import.meta.url));

/**
 * The message settings of a configuration (all but the Date, which is per notification).
 *
 * @example composeMessage(request, email, { ...messageOptionsOf(config), date: new Date() })
 */
export function messageOptionsOf(config: Config): Omit<MessageOptions, 'date'> {
  return { senderPolicy: config.sender.policy, serviceMailbox: config.sender.serviceMailbox, bounceAddress: config.sender.bounceAddress };
}

/**
 * The renderer the service uses with this configuration.
 *
 * @example const renderer = await rendererFor(loadConfig());
 */
export function rendererFor(config: Config, compileTemplatesIn: 'in-process' | 'child-process' = 'in-process'): Promise<Renderer> {
  return createRenderer(rendererOptionsOf(config, compileTemplatesIn));
}

/**
 * The renderer's options with this configuration: what a rendering thread makes its renderer with.
 *
 * @example createRenderer(rendererOptionsOf(loadConfig(), 'child-process'))
 */
export function rendererOptionsOf(config: Config, compileTemplatesIn: 'in-process' | 'child-process' = 'in-process'): RendererOptions {
  // Mail from the service's mailbox says so in the calendar too (RFC 5545 SENT-BY), so clients show "on behalf of".
  const sentBy = messageOptionsOf(config).senderPolicy === 'service' ? `mailto:${config.sender.serviceMailbox.address}` : null;
  return {
    compileTemplatesIn,
    templateCacheDir: TEMPLATE_CACHE_DIR,
    branding: config.branding,
    defaultLocale: config.defaultLocale,
    ...(config.defaultTimeZone ? { defaultTimeZone: config.defaultTimeZone } : {}),
    participantsShown: config.participantsShown,
    calendarAttendeesLimit: config.calendarAttendeesLimit,
    ...(sentBy ? { sentBy } : {}),
  };
}
