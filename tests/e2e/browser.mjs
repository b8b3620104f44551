// Shared by the end-to-end tests and the stream benchmark: Debian's Chromium driven by
// playwright-core (never Playwright's own browser download), and the page's static server.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/**
 * Serves `root` (default www/) on a free loopback port; `extra` maps URL paths to files outside
 * it. `requests` lists every requested path (`count(path)` counts GETs of one), `responses` every
 * answer as `METHOD path status` (`downloads(path)` counts GETs of one answered 200 with the
 * file, `notModified(path)` those answered 304). `isolate: false`: without the cross-origin
 * isolation headers (the page then runs one thread).
 */
export async function serve(extra = {}, { root, isolate } = {}) {
  const requests = [];
  const responses = [];
  const { server, url } = await startServer({
    port: 0,
    extra,
    root,
    isolate,
    onRequest: (method, path) => requests.push(`${method} ${path}`),
    onResponse: (method, path, status) => responses.push(`${method} ${path} ${status}`),
  });
  const answered = (path, status) => responses.filter((r) => r === `GET ${path} ${status}`).length;
  return {
    url,
    requests,
    responses,
    count: (path) => requests.filter((r) => r === `GET ${path}`).length,
    downloads: (path) => answered(path, 200),
    notModified: (path) => answered(path, 304),
    close: () => new Promise((r) => server.close(r)),
  };
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
 * For a test file: starts the server (with `extra` and `root`, as `serve`) and Chromium before
 * its tests and stops both after them (`isolate` as `serve`; `root` may be a function, called after `setup`;
 * `served(server)` runs once the server is up). `open(query)` gives a fresh page at `query` with the
 * `loaded` selector (default: the one element has loaded its file; null: none) and the `ready`
 * selector (if any) present; its locators wait `timeout` ms, its console errors and uncaught
 * exceptions are collected in `problems`. `withPage(query, body)` runs `body(page)` on such a
 * page, then asserts it had no problems, and closes it even on failure. `server()` is the
 * running server (as `serve` returns it), `browser()` the browser.
 */
export function pageFixture({ extra = {}, root, isolate, timeout = 30_000, ready, loaded = 'bit-lens[state="loaded"]', setup, served } = {}) {
  let browser;
  let server;
  before(async () => {
    await setup?.();
    server = await serve(extra, { root: typeof root === 'function' ? root() : root, isolate });
    await served?.(server);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
  async function open(query = '') {
    const { page, problems } = await openPage(browser, server.url + query);
    page.setDefaultTimeout(timeout);
    if (loaded) await page.locator(loaded).waitFor();
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
  return { open, withPage, server: () => server, browser: () => browser };
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

/**
 * Drops on the page a File called `name` of `size` bytes: the bytes at `url` (a path the page can
 * fetch), then zeros. The zeros are one 1 MiB Blob referenced again and again, so the browser
 * holds a File of any size (GiBs) without a copy of its bytes.
 */
export async function dropSizedFile(page, name, url, size) {
  await page.evaluate(async ({ name, url, size }) => {
    const head = await (await fetch(url)).blob();
    const mib = new Blob([new Uint8Array(1 << 20)]);
    const parts = [head];
    let left = size - head.size;
    for (; left >= mib.size; left -= mib.size) parts.push(mib);
    parts.push(new Uint8Array(left));
    const file = new File(parts, name);
    if (file.size !== size) throw new Error(`built ${file.size} bytes, not ${size}`);
    const dt = new DataTransfer();
    dt.items.add(file);
    const drop = document.querySelector('bit-lens').shadowRoot.querySelector('.drop');
    drop.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { name, url, size });
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A file of the repository by its path from the root. */
export const repoPath = (...parts) => join(ROOT, ...parts);
/** A built-in model of www/models. */
export const builtInModel = (name) => repoPath('www', 'models', name);
/** The cache of downloaded and generated files (BITLENS_CACHE, else ~/.cache/bitlens). */
export const CACHE_DIR = process.env.BITLENS_CACHE || join(homedir(), '.cache', 'bitlens');
/** A reference file of tests/fixtures. */
export const fixturePath = (name) => repoPath('tests', 'fixtures', name);

let distBuilt = false;
/** `npm run dist` once per test process; returns the dist/ folder. */
export function buildDist() {
  if (!distBuilt) {
    execFileSync(process.execPath, [repoPath('scripts', 'dist.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
    distBuilt = true;
  }
  return repoPath('dist');
}

/**
 * A static site in a fresh temporary folder: dist/ copied to `distAt` (a nested path, to show
 * that the folder works anywhere) and `pages` ({path: html}). Returns the folder.
 */
export function distSite(pages, distAt = 'vendor/deep/bitlens') {
  const root = mkdtempSync(join(tmpdir(), 'bitlens-site-'));
  cpSync(buildDist(), join(root, distAt), { recursive: true });
  for (const [path, html] of Object.entries(pages)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), html);
  }
  return root;
}

/**
 * The native CLI (`target/debug/bitlens`, built by `cargo test`, else built now): runs it with
 * `args` and `env` and returns its stdout.
 */
export function runCli(args, env = {}) {
  const bin = repoPath('target', 'debug', 'bitlens');
  if (!existsSync(bin)) execFileSync('cargo', ['build', '--bin', 'bitlens'], { cwd: ROOT, stdio: 'inherit' });
  return execFileSync(bin, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
}
