import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HtmlValidate } from 'html-validate';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { EXAMPLE_NAMES, exampleIn } from '../helpers/examples.ts';

// The project's rules for email HTML: html-validate's recommended set, less
// what Outlook's Word engine and webmail need (the file says which and why).
const config = JSON.parse(readFileSync(fileURLToPath(new URL('../../.htmlvalidate.json', import.meta.url)), 'utf8'));
const validator = new HtmlValidate(config);

let renderer: Renderer;
beforeAll(async () => {
  renderer = await createRenderer();
});

describe('rendered HTML is valid', () => {
  it.each(
    EXAMPLE_NAMES.flatMap((name) => [
      [name, 'ru'],
      [name, 'en'],
    ]),
  )('%s in %s', async (name, locale) => {
    for (const email of renderer.render(parseNotificationRequest(exampleIn(name!, locale!)))) {
      const report = await validator.validateString(email.html);
      const problems = report.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`));
      expect(problems).toEqual([]);
    }
  });
});

describe("the organizer's notice of undelivered recipients is valid HTML", () => {
  it.each(['ru', 'en'])('in %s', async (locale) => {
    const request = parseNotificationRequest(exampleIn('trueconf-weekly', locale));
    const notice = renderer.renderFailureNotice(request, [
      { email: request.attendees[1]!.email, status: 'bounced', lastReply: null, report: { status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <x>: no such user' } },
      { email: request.attendees[2]!.email, status: 'expired', lastReply: null, report: null },
    ]);
    const report = await validator.validateString(notice.html);
    expect(report.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`))).toEqual([]);
  });
});

describe('rendered HTML loads nothing from elsewhere', () => {
  it('no web fonts, scripts or stylesheets from other hosts', () => {
    for (const email of renderer.render(parseNotificationRequest(exampleIn('skype-invitation', 'ru')))) {
      expect(email.html).not.toMatch(/fonts\.googleapis|<link|<script|@import/);
    }
  });
});
