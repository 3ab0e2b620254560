import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with nothing that talks to the internet. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
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
