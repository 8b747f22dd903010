/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { createServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Preview, startPreview } from '../../src/preview/server.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { EXAMPLES_DIR } from '../helpers/examples.ts';
import { scratchCopy } from '../helpers/scratch-copy.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

let scratch: Awaited<ReturnType<typeof scratchCopy>>;
let preview: Preview;
let browser: Browser;
let page: Page;
const sink = new SmtpSink();
const consoleErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  scratch = await scratchCopy();
  await sink.start();
  preview = await startPreview({ port: 0, templatesDir: scratch.templatesDir, localesDir: scratch.localesDir, examplesDir: EXAMPLES_DIR, smtpUrl: sink.url });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(preview.url);
  await page.waitForFunction(() => (document.getElementById('example') as HTMLSelectElement).options.length > 0);
  await page.selectOption('#example', 'skype-invitation');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await preview?.close();
  await sink.stop();
  await scratch?.remove();
});

const subject = () => page.locator('#subject');

describe('the preview, in headless Chromium', () => {
  it('shows the seed invitation in Russian and in English, HTML at phone and desktop width, text and calendar', async () => {
    await expectText(subject(), 'Приглашение: Собрание акционеров');
    await expectText(page.locator('#from'), 'Елена Смирнова <e.smirnova@mydomain.ru>');
    await expectText(page.frameLocator('#phone').locator('h1'), 'Собрание акционеров');
    await expectText(page.frameLocator('#desktop').locator('.card-time'), '28 августа, пн, 10:00 – 12:30 (GMT+03:00)');
    expect(await page.locator('#phone').evaluate((el) => el.getBoundingClientRect().width)).toBe(360);
    expect(await page.locator('#text').textContent()).toContain('Присоединиться к конференции: https://meet.mydomain.ru/e.smirnova/8KZ2Q4R1');
    expect(await page.locator('#calendar').textContent()).toContain('METHOD:REQUEST');
    await page.selectOption('#locale', 'en');
    await expectText(subject(), 'Invitation: Собрание акционеров');
    await expectText(page.frameLocator('#phone').locator('.join a'), 'Join conference');
    await page.selectOption('#locale', 'ru');
    await expectText(subject(), 'Приглашение: Собрание акционеров');
  });

  it('changes the open page when a Russian string is saved, without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await scratch.editLocale('ru', (t) => {
      t.subject.invitation = 'Вас приглашают: {{title}}';
      t.conference.join = 'Войти в конференцию';
    });
    await expectText(subject(), 'Вас приглашают: Собрание акционеров', 5000);
    await expectText(page.frameLocator('#phone').locator('.join a'), 'Войти в конференцию', 5000);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42); // same page: not reloaded
    await page.screenshot({ path: `${ARTIFACTS}preview.png`, fullPage: true });
  });

  it('shows a broken locale file in the page, and recovers when it is fixed', async () => {
    await scratch.editFile('locales/ru/email.json', (text) => text.replace('"Вас приглашают: {{title}}",', '"Вас приглашают: {{title}}"'));
    await page.locator('#problem').waitFor({ state: 'visible', timeout: 5000 });
    const problem = await page.locator('#problem').textContent();
    expect(problem).toContain('ru/email.json');
    expect(problem).toMatch(/invalid JSON/);
    await scratch.editFile('locales/ru/email.json', (text) => text.replace('"Вас приглашают: {{title}}"\n', '"Вас приглашают: {{title}}",\n'));
    await page.locator('#problem').waitFor({ state: 'hidden', timeout: 5000 });
    await expectText(subject(), 'Вас приглашают: Собрание акционеров');
  });

  it('shows a broken template with its file and line', async () => {
    await scratch.editFile('templates/invitation/subject.hbs', () => '{{#if event.title}}{{t "subject.invitation" title=event.title}}');
    await page.locator('#problem').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.locator('#problem').textContent()).toMatch(/invitation\/subject\.hbs(:\d+)?\n.*Handlebars/);
    await scratch.editFile('templates/invitation/subject.hbs', () => '{{t "subject.invitation" title=event.title}}\n');
    await page.locator('#problem').waitFor({ state: 'hidden', timeout: 5000 });
  });

  it('shows missing strings, not silently replaced', async () => {
    await scratch.editLocale('ru', (t) => delete t.actions.openCalendar);
    await page.locator('#missing').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.locator('#missing').textContent()).toContain('actions.openCalendar');
    await expectText(page.frameLocator('#desktop').locator('a.open-calendar'), '⟦actions.openCalendar⟧');
    await scratch.editLocale('ru', (t) => (t.actions.openCalendar = 'Открыть календарь'));
    await page.locator('#missing').waitFor({ state: 'hidden', timeout: 5000 });
  });

  it('shows a placeholder the template does not pass, in the email and above it', async () => {
    await scratch.editLocale('ru', (t) => (t.conference.join = 'Войти в {{room}}'));
    await page.locator('#missing').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.locator('#missing').textContent()).toContain('Placeholders the template does not pass: conference.join {{room}}');
    await expectText(page.frameLocator('#desktop').locator('.join a'), '⟦conference.join: {{room}} is not passed⟧');
    await scratch.editLocale('ru', (t) => (t.conference.join = 'Присоединиться к конференции'));
    await page.locator('#missing').waitFor({ state: 'hidden', timeout: 5000 });
  });

  it('sends the shown message through SMTP_URL', async () => {
    await page.click('#send');
    await expectText(page.locator('#status'), /^Sent to smtp:\/\/127\.0\.0\.1:\d+: 250 /, 10_000);
    expect(sink.received.map((m) => m.to)).toEqual([['a.smirnov@mydomain.ru']]);
  });

  it('refuses what another site’s page asks of it: a cross-site POST sends nothing; a foreign Host is refused (DNS rebinding)', async () => {
    const before = sink.received.length;
    const target = `${preview.url}/api/send?example=skype-invitation&locale=ru&recipient=a.smirnov%40mydomain.ru`;
    const evil = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(`<!doctype html><title>evil</title><script>
        fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors' }).finally(() => { document.title = 'posted'; });
        const form = document.createElement('form'); form.method = 'POST'; form.action = ${JSON.stringify(target)};
        document.documentElement.append(form);
      </script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.2', resolve));
    const other = await browser.newPage();
    try {
      await other.goto(`http://127.0.0.2:${(evil.address() as AddressInfo).port}/`);
      await other.waitForFunction(() => document.title === 'posted');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(sink.received.length).toBe(before);
      const port = new URL(preview.url).port;
      // fetch() will not set Host: a raw request, as a browser sends it to a name rebound to 127.0.0.1.
      const rebound = await new Promise<number>((resolve, reject) =>
        httpGet({ host: '127.0.0.1', port, path: '/api/examples', headers: { host: `evil.example:${port}` } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        }).on('error', reject),
      );
      expect(rebound).toBe(403);
      expect((await fetch(`${preview.url}/api/examples`)).status).toBe(200);
    } finally {
      await other.close();
      evil.close();
    }
  });

  it('listens on loopback only, unless told --allow-remote', async () => {
    const options = { port: 0, templatesDir: scratch.templatesDir, localesDir: scratch.localesDir, examplesDir: EXAMPLES_DIR, smtpUrl: sink.url };
    await expect(startPreview({ ...options, host: '0.0.0.0' })).rejects.toThrow(/--host 0\.0\.0\.0 is not loopback[\s\S]*--allow-remote/);
    const remote = await startPreview({ ...options, host: '0.0.0.0', allowRemote: true });
    await remote.close();
  });

  it('is usable: focus visible, readable at 360 px, no console errors', async () => {
    await page.locator('h1').click();
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement!);
      return { tag: document.activeElement!.tagName, style: style.outlineStyle, width: style.outlineWidth };
    });
    expect(outline.tag).toBe('SELECT');
    expect(outline.style).toBe('solid');
    expect(outline.width).toBe('3px');
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: `${ARTIFACTS}preview-360.png` });
    expect([...new Set(consoleErrors)].slice(0, 5)).toEqual([]);
  });
});

async function expectText(locator: ReturnType<Page['locator']>, expected: string | RegExp, timeout = 3000) {
  const started = Date.now();
  let last: string | null = null;
  while (Date.now() - started < timeout) {
    last = ((await locator.textContent({ timeout }).catch(() => null)) ?? '').replace(/\s+/g, ' ').trim();
    if (typeof expected === 'string' ? last === expected : expected.test(last)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(last).toEqual(expected);
}
