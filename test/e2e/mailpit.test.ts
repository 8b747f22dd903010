/**
 * End-to-end through a real Mailpit, as a tester looks at the mail: every
 * example POSTed to the running service's HTTP API, every recipient's message
 * found in Mailpit through its API (the mailpit-api client), read back
 * whole (MIME tree, calendar, headers), and passed through Mailpit's own
 * checks: its HTML check (how much of our HTML and CSS the mail clients of
 * caniemail.com support) and its link check, against a loopback server that
 * every link of the examples is pointed at. Mailpit is built by
 * scripts/mailpit.sh (`npm test` runs it first); nothing here is skipped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDeliveredInvite } from '../helpers/delivered.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';
import { type MailpitProcess, startMailpit } from '../helpers/mailpit.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';

/**
 * What Mailpit's HTML check must find, weighted over the mail clients of
 * caniemail.com: at least this share of our HTML and CSS fully supported, and
 * at most UNSUPPORTED_MAX_PERCENT not at all. Measured 2026-12-07 on every
 * example: 86.5–88.2% supported, 8.9–10.5% partly, 2.7–3.4% not. What counts
 * against us degrades to the inline light layout where a client drops it: the
 * `<style>` element with the phone and dark-mode `@media` rules, `word-break`
 * and `overflow` for long links, `opacity` and `max-height` of the hidden
 * preheader, MJML's `<body>` styles. A template that leans on more than that
 * falls below.
 */
const SUPPORTED_MIN_PERCENT = 85;
const UNSUPPORTED_MAX_PERCENT = 4;

let mailpit: MailpitProcess;
let service: TestService;
let links: Server;
let linksBase = '';
const visited: string[] = [];

beforeAll(async () => {
  mailpit = await startMailpit();
  links = createServer((request, response) => {
    visited.push(request.url ?? '');
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>ok</title>');
  });
  await new Promise<void>((resolve) => links.listen(0, '127.0.0.1', resolve));
  linksBase = `http://127.0.0.1:${(links.address() as AddressInfo).port}`;
  service = await startTestService({ SMTP_URL: mailpit.smtpUrl, API_TOKEN: 'mailpit-e2e-token-0123456789' });
}, 120_000);

afterAll(async () => {
  await service?.dispose();
  await mailpit?.stop();
  links?.close();
});

/** The example with every web link pointed at the loopback server, path kept. */
function withLoopbackLinks(payload: unknown): any {
  return JSON.parse(JSON.stringify(payload), (_key, value) =>
    typeof value === 'string' && /^https?:\/\/[^/\s]+/.test(value) ? value.replace(/^https?:\/\/[^/\s]+/, linksBase) : value,
  );
}

describe('Mailpit end-to-end: every example through the HTTP API', () => {
  it.each(EXAMPLE_NAMES)('%s: every recipient’s message arrives whole, passes Mailpit’s HTML check and link check', async (name) => {
    const payload = withLoopbackLinks(example(name));
    const auth = { authorization: 'Bearer mailpit-e2e-token-0123456789' };
    const posted = await service.app.inject({ method: 'POST', url: '/v1/notifications', headers: { ...auth, 'content-type': 'application/json' }, payload });
    expect(posted.statusCode).toBe(202);
    const { id } = posted.json();
    const status = await waitFor(
      async () => {
        const answer = (await service.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: auth })).json();
        return answer.recipients.every((r: { status: string }) => r.status === 'sent') ? answer : null;
      },
      20_000,
      'every recipient sent',
    );
    for (const recipient of status.recipients as { email: string; messageId: string }[]) {
      const found = await mailpit.client.waitForMessage({ query: `message-id:"${recipient.messageId.slice(1, -1)}"` }, { timeout: 10_000 });
      expect(found.To.map((to) => to.Address)).toEqual([recipient.email]);
      await expectDeliveredInvite(await mailpit.client.getMessageSource(found.ID), payload, recipient.email);

      const html = await mailpit.client.htmlCheck(found.ID);
      const about = `${name} for ${recipient.email}: ${html.Warnings.filter((w) => w.Score.Unsupported > 0)
        .map((w) => w.Title)
        .join(', ')}`;
      expect(html.Total.Supported, about).toBeGreaterThanOrEqual(SUPPORTED_MIN_PERCENT);
      expect(html.Total.Unsupported, about).toBeLessThanOrEqual(UNSUPPORTED_MAX_PERCENT);

      const checked = await mailpit.client.linkCheck(found.ID);
      // A cancellation shows no Join or Open calendar; every other message with a link in its request shows it.
      if (payload.type !== 'cancellation' && JSON.stringify(payload).includes(linksBase)) expect(checked.Links.length).toBeGreaterThan(0);
      expect(checked.Links.filter((link) => !link.URL.startsWith(linksBase) && !/^(mailto|tel):/.test(link.URL))).toEqual([]);
      expect(checked.Errors, JSON.stringify(checked.Links.filter((link) => link.StatusCode >= 400))).toBe(0);
    }
  });

  it('the link check really visited the loopback server', () => {
    expect(visited.length).toBeGreaterThan(0);
  });
});
