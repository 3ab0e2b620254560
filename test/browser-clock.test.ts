// Clock not synchronised (a Pi without network time): the real appliance with RINGVAULT_CLOCK=unsynced,
// driven in headless Chromium — the dashboard banner, the mark on a kept call in the list and on its page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { ROOT, startAppliance, Client } from './helpers/appliance.ts';
import { launchBrowser, watchConsole } from './helpers/browser.ts';

type Dict = Record<string, string>;
const loadDict = async (lang: string): Promise<Dict> => ((await import(pathToFileURL(join(ROOT, 'web', 'i18n', `${lang}.js`)).href)) as { default: Dict }).default;
const PASS = 'correct horse battery staple';

test('unsynced clock: API and health say so, the dashboard shows the banner, a kept call carries the mark with an explanation (en, nl)', { timeout: 180_000 }, async (t) => {
  const [en, nl] = await Promise.all([loadDict('en'), loadDict('nl')]);
  const dir = await mkdtemp(join(tmpdir(), 'rv-clock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const box = await startAppliance(dir, ['--sim-speed', '4'], { env: { RINGVAULT_CLOCK: 'unsynced' } });
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await box.stop();
  });

  // ---- API: set up, keep one simulated call; it is archived with clockSynced false
  const c = new Client(box.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: box.claimCode(), language: 'en' });
  const st = await c.state();
  assert.equal(st.clockSynced, false);
  assert.ok(st.health.issues.some((i: { code: string }) => i.code === 'RV_ERR_CLOCK_UNSYNCED'), JSON.stringify(st.health));
  await c.json('POST', '/api/sim/lines/line1/call', { direction: 'in', caller: '0612345678', durationSec: 3 });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.state === 'in-call'), 'call to start');
  const { callId } = await c.json('POST', '/api/lines/line1/save', {});
  const kept = await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.id === callId && x.endedAt), 'kept call archived');
  assert.equal(kept.clockSynced, false);

  // ---- browser: log in; the banner explains what is wrong and what to do
  browser = await launchBrowser();
  const page = await (await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(15_000);
  const consoleLog = watchConsole(page);
  await page.goto(box.url);
  await page.waitForURL(/#\/login$/);
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-passphrase').fill(PASS);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(/#\/dashboard$/);
  const banner = page.getByTestId('clock-banner');
  await banner.waitFor();
  assert.equal((await banner.textContent())?.trim(), `${en['banner.clock']} ${en['banner.clockHelp']}`);
  assert.equal(await banner.getAttribute('role'), 'status');

  // ---- calls list: the row carries the mark, its tooltip says why it matters
  await page.getByTestId('nav-calls').click();
  const row = page.locator(`[data-testid="call-row"][data-call-id="${callId}"]`);
  await row.waitFor();
  const mark = row.getByTestId('unsynced');
  assert.equal((await mark.textContent())?.trim(), en['calls.unsynced']);
  assert.equal(await mark.getAttribute('title'), en['calls.unsyncedHint']);

  // ---- call page: the clock row says not synchronised, with the explanation under it
  await row.getByRole('link').first().click();
  await page.waitForURL(new RegExp(`#/calls/${callId}$`));
  const callMark = page.getByTestId('call-unsynced');
  await callMark.waitFor();
  assert.equal((await callMark.textContent())?.trim(), en['call.clockUnsynced']);
  assert.equal((await page.getByTestId('call-unsynced-help').textContent())?.trim(), en['call.clockUnsyncedHelp']);
  assert.equal(await banner.isVisible(), true, 'the banner stays on every page');

  // ---- Dutch
  await page.getByTestId('lang-nl').click();
  await page.waitForFunction((text) => document.querySelector('[data-testid="clock-banner"]')?.textContent?.trim() === text, `${nl['banner.clock']} ${nl['banner.clockHelp']}`);
  await page.getByTestId('nav-calls').click();
  await row.waitFor();
  assert.equal(await row.getByTestId('unsynced').getAttribute('title'), nl['calls.unsyncedHint']);
  assert.equal((await row.getByTestId('unsynced').textContent())?.trim(), nl['calls.unsynced']);

  assert.deepEqual(consoleLog.errors, [], `console errors:\n${consoleLog.all.join('\n')}\n${box.stderr()}`);
});

test('synced clock: no banner, no health issue, kept calls unmarked', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-clock-ok-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const box = await startAppliance(dir, ['--sim-speed', '4'], { env: { RINGVAULT_CLOCK: 'synced' } });
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await box.stop();
  });
  const c = new Client(box.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: box.claimCode(), language: 'en' });
  const st = await c.state();
  assert.equal(st.clockSynced, true);
  assert.ok(!st.health.issues.some((i: { code: string }) => i.code === 'RV_ERR_CLOCK_UNSYNCED'));
  await c.json('POST', '/api/sim/lines/line1/call', { direction: 'in', caller: '0612345678', durationSec: 2 });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.state === 'in-call'), 'call to start');
  const { callId } = await c.json('POST', '/api/lines/line1/save', {});
  await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.id === callId && x.endedAt && x.clockSynced === true), 'kept call archived, synced');

  browser = await launchBrowser();
  const page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(box.url);
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-passphrase').fill(PASS);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(/#\/dashboard$/);
  await page.getByTestId('nav-calls').click();
  const row = page.locator(`[data-testid="call-row"][data-call-id="${callId}"]`);
  await row.waitFor();
  assert.equal(await row.getByTestId('unsynced').count(), 0);
  assert.equal(await page.getByTestId('clock-banner').count(), 0);
  await box.stop();
  await assert.rejects(startAppliance(join(dir, 'x'), [], { env: { RINGVAULT_CLOCK: 'maybe' } }), /RINGVAULT_CLOCK is "maybe"; expected one of auto, synced, unsynced/);
});
