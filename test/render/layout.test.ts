/// <reference lib="dom" />
/**
 * Every example's email in Debian's headless Chromium at phone and desktop
 * widths, light and dark: no horizontal scroll, no word split across lines
 * (each word's client rects), and no serious or critical axe-core violation.
 * Screenshots go to test-artifacts/layout/.
 */
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type RenderedEmail } from '../../src/render/renderer.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { EXAMPLE_NAMES, exampleIn } from '../helpers/examples.ts';
import { scratchCopy } from '../helpers/scratch-copy.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/layout/', import.meta.url));
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));
const WIDTHS = [320, 360, 600];
const SCHEMES = ['light', 'dark'] as const;
// Russian, English, and German for the long words translators will bring.
const LOCALES = ['ru', 'en', 'de'];

let browser: Browser;
let page: Page;
let scratch: Awaited<ReturnType<typeof scratchCopy>>;
const emails = new Map<string, RenderedEmail>();

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  scratch = await scratchCopy();
  await mkdir(join(scratch.localesDir, 'de'));
  await cp(join(scratch.localesDir, 'en', 'email.json'), join(scratch.localesDir, 'de', 'email.json'));
  await scratch.editLocale('de', (t) => {
    Object.assign(t.actions, {
      question: 'Nehmen Sie teil?',
      accept: 'Zusagen',
      tentative: 'Vielleicht',
      decline: 'Absagen',
      openCalendar: 'Im Kalender öffnen',
    });
    Object.assign(t.badge, {
      invitation: 'Termineinladung',
      update: 'Terminaktualisierung',
      cancellation: 'Terminabsage',
      occurrenceCancellation: 'Serienterminabsage',
      reply: 'Terminantwort',
    });
    Object.assign(t.conference, { title: 'Videokonferenzverbindungsdaten', join: 'Videokonferenzteilnahme' });
    Object.assign(t.agenda, { title: 'Weitere Tagesveranstaltungen' });
  });
  const renderer = await createRenderer({ localesDir: scratch.localesDir, templatesDir: scratch.templatesDir });
  for (const name of EXAMPLE_NAMES) {
    for (const locale of LOCALES) {
      const [email] = renderer.render(parseNotificationRequest(exampleIn(name, locale)));
      emails.set(`${name} ${locale}`, email!);
    }
  }
  browser = await launchChromium();
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await scratch?.remove();
});

/** Words (runs of letters and digits) whose characters lie on more than one line. */
async function splitWords(): Promise<string[]> {
  return page.evaluate(() => {
    const split: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
      if (/^\s*https?:\/\//.test(node.data)) continue; // a URL shown as text breaks where it must
      for (const match of node.data.matchAll(/[\p{L}\p{N}]+/gu)) {
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set(
          Array.from(range.getClientRects())
            .filter((r) => r.width > 0 && r.height > 0)
            .map((r) => Math.round(r.top)),
        );
        if (tops.size > 1) split.push(match[0]);
      }
    }
    return split;
  });
}

describe.each(SCHEMES)('every example in %s mode', (scheme) => {
  it.each(EXAMPLE_NAMES.flatMap((name) => LOCALES.map((locale) => `${name} ${locale}`)))(
    '%s: no horizontal scroll and no word split at 320, 360 and 600 px',
    async (key) => {
      await page.emulateMedia({ colorScheme: scheme });
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 800 });
        await page.setContent(emails.get(key)!.html);
        const { scrollWidth, clientWidth } = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth,
        }));
        expect(scrollWidth, `${key} at ${width} px`).toBeLessThanOrEqual(clientWidth);
        expect(await splitWords(), `${key} at ${width} px`).toEqual([]);
        if (width === 320 || key.startsWith('skype-invitation')) {
          await page.screenshot({ path: join(ARTIFACTS, `${key.replace(' ', '-')}-${width}-${scheme}.png`), fullPage: true });
        }
      }
    },
  );

  it.each(EXAMPLE_NAMES.flatMap((name) => LOCALES.map((locale) => `${name} ${locale}`)))('%s: no serious or critical axe-core violation', async (key) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width: 360, height: 800 });
    await page.setContent(emails.get(key)!.html);
    await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const result = await (
        window as unknown as { axe: { run(context: Document): Promise<{ violations: { id: string; impact: string; nodes: { html: string }[] }[] }> } }
      ).axe.run(document);
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 120)).join(' | ')}`);
    });
    expect(violations).toEqual([]);
  });
});

describe('dark mode', () => {
  it('declares both schemes, and the page turns dark instead of being inverted', async () => {
    const html = emails.get('skype-invitation ru')!.html;
    expect(html).toMatch(/<meta name="color-scheme" content="light dark"/);
    expect(html).toMatch(/prefers-color-scheme:\s*dark/);
    await page.setViewportSize({ width: 600, height: 800 });
    const background = async (scheme: 'light' | 'dark') => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setContent(html);
      return page.evaluate(() => getComputedStyle(document.querySelector('.surface')!).backgroundColor);
    };
    expect(await background('light')).toBe('rgb(255, 255, 255)');
    expect(await background('dark')).not.toBe('rgb(255, 255, 255)');
  });
});
