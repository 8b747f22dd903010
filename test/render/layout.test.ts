/// <reference lib="dom" />
/**
 * Every example's email in Debian's headless Chromium at phone and desktop
 * widths, light and dark: no horizontal scroll, no word split across lines
 * (each word's client rects), and no serious or critical axe-core violation;
 * on a phone's first screen, Join and the answer buttons; in dark mode, no
 * light band beside the card, and the dark palette in a client that applies
 * only style elements with a media attribute (Thunderbird).
 * Screenshots go to test-artifacts/layout/.
 */
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer, type RenderedEmail } from '../../src/render/renderer.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { EXAMPLE_NAMES, example, exampleIn } from '../helpers/examples.ts';
import { scratchCopy } from '../helpers/scratch-copy.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/layout/', import.meta.url));
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));
const WIDTHS = [320, 360, 600, 1200];
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
  // The hard cases for the first screen: 150 attendees, and a description of 40 lines.
  const crowd = seedFanOut(150);
  emails.set('150 attendees', renderer.render(parseNotificationRequest(crowd), { only: [crowd.recipients[0].email] })[0]!);
  const long = example('skype-invitation');
  long.event.description = Array.from({ length: 40 }, (_, i) => `Пункт ${i + 1}: обсуждение задач и сроков.`).join('\n');
  emails.set('40-line description', renderer.render(parseNotificationRequest(long))[0]!);
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
      if (/^\s*https?:\/\//.test(node.data) || node.parentElement?.closest('a.join-link')) continue; // a URL shown as text breaks where it must
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
    '%s: no horizontal scroll and no word split at 320, 360, 600 and 1200 px',
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

/** The background a point of the page shows: the first ancestor's, from the element there up, that is not transparent. */
async function backgroundAt(x: number, y: number): Promise<string> {
  return page.evaluate(
    ([px, py]) => {
      for (let element = document.elementFromPoint(px!, py!); element; element = element.parentElement) {
        const color = getComputedStyle(element).backgroundColor;
        if (color !== 'rgba(0, 0, 0, 0)' && color !== 'transparent') return color;
      }
      return getComputedStyle(document.documentElement).backgroundColor;
    },
    [x, y],
  );
}

const luminance = (rgb: string) => {
  const [r, g, b] = rgb.match(/\d+/g)!.map(Number) as [number, number, number];
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
};

describe('dark mode, beyond the card', () => {
  it.each(EXAMPLE_NAMES)('%s at 1200 px: no light band beside the card', async (name) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.setContent(emails.get(`${name} en`)!.html);
    for (const [x, y] of [
      [10, 100],
      [1190, 400],
      [600, 890],
      [10, 890],
    ] as const) {
      expect(luminance(await backgroundAt(x, y)), `${name} at (${x}, ${y})`).toBeLessThan(0.3); // the page #0b1220 or the card #1e293b; the light grey #f3f4f6 is 0.96
    }
  });

  it('the palette reaches a client that applies only style elements with a media attribute (Thunderbird), the same rules as the @media block', async () => {
    await page.setViewportSize({ width: 600, height: 900 });
    await page.emulateMedia({ colorScheme: 'dark' });
    const samples = [
      ['update-conference-removed en', '.conference-removed', 'color', 'rgb(252, 165, 165)'],
      ['update-time-changed en', '.changes-box', 'backgroundColor', 'rgb(51, 41, 13)'],
      ['skype-invitation en', 'a.rsvp-accept', 'color', 'rgb(134, 239, 172)'],
      ['skype-invitation en', 'a.rsvp-decline', 'color', 'rgb(252, 165, 165)'],
      ['skype-invitation en', '.surface', 'backgroundColor', 'rgb(30, 41, 59)'],
    ] as const;
    for (const [key, selector, property, expected] of samples) {
      await page.setContent(emails.get(key)!.html);
      // As Thunderbird: media queries inside style elements are not applied.
      const [inBlock, inElement] = await page.evaluate(() => {
        const rules = (list: CSSRuleList) => Array.from(list, (rule) => rule.cssText.replace(/\s+/g, ' ')).sort();
        let block: string[] = [];
        let element: string[] = [];
        for (const sheet of Array.from(document.styleSheets)) {
          const owner = sheet.ownerNode as HTMLStyleElement;
          if (owner.media.includes('prefers-color-scheme')) element = rules(sheet.cssRules);
          for (let i = sheet.cssRules.length - 1; i >= 0; i--) {
            const rule = sheet.cssRules[i]!;
            if (rule instanceof CSSMediaRule && rule.conditionText.includes('prefers-color-scheme')) {
              block = rules(rule.cssRules);
              sheet.deleteRule(i);
            }
          }
        }
        return [block, element];
      });
      expect(inElement.length, key).toBeGreaterThan(5);
      expect(inElement, key).toEqual(inBlock);
      const value = await page.evaluate(([s, p]) => getComputedStyle(document.querySelector(s!)!)[p as 'color'], [selector, property]);
      expect(value, `${key} ${selector}`).toBe(expected);
    }
  });
});

describe('outlook.com', () => {
  it('keeps the answer buttons in their dark colours where it marks what it recoloured (data-ogsc)', async () => {
    await page.emulateMedia({ colorScheme: 'light' }); // outlook.com recolours itself; its marks are what the rules see
    await page.setViewportSize({ width: 600, height: 900 });
    await page.setContent(emails.get('skype-invitation en')!.html);
    const colours = await page.evaluate(() => {
      document.body.setAttribute('data-ogsc', '');
      return ['accept', 'tentative', 'decline'].map((answer) => getComputedStyle(document.querySelector(`a.rsvp-${answer}`)!).color);
    });
    expect(colours).toEqual(['rgb(134, 239, 172)', 'rgb(229, 231, 235)', 'rgb(252, 165, 165)']);
  });
});

describe("a phone's first screen (360 × 640)", () => {
  const keys = [...EXAMPLE_NAMES.flatMap((name) => LOCALES.map((locale) => `${name} ${locale}`)), '150 attendees', '40-line description'];
  it.each(keys)('%s: Join and the answer buttons wholly within it', async (key) => {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 360, height: 640 });
    await page.setContent(emails.get(key)!.html);
    const bottoms = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.join a, a.rsvp-button'), (element) => ({
        what: element.textContent!.trim(),
        bottom: element.getBoundingClientRect().bottom + window.scrollY,
      })),
    );
    for (const { what, bottom } of bottoms) expect(bottom, `${key}: ${what}`).toBeLessThanOrEqual(640);
    if (key === '150 attendees' || key === '40-line description' || key.startsWith('skype-invitation')) {
      expect(bottoms.length, key).toBeGreaterThanOrEqual(4); // Join and three answers
      await page.screenshot({ path: join(ARTIFACTS, `first-screen-${key.replaceAll(' ', '-')}.png`) });
    }
  });
});

describe("clients that darken the mail themselves (Gmail's apps, Outlook for Windows)", () => {
  // Their inversion cannot be run here; Chromium's own darkening of a page is the same kind of
  // algorithm (Android's WebView applies it to Gmail's app): the email's own dark rules do not apply.
  let darkening: Browser;
  beforeAll(async () => {
    darkening = await launchChromium(['--enable-features=WebContentsForceDark']);
  });
  afterAll(async () => {
    await darkening?.close();
  });

  it.each(EXAMPLE_NAMES)('%s: nothing stays glaring light, and Join keeps its contrast', async (name) => {
    const darkPage = await darkening.newPage({ viewport: { width: 360, height: 640 } });
    await darkPage.setContent(emails.get(`${name} en`)!.html);
    const join = (await (await darkPage.$('.join a'))?.boundingBox()) ?? null;
    const shot = (await darkPage.screenshot({ fullPage: true })).toString('base64');
    await darkPage.screenshot({ path: darkenedScreenshot(name), fullPage: true });
    const measured = await darkPage.evaluate(
      async ([png, box]) => {
        const image = new Image();
        image.src = `data:image/png;base64,${png}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext('2d')!;
        context.drawImage(image, 0, 0);
        // WCAG's relative luminance of an sRGB pixel.
        const channel = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
        const lum = (d: Uint8ClampedArray, i: number) => 0.2126 * channel(d[i]!) + 0.7152 * channel(d[i + 1]!) + 0.0722 * channel(d[i + 2]!);
        const all = context.getImageData(0, 0, canvas.width, canvas.height).data;
        let glaring = 0;
        for (let i = 0; i < all.length; i += 4) if (lum(all, i) > 0.8) glaring += 1;
        let contrast = null;
        if (box) {
          const part = context.getImageData(Math.round(box.x), Math.round(box.y), Math.round(box.width), Math.round(box.height)).data;
          let low = 1;
          let high = 0;
          for (let i = 0; i < part.length; i += 4) {
            low = Math.min(low, lum(part, i));
            high = Math.max(high, lum(part, i));
          }
          contrast = (high + 0.05) / (low + 0.05);
        }
        return { glaring: glaring / (all.length / 4), contrast };
      },
      [shot, join] as const,
    );
    await darkPage.close();
    expect(measured.glaring, `${name}: share of the page brighter than 0.8`).toBeLessThan(0.05);
    if (join) expect(measured.contrast!, `${name}: Join's text against its button`).toBeGreaterThanOrEqual(4.5);
  });
});

const darkenedScreenshot = (name: string) => join(ARTIFACTS, `darkened-by-the-client-${name}.png`);
