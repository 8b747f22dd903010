/**
 * Debian's headless Chromium for the tests that look at pages (no browser
 * download: the machine's notes prescribe the system package).
 */
import { type Browser, chromium } from 'playwright-core';

/**
 * @example const browser = await launchChromium(); const page = await browser.newPage();
 * @example await launchChromium(['--enable-features=WebContentsForceDark']) // Chromium darkens pages itself, as Android's WebView does for Gmail's app
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
