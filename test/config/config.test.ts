import { describe, expect, it } from 'vitest';
import { ConfigError, defaultRenderThreads, loadConfig } from '../../src/config/config.ts';

describe('configuration from the environment', () => {
  it('runs on embedded defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config.smtp).toMatchObject({ url: 'smtp://localhost:1025', poolSize: 5, requireTLS: false });
    expect(config.sender).toEqual({
      policy: 'organizer',
      serviceMailbox: { name: 'Calendar', address: 'notifications@invite-mailer.localhost' },
      bounceAddress: 'notifications@invite-mailer.localhost',
    });
    expect(config.defaultLocale).toBe('en');
    expect(config.branding.productName).toBeUndefined();
    expect(Object.isFrozen(config) && Object.isFrozen(config.smtp)).toBe(true);
  });

  it('reads every setting', () => {
    const config = loadConfig({
      SMTP_URL: 'smtps://user:secret@relay.example:465',
      SMTP_POOL_SIZE: '12',
      SMTP_REQUIRE_TLS: 'true',
      SENDER_POLICY: 'service',
      SERVICE_MAILBOX: 'calendar@mydomain.ru',
      SERVICE_NAME: 'Календарь МойОфис',
      BOUNCE_ADDRESS: 'bounces@mydomain.ru',
      PRODUCT_NAME: 'МойОфис',
      ACCENT_COLOR: '#c2410c',
      LOGO_URL: 'https://cdn.mydomain.ru/logo.png',
      FOOTER_TEXT: 'ООО «Пример»',
      DEFAULT_LOCALE: 'ru',
      DEFAULT_TIME_ZONE: 'Europe/Moscow',
      PARTICIPANTS_SHOWN: '25',
    });
    expect(config.smtp).toMatchObject({ url: 'smtps://user:secret@relay.example:465', poolSize: 12, requireTLS: true });
    expect(config.sender).toEqual({
      policy: 'service',
      serviceMailbox: { name: 'Календарь МойОфис', address: 'calendar@mydomain.ru' },
      bounceAddress: 'bounces@mydomain.ru',
    });
    expect(config.branding).toEqual({ productName: 'МойОфис', accentColor: '#c2410c', logoUrl: 'https://cdn.mydomain.ru/logo.png', footer: 'ООО «Пример»' });
    expect(config).toMatchObject({ defaultLocale: 'ru', defaultTimeZone: 'Europe/Moscow', participantsShown: 25 });
  });

  it('reads RETENTION as an ISO 8601 duration or milliseconds (30 days unset), and names it when it is neither', () => {
    expect(loadConfig({}).retentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ RETENTION: 'P7D' }).retentionMs).toBe(7 * 86_400_000);
    expect(loadConfig({ RETENTION: 'PT12H30M' }).retentionMs).toBe(12.5 * 3_600_000);
    expect(loadConfig({ RETENTION: '5000' }).retentionMs).toBe(5000);
    expect(() => loadConfig({ RETENTION: '30 days' })).toThrow(/RETENTION: must be an ISO 8601 duration such as P30D or PT12H, or a number of milliseconds/);
    expect(() => loadConfig({ RETENTION: 'PT0.5S' })).toThrow(/RETENTION: must be at least 1000 ms/);
  });

  it('renders on the main thread of a one- or two-core machine, and on a thread per core but one past that, at most four (RENDER_THREADS)', () => {
    expect([1, 2, 3, 4, 8, 64].map((cores) => defaultRenderThreads(cores))).toEqual([0, 0, 2, 3, 4, 4]);
    expect(loadConfig({ RENDER_THREADS: '2' }).renderThreads).toBe(2);
    expect(loadConfig({ RENDER_THREADS: '0' }).renderThreads).toBe(0);
    expect(() => loadConfig({ RENDER_THREADS: 'two' })).toThrow(/RENDER_THREADS/);
    expect(() => loadConfig({ RENDER_THREADS: '65' })).toThrow(/RENDER_THREADS/);
  });

  it('names every wrong variable in one error', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ SMTP_URL: 'http://relay', SENDER_POLICY: 'me', DEFAULT_TIME_ZONE: 'Mars/Base', ACCENT_COLOR: 'red', DKIM_DOMAIN: 'mydomain.ru' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.problems.join('\n');
    for (const variable of ['SMTP_URL', 'SENDER_POLICY', 'DEFAULT_TIME_ZONE']) expect(text).toContain(variable);
  });

  it('checks branding and DKIM together once the basics are right', () => {
    expect(() => loadConfig({ ACCENT_COLOR: 'red', DKIM_DOMAIN: 'mydomain.ru' })).toThrow(
      /ACCENT_COLOR: must be a hex colour[\s\S]*DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE/,
    );
    expect(() => loadConfig({ DKIM_DOMAIN: 'd.ru', DKIM_SELECTOR: 's', DKIM_PRIVATE_KEY_FILE: '/nonexistent/key.pem' })).toThrow(
      /DKIM_PRIVATE_KEY_FILE: cannot be read/,
    );
  });
});
