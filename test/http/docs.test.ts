/**
 * /docs is Swagger UI over the OpenAPI document, as a reader sees it in a
 * browser: rendered from the package's own assets, with the token configured
 * and none given (the page and all it loads are public), under its CSP.
 */

import Fastify from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ROUTES } from '../../src/http/app.ts';
import { DOCS_ROUTES, registerDocs } from '../../src/http/docs.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const sink = new SmtpSink();
let service: TestService;
let browser: Browser;
let base: string;

beforeAll(async () => {
  await sink.start();
  service = await startTestService({ SMTP_URL: sink.url, API_TOKEN: 'docs-test-token-0123456789' });
  base = await service.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await service.dispose();
  await sink.stop();
});

describe('/docs', () => {
  it.each(['/docs', '/docs/'])('%s shows every operation of the document, with nothing refused or blocked', async (path) => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('response', (response) => response.status() >= 400 && problems.push(`${response.status()} ${response.url()}`));
    await page.goto(`${base}${path}`);
    await page.locator('.opblock-summary-path', { hasText: '/v1/notifications/{id}' }).first().waitFor({ timeout: 30_000 });
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    const document = (await service.app.inject('/openapi.json')).json() as { paths: object; webhooks: object };
    const operations = [...Object.values(document.paths), ...Object.values(document.webhooks)].reduce((n, methods) => n + Object.keys(methods).length, 0);
    expect(paths).toHaveLength(operations);
    expect(paths.map((p) => p.replace(/\u200b/g, ''))).toEqual(expect.arrayContaining(['/v1/notifications', '/v1/notifications/{id}', '/healthz']));
    // An operation opens with its responses, the error codes among them.
    await page.locator('.opblock-summary-path', { hasText: /^\/v1\/notifications$/ }).click();
    // As long as the page had to render: under CI's load Chromium took more than expect.poll's default second.
    await expect.poll(() => page.locator('.responses-table').first().textContent(), { timeout: 30_000 }).toContain('IDEMPOTENCY_KEY_REUSED');
    // The bearer scheme is there to fill in ("Authorize").
    expect(await page.locator('.btn.authorize').count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('"Try it out" sends a real request: authorized with the token, the first example is accepted (202) and its mail reaches the relay', {
    timeout: 60_000,
  }, async () => {
    sink.reset();
    const page = await browser.newPage();
    await page.goto(`${base}/docs`);
    await page.locator('.btn.authorize').click();
    await page.locator('.auth-container input').first().fill('docs-test-token-0123456789');
    await page.locator('.auth-btn-wrapper .authorize').click();
    await page.locator('.auth-btn-wrapper .btn-done').click();
    await page.locator('.opblock-summary-path', { hasText: /^\/v1\/notifications$/ }).click();
    await page.locator('.try-out__btn').first().click();
    await page.locator('.execute').first().click();
    // The server's answer as the page shows it (the table's first row is its header).
    await expect.poll(() => page.locator('.live-responses-table').first().innerText(), { timeout: 20_000 }).toMatch(/\b202\b/);
    await expect.poll(() => sink.received.length, { timeout: 15_000 }).toBeGreaterThan(0);
    await page.close();
  });

  it('every route the documentation registers is on the public list, and only those', async () => {
    const app = Fastify();
    const registered = await registerDocs(app, '0.0.0');
    expect([...new Set(registered)].sort()).toEqual([...DOCS_ROUTES].sort());
    for (const route of DOCS_ROUTES) expect(PUBLIC_ROUTES.has(route), route).toBe(true);
    await app.close();
  });

  it("the page and its assets carry a CSP that allows scripts from this origin only and doesn't upgrade to https", async () => {
    for (const path of ['/docs/', '/docs/static/swagger-ui-bundle.js']) {
      const csp = (await service.app.inject(path)).headers['content-security-policy'] as string;
      expect(csp).toMatch(/script-src 'self'\s*;/);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
    }
  });
});
