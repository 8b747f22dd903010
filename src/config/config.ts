/**
 * The service's configuration: read from the environment once at start,
 * validated as a whole (one error listing every problem), then frozen.
 * Every variable, its default and meaning is in docs/configuration.md (a test keeps it complete).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Duration } from 'luxon';
import { z } from 'zod';
import { type DkimKey, loadDkimKeyDir } from '../message/dkim-keys.ts';
import type { SenderPolicy } from '../message/sender.ts';
import { isKnownTimeZone } from '../model/datetime.ts';
import { emailAddress } from '../model/text-rules.ts';
import { type Branding, brandingSchema } from '../render/branding.ts';

/** A configuration that cannot be used, with every problem named by its variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const flag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
/** A whole number from the environment, with messages a person can act on (not zod's "expected number, received NaN"). */
const wholeNumber = (min: number, max: number) =>
  z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(min, `must be ${min} or more`).max(max, `must be ${max} or less`);
const positiveInt = (max: number) => wholeNumber(1, max);
const optionalText = z.string().trim().min(1).optional();

/** The shortest RETENTION: the purge looks once a second at most. */
const MIN_RETENTION_MS = 1000;

/**
 * A duration: ISO 8601 (`P30D`, `PT12H`; a month is 30 days, a year 365) or milliseconds.
 * @example retention.parse('P30D') // 2_592_000_000
 */
const duration = z.string().transform((text, context) => {
  const value = text.trim();
  const ms = /^\d+$/.test(value) ? Number(value) : Duration.fromISO(value).as('milliseconds');
  if (!Number.isFinite(ms)) {
    context.addIssue({ code: 'custom', message: 'must be an ISO 8601 duration such as P30D or PT12H, or a number of milliseconds' });
    return z.NEVER;
  }
  if (ms < MIN_RETENTION_MS) {
    context.addIssue({ code: 'custom', message: `must be at least ${MIN_RETENTION_MS} ms (PT1S)` });
    return z.NEVER;
  }
  return ms;
});

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: wholeNumber(0, 65535).default(8080),
  DATA_DIR: z.string().min(1).default('./data'),
  QUEUE_URL: z
    .string()
    .refine((v) => /^rediss?:\/\/[^/]+/.test(v), 'must be redis://host:port (or rediss:// for TLS)')
    .optional(),
  QUEUE_CONNECT_TIMEOUT_MS: positiveInt(600_000).default(30_000),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be letters, digits, _ . - (at most 64)')
    .default('invite-mailer'),
  SEND_RATE_LIMIT: positiveInt(100_000).optional(),
  API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  BODY_LIMIT_BYTES: positiveInt(256 * 1024 * 1024).default(8 * 1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  RETRY_INITIAL_DELAY_MS: positiveInt(86_400_000).default(30_000),
  RETRY_MAX_DELAY_MS: positiveInt(86_400_000).default(3_600_000),
  RETRY_MAX_AGE_MS: positiveInt(30 * 86_400_000).default(5 * 86_400_000),
  RETRY_MIN_AGE_MS: positiveInt(30 * 86_400_000).default(3_600_000),
  RETRY_UNCONFIRMED_DELAY_MS: positiveInt(86_400_000).default(3_600_000),
  SMTP_URL: z
    .string()
    .default('smtp://localhost:1025')
    .refine((v) => /^smtps?:\/\/[^/]+/.test(v), 'must be smtp://host:port or smtps://host:port (user:password@ allowed)'),
  SMTP_POOL_SIZE: positiveInt(100).default(5),
  RENDER_THREADS: wholeNumber(0, 64).default(defaultRenderThreads()),
  SMTP_REQUIRE_TLS: flag.default(false),
  SMTP_ALLOW_INVALID_CERTIFICATE: flag.default(false),
  SMTP_TIMEOUT_MS: positiveInt(600_000).default(30_000),
  SMTP_REPLY_TIMEOUT_MS: positiveInt(3_600_000).default(600_000),
  DKIM_DOMAIN: optionalText,
  DKIM_SELECTOR: optionalText,
  DKIM_PRIVATE_KEY_FILE: optionalText,
  DKIM_KEYS_DIR: optionalText,
  SENDER_POLICY: z.enum(['organizer', 'service']).default('organizer'),
  SERVICE_MAILBOX: emailAddress().default('notifications@invite-mailer.localhost'),
  SERVICE_NAME: optionalText,
  BOUNCE_ADDRESS: emailAddress().optional(),
  BOUNCE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  BOUNCE_SMTP_PORT: wholeNumber(0, 65535).optional(),
  BOUNCE_SMTP_HOST: z.string().min(1).optional(),
  BOUNCE_MAX_BYTES: positiveInt(64 * 1024 * 1024).default(1024 * 1024),
  BOUNCE_MAX_CONNECTIONS: positiveInt(10_000).default(50),
  BOUNCE_CLIENT_MESSAGES_PER_MINUTE: positiveInt(100_000).default(300),
  WEBHOOK_URL: z
    .string()
    .refine((v) => /^https?:\/\/[^/]+/.test(v), 'must be an https:// (or http://) URL')
    .optional(),
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by at least 24 bytes in base64 (Standard Webhooks)')
    .optional(),
  WEBHOOK_TIMEOUT_MS: positiveInt(120_000).default(10_000),
  WEBHOOK_RETRY_INITIAL_DELAY_MS: positiveInt(86_400_000).default(5_000),
  WEBHOOK_RETRY_MAX_DELAY_MS: positiveInt(86_400_000).default(3_600_000),
  NOTIFY_ORGANIZER: z.enum(['off', 'failures']).default('off'),
  NOTIFY_ORGANIZER_WINDOW_MS: positiveInt(3_600_000).default(60_000),
  RETENTION: duration.prefault('P30D'),
  PRODUCT_NAME: optionalText,
  ACCENT_COLOR: optionalText,
  LOGO_URL: optionalText,
  FOOTER_TEXT: optionalText,
  DEFAULT_LOCALE: z
    .string()
    .regex(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/, 'must be a language tag such as en or ru')
    .default('en'),
  DEFAULT_TIME_ZONE: z
    .string()
    .optional()
    .refine((v) => v === undefined || isKnownTimeZone(v), 'must be an IANA time zone such as Europe/Moscow'),
  PARTICIPANTS_SHOWN: positiveInt(1000).default(10),
  CALENDAR_ATTENDEES_LIMIT: positiveInt(100_000).default(100),
});

/**
 * Threads that render, compose and sign messages, by default: none on one or two cores, where the
 * main thread does it (the second core is the relay's, the collector's and the HTTP side's; a thread
 * there only added copying, and ~60 MB); on more, a core for each but the main thread's, at most
 * four (docs/performance.md#rendering-threads).
 *
 * @example defaultRenderThreads(2) // 0
 * @example defaultRenderThreads(4) // 3
 * @example defaultRenderThreads(16) // 4
 */
export function defaultRenderThreads(cores = availableParallelism()): number {
  return cores <= 2 ? 0 : Math.min(4, cores - 1);
}

export interface Config {
  readonly http: { readonly host: string; readonly port: number; readonly apiToken?: string; readonly bodyLimitBytes: number };
  readonly dataDir: string;
  /** The outbox: embedded SQLite in dataDir, or BullMQ on the Redis at QUEUE_URL. */
  readonly queue: { readonly url: string; readonly prefix: string; readonly connectTimeoutMs: number } | null;
  /** Messages per second to the relay, across all instances; null: no limit. */
  readonly sendRatePerSecond: number | null;
  /** Threads rendering and composing messages (RENDER_THREADS); 0: the main thread does it. */
  readonly renderThreads: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** JSON lines, or pino-pretty's lines for a person; auto: pretty when stdout is a terminal. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  readonly retry: {
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
    readonly maxAgeMs: number;
    readonly minAgeMs: number;
    readonly unconfirmedDelayMs: number;
  };
  readonly smtp: {
    readonly url: string;
    readonly poolSize: number;
    readonly requireTLS: boolean;
    readonly allowInvalidCertificate: boolean;
    readonly timeoutMs: number;
    readonly replyTimeoutMs: number;
    /** DKIM keys (DKIM_KEYS_DIR, and the single DKIM_DOMAIN key), chosen per From domain. */
    readonly dkimKeys?: readonly DkimKey[];
    /** SERVICE_MAILBOX's domain: whose DKIM key signs mail from a domain without one. */
    readonly serviceDomain: string;
  };
  readonly sender: {
    readonly policy: SenderPolicy;
    readonly serviceMailbox: { readonly name: string; readonly address: string };
    readonly bounceAddress: string;
  };
  /**
   * Bounces: VERP envelope senders (with BOUNCE_SECRET) and where bounces are
   * taken in; null without BOUNCE_SECRET (one fixed envelope sender, no intake).
   */
  readonly bounce: {
    readonly verp: { readonly local: string; readonly domain: string; readonly secret: string };
    readonly listener: {
      readonly host: string;
      readonly port: number;
      readonly maxBytes: number;
      readonly maxConnections: number;
      readonly clientMessagesPerMinute: number;
    } | null;
  } | null;
  /** Signed status webhooks (WEBHOOK_URL), or null. */
  readonly webhook: {
    readonly url: string;
    readonly secret: string;
    readonly timeoutMs: number;
    readonly retry: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  } | null;
  /** NOTIFY_ORGANIZER=failures: the organizer's notice of undelivered recipients, gathered for `windowMs`; else null. */
  readonly organizerNotices: { readonly windowMs: number } | null;
  /** RETENTION: how long a notification is kept after its recipients are all final (ms). */
  readonly retentionMs: number;
  readonly branding: Branding;
  readonly defaultLocale: string;
  readonly defaultTimeZone?: string;
  readonly participantsShown: number;
  readonly calendarAttendeesLimit: number;
}

/**
 * Reads and validates the configuration.
 *
 * @throws ConfigError listing every variable that is wrong.
 * @example const config = loadConfig(process.env); config.smtp.url // 'smtp://localhost:1025'
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  // An empty variable counts as unset, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.data;

  const branding = brandingSchema.safeParse({
    ...(e.PRODUCT_NAME ? { productName: e.PRODUCT_NAME } : {}),
    ...(e.ACCENT_COLOR ? { accentColor: e.ACCENT_COLOR } : {}),
    ...(e.LOGO_URL ? { logoUrl: e.LOGO_URL } : {}),
    ...(e.FOOTER_TEXT ? { footer: e.FOOTER_TEXT } : {}),
  });
  const brandVariables: Record<string, string> = { productName: 'PRODUCT_NAME', accentColor: 'ACCENT_COLOR', logoUrl: 'LOGO_URL', footer: 'FOOTER_TEXT' };
  if (!branding.success)
    for (const issue of branding.error.issues) problems.push(`${brandVariables[String(issue.path[0])] ?? issue.path.join('.')}: ${issue.message}`);

  if (!e.API_TOKEN && !LOOPBACK.has(e.HOST)) {
    problems.push(`HOST: ${e.HOST} is not loopback; set API_TOKEN before listening beyond this machine`);
  }
  if (e.WEBHOOK_URL && !e.WEBHOOK_SECRET) problems.push('WEBHOOK_SECRET: set it with WEBHOOK_URL (events are signed with it)');
  if (e.BOUNCE_SMTP_PORT !== undefined && !e.BOUNCE_SECRET) problems.push('BOUNCE_SMTP_PORT: set BOUNCE_SECRET too (bounce addresses are signed with it)');
  if (e.BOUNCE_SECRET && !e.BOUNCE_ADDRESS)
    problems.push('BOUNCE_SECRET: set BOUNCE_ADDRESS too (its local part and domain make the bounce addresses, bounces+…@domain)');
  if (e.RETRY_MIN_AGE_MS > e.RETRY_MAX_AGE_MS) problems.push('RETRY_MIN_AGE_MS: must not exceed RETRY_MAX_AGE_MS');

  const dkimKeys: DkimKey[] = [];
  const dkimSet = [e.DKIM_DOMAIN, e.DKIM_SELECTOR, e.DKIM_PRIVATE_KEY_FILE].filter(Boolean).length;
  if (dkimSet > 0 && dkimSet < 3) problems.push('DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE: set all three to sign, or none');
  if (dkimSet === 3) {
    try {
      dkimKeys.push({
        domainName: e.DKIM_DOMAIN!.toLowerCase(),
        keySelector: e.DKIM_SELECTOR!,
        privateKey: readFileSync(e.DKIM_PRIVATE_KEY_FILE!, 'utf8'),
        file: e.DKIM_PRIVATE_KEY_FILE!,
      });
    } catch (error) {
      problems.push(`DKIM_PRIVATE_KEY_FILE: cannot be read (${(error as Error).message})`);
    }
  }
  if (e.DKIM_KEYS_DIR) {
    try {
      dkimKeys.push(...loadDkimKeyDir(e.DKIM_KEYS_DIR));
    } catch (error) {
      problems.push(`DKIM_KEYS_DIR: ${(error as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const productName = branding.data!.productName ?? 'Calendar';
  return deepFreeze({
    http: { host: e.HOST, port: e.PORT, ...(e.API_TOKEN ? { apiToken: e.API_TOKEN } : {}), bodyLimitBytes: e.BODY_LIMIT_BYTES },
    dataDir: e.DATA_DIR,
    queue: e.QUEUE_URL ? { url: e.QUEUE_URL, prefix: e.QUEUE_PREFIX, connectTimeoutMs: e.QUEUE_CONNECT_TIMEOUT_MS } : null,
    sendRatePerSecond: e.SEND_RATE_LIMIT ?? null,
    renderThreads: e.RENDER_THREADS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    retry: {
      initialDelayMs: e.RETRY_INITIAL_DELAY_MS,
      maxDelayMs: e.RETRY_MAX_DELAY_MS,
      maxAgeMs: e.RETRY_MAX_AGE_MS,
      minAgeMs: e.RETRY_MIN_AGE_MS,
      unconfirmedDelayMs: e.RETRY_UNCONFIRMED_DELAY_MS,
    },
    smtp: {
      url: e.SMTP_URL,
      poolSize: e.SMTP_POOL_SIZE,
      requireTLS: e.SMTP_REQUIRE_TLS,
      allowInvalidCertificate: e.SMTP_ALLOW_INVALID_CERTIFICATE,
      timeoutMs: e.SMTP_TIMEOUT_MS,
      replyTimeoutMs: e.SMTP_REPLY_TIMEOUT_MS,
      ...(dkimKeys.length ? { dkimKeys } : {}),
      serviceDomain: e.SERVICE_MAILBOX.slice(e.SERVICE_MAILBOX.lastIndexOf('@') + 1).toLowerCase(),
    },
    sender: {
      policy: e.SENDER_POLICY,
      serviceMailbox: { name: e.SERVICE_NAME ?? productName, address: e.SERVICE_MAILBOX },
      bounceAddress: e.BOUNCE_ADDRESS ?? e.SERVICE_MAILBOX,
    },
    bounce:
      e.BOUNCE_SECRET && e.BOUNCE_ADDRESS
        ? bounceConfig(e.BOUNCE_ADDRESS, e.BOUNCE_SECRET, e.BOUNCE_SMTP_PORT, {
            host: e.BOUNCE_SMTP_HOST ?? e.HOST,
            maxBytes: e.BOUNCE_MAX_BYTES,
            maxConnections: e.BOUNCE_MAX_CONNECTIONS,
            clientMessagesPerMinute: e.BOUNCE_CLIENT_MESSAGES_PER_MINUTE,
          })
        : null,
    webhook: e.WEBHOOK_URL
      ? {
          url: e.WEBHOOK_URL,
          secret: e.WEBHOOK_SECRET!,
          timeoutMs: e.WEBHOOK_TIMEOUT_MS,
          retry: { initialDelayMs: e.WEBHOOK_RETRY_INITIAL_DELAY_MS, maxDelayMs: e.WEBHOOK_RETRY_MAX_DELAY_MS },
        }
      : null,
    organizerNotices: e.NOTIFY_ORGANIZER === 'failures' ? { windowMs: e.NOTIFY_ORGANIZER_WINDOW_MS } : null,
    retentionMs: e.RETENTION,
    branding: branding.data!,
    defaultLocale: e.DEFAULT_LOCALE,
    ...(e.DEFAULT_TIME_ZONE ? { defaultTimeZone: e.DEFAULT_TIME_ZONE } : {}),
    participantsShown: e.PARTICIPANTS_SHOWN,
    calendarAttendeesLimit: e.CALENDAR_ATTENDEES_LIMIT,
  });
}

function bounceConfig(
  address: string,
  secret: string,
  port: number | undefined,
  limits: { host: string; maxBytes: number; maxConnections: number; clientMessagesPerMinute: number },
): Config['bounce'] {
  const at = address.lastIndexOf('@');
  return {
    verp: { local: address.slice(0, at).split('+')[0]!, domain: address.slice(at + 1), secret },
    listener: port === undefined ? null : { port, ...limits },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
