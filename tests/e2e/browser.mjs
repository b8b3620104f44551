// Shared by the end-to-end tests and the stream benchmark: Debian's Chromium driven by
// playwright-core (never Playwright's own browser download), and the page's static server.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The network is closed: no component updates, sync or first-run fetches. Root needs no-sandbox.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --test (Debian's chromium)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Serves www/ on a free loopback port; `extra` maps URL paths to files outside www/. */
export async function serve(extra = {}) {
  const { server, url } = await startServer({ port: 0, extra });
  return { url, close: () => new Promise((r) => server.close(r)) };
}

/** Opens the page and collects its console errors and uncaught exceptions. */
export async function openPage(browser, url) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}
