// Shared by the end-to-end tests and the stream benchmark: Debian's Chromium driven by
// playwright-core (never Playwright's own browser download), and the page's static server.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
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

/**
 * For a test file: starts the server (with `extra`, as `serve`) and Chromium before its tests
 * and stops both after them. `open(query)` gives a fresh page at `query` with the default model
 * loaded and the `ready` selector (if any) present; its locators wait `timeout` ms, its console
 * errors and uncaught exceptions are collected in `problems`. `withPage(query, body)` runs
 * `body(page)` on such a page, then asserts it had no problems, and closes it even on failure.
 */
export function pageFixture({ extra = {}, timeout = 30_000, ready } = {}) {
  let browser;
  let server;
  before(async () => {
    server = await serve(extra);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
  async function open(query = '') {
    const { page, problems } = await openPage(browser, server.url + query);
    page.setDefaultTimeout(timeout);
    await page.locator('bit-lens[state="loaded"]').waitFor();
    if (ready) await page.locator(ready).waitFor();
    return { page, problems };
  }
  async function withPage(query, body) {
    const { page, problems } = await open(query);
    try {
      await body(page);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  }
  return { open, withPage };
}

/** Waits until the page shows file `name` (its title) fully loaded. */
export async function waitForFile(page, name) {
  await page.locator('bit-lens h2.file-name', { hasText: name }).waitFor();
  await page.locator('bit-lens[state="loaded"]').waitFor();
}

/**
 * Opens `file` through the page's file chooser: a path, or `{name, buffer}`. Does not wait
 * (a corrupt file never loads): see `waitForFile`.
 */
export async function chooseFile(page, file) {
  const input = typeof file === 'string' ? file : { mimeType: 'application/octet-stream', ...file };
  await page.locator('bit-lens input[type=file]').setInputFiles(input);
}

/** Drops `bytes` as a file called `name` on the page, as a user dragging it there would. */
export async function dropFile(page, name, bytes) {
  await page.evaluate(async ({ name, bytes }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], name));
    const drop = document.querySelector('bit-lens').shadowRoot.querySelector('.drop');
    drop.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { name, bytes: [...bytes] });
}
