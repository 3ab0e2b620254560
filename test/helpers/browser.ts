import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { ROOT, startAppliance, type Appliance } from './appliance.ts';

export type Dict = Record<string, string>;

/** The UI's string table for `lang` (web/i18n/<lang>.js), to compare what the page shows. */
export async function loadDict(lang: string): Promise<Dict> {
  return ((await import(pathToFileURL(join(ROOT, 'web', 'i18n', `${lang}.js`)).href)) as { default: Dict }).default;
}

/** Debian's Chromium, headless, with nothing that talks to the internet. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * The real appliance (started with `args` in a fresh temp dir named `prefix`…) and a headless Chromium,
 * both closed after the test: the browser first, as its open event stream would otherwise hold up the
 * appliance's shutdown (killed if it still takes over 10 s).
 */
export async function applianceWithBrowser(t: { after(fn: () => Promise<void>): void }, prefix: string, args: string[]): Promise<{ box: Appliance; dataDir: string; browser: Browser }> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  let box: Appliance | undefined;
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    if (box) {
      const b = box;
      const killer = setTimeout(() => b.child.kill('SIGKILL'), 10_000);
      await b.stop();
      clearTimeout(killer);
    }
    await rm(dataDir, { recursive: true, force: true });
  });
  box = await startAppliance(dataDir, args);
  browser = await launchBrowser();
  return { box, dataDir, browser };
}

/** A page in a fresh context (own cookies), 1280×900, with `timeoutMs` as its default wait. */
export async function newPage(browser: Browser, opts: { locale: string; timeoutMs: number; acceptDownloads?: boolean }): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: opts.locale, ...(opts.acceptDownloads ? { acceptDownloads: true } : {}) });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs);
  return page;
}

/** Opens the box at `url` and logs in through the login page; returns once the dashboard shows. */
export async function logInPage(page: Page, url: string, username: string, passphrase: string): Promise<void> {
  await page.goto(url);
  await page.waitForURL(/#\/login$/);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-passphrase').fill(passphrase);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(/#\/dashboard$/);
}

export interface ConsoleLog {
  /** console errors and uncaught page errors, as "where: text" */
  errors: string[];
  /** everything the page printed, for a failure message */
  all: string[];
}

/**
 * Records console output and uncaught exceptions of a page. `expected` lets a test name the
 * console errors it provokes on purpose (Chromium logs every 4xx answer as "Failed to load resource").
 */
export function watchConsole(page: Page, expected: (msg: ConsoleMessage) => boolean = () => false): ConsoleLog {
  const log: ConsoleLog = { errors: [], all: [] };
  page.on('console', (msg) => {
    const where = msg.location().url ?? '';
    const line = `${msg.type()} ${where}: ${msg.text()}`;
    log.all.push(line);
    if (msg.type() === 'error' && !expected(msg)) log.errors.push(line);
  });
  page.on('pageerror', (err) => {
    const line = `pageerror: ${err.stack ?? err.message}`;
    log.all.push(line);
    log.errors.push(line);
  });
  return log;
}
