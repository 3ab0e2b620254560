// End-to-end: the real appliance (simulated lines) driven through the web UI in headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { applianceWithBrowser, loadDict, newPage, watchConsole } from './helpers/browser.ts';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

const PASSPHRASE = 'correct horse battery staple';
const SIM_CALL_SEC = 3;
// Set RV_SCREENSHOT_DIR=/tmp/some-dir to keep screenshots of the dashboard and calls page.
const SHOTS = process.env.RV_SCREENSHOT_DIR;

test('en.js and nl.js have the same keys and placeholders, none empty', async () => {
  const [en, nl] = await Promise.all([loadDict('en'), loadDict('nl')]);
  assert.deepEqual(Object.keys(nl).sort(), Object.keys(en).sort());
  for (const k of Object.keys(en)) {
    assert.ok(en[k]!.trim() && nl[k]!.trim(), `empty string for ${k}`);
    assert.deepEqual(placeholders(nl[k]!), placeholders(en[k]!), `placeholders of ${k}`);
  }
  assert.equal(nl['dash.save'], 'Gesprek bewaren');
  assert.equal(nl['settings.save'], 'Opslaan');
  assert.equal(nl['unlock.title'], 'Kluis ontgrendelen');
});

test('web UI: setup, live dashboard, save a simulated call, play it back, lock/unlock, Dutch', { timeout: 180_000 }, async (t) => {
  const [en, nl] = await Promise.all([loadDict('en'), loadDict('nl')]);
  const { box, browser } = await applianceWithBrowser(t, 'rv-browser-', ['--sim-speed', '1']);
  const page = await newPage(browser, { locale: 'en-GB', timeoutMs: 10_000 });
  // The one error this test provokes on purpose: a wrong passphrase answered with 401.
  const consoleLog = watchConsole(page, (m) => /status of 401/.test(m.text()) && (m.location().url ?? '').endsWith('/api/login'));
  const byTestId = (id: string) => page.getByTestId(id);

  // ---- first start: setup page with client-side checks, recovery key shown once
  await page.goto(box.url);
  await page.waitForURL(/#\/setup$/);
  await byTestId('setup-username').waitFor();
  assert.equal(await byTestId('setup-username').inputValue(), 'admin');
  await byTestId('setup-submit').click();
  assert.equal(await byTestId('setup-error').textContent(), en['err.claimRequired'], 'the claim code is asked for first');
  await byTestId('setup-claim').fill(box.claimCode().toLowerCase());
  await byTestId('setup-passphrase').fill('short');
  await byTestId('setup-repeat').fill('short');
  await byTestId('setup-submit').click();
  assert.equal(await byTestId('setup-error').textContent(), en['err.tooShort']);
  await byTestId('setup-passphrase').fill(PASSPHRASE);
  await byTestId('setup-repeat').fill(`${PASSPHRASE}!`);
  await byTestId('setup-submit').click();
  assert.equal(await byTestId('setup-error').textContent(), en['err.mismatch']);
  await byTestId('setup-repeat').fill(PASSPHRASE);
  await byTestId('setup-submit').click();

  const keyBox = byTestId('recovery-key');
  await keyBox.waitFor({ timeout: 30_000 });
  const recoveryKey = ((await keyBox.textContent()) ?? '').trim();
  assert.match(recoveryKey, /^[A-Z0-9]{2,4}(-[0-9A-Z]{4}){8,}$/, `recovery key looks like a key: ${recoveryKey}`);
  assert.ok(recoveryKey.replaceAll('-', '').length >= 52, 'a recovery key carries at least 256 bits');
  assert.equal(await byTestId('recovery-continue').isDisabled(), true, 'cannot continue before confirming the key is stored');
  await byTestId('recovery-confirm').check();
  await byTestId('recovery-continue').click();
  await page.waitForURL(/#\/dashboard$/);

  // ---- dashboard: line cards fed by the event stream
  const card = byTestId('line-line1');
  const state = byTestId('state-line1');
  await card.waitFor();
  await expectText(page, 'state-line1', en['state.idle']!);
  assert.equal(await byTestId('save-line1').isDisabled(), true, 'nothing to save while idle');
  assert.equal(await page.getByRole('link', { name: en['nav.settings'] }).count(), 1, 'admin sees settings');

  await byTestId('sim-duration-line1').fill(String(SIM_CALL_SEC));
  await byTestId('sim-in-line1').click();
  await expectText(page, 'state-line1', en['state.in-call']!);
  const inCallAt = Date.now();
  assert.equal(await card.getAttribute('data-state'), 'in-call');
  assert.equal(await byTestId('direction-line1').textContent(), en['dir.in']);
  assert.equal(await byTestId('save-line1').isEnabled(), true, 'save is possible during a call');

  await byTestId('save-line1').click();
  await expectText(page, 'state-line1', en['state.keeping']!, 3_000);
  assert.equal(await card.getAttribute('data-state'), 'keeping');
  // The live duration counts up; hang up once the call has run a second (it would end by itself at SIM_CALL_SEC).
  // Under load the call may already have ended by itself; either way it has run at least a second.
  await page.waitForFunction(() => /^0:0[1-9]$/.test(document.querySelector('[data-testid="duration-line1"]')?.textContent ?? '') || document.querySelector('[data-testid="line-line1"]')?.getAttribute('data-state') === 'idle', null, { timeout: 15_000 });
  const hangup = byTestId('sim-hangup-line1');
  // The simulated call ends by itself after SIM_CALL_SEC (the button is then disabled, and a forced
  // click on it does nothing); hanging up an ended call is a no-op on the server too.
  if (await hangup.isEnabled()) await hangup.click({ force: true });
  await expectText(page, 'state-line1', en['state.idle']!, (SIM_CALL_SEC + 5) * 1000);
  const callSeenFor = (Date.now() - inCallAt) / 1000;
  await expectText(page, 'save-line1', en['dash.lastKept']!);
  if (SHOTS) await shoot(page, SHOTS, 'dashboard');

  // ---- calls list: the kept call is there
  await byTestId('nav-calls').click();
  await page.waitForURL(/#\/calls$/);
  const rows = byTestId('call-row');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  const row = rows.first();
  assert.match((await row.textContent()) ?? '', /Line 1/);
  assert.match((await row.textContent()) ?? '', new RegExp(en['dir.in']!));
  const callId = await row.getAttribute('data-call-id');
  assert.ok(callId, 'row carries the call id');
  if (SHOTS) await shoot(page, SHOTS, 'calls');

  // ---- call page: verified, play to the end, duration matches the call
  await row.getByRole('link').click();
  await page.waitForURL(new RegExp(`#/calls/${callId}$`));
  await expectText(page, 'verified-badge', en['call.verified']!);
  const durationMs = Number(await page.locator('dl.meta').getAttribute('data-duration-ms'));
  assert.ok(durationMs > 0, `call duration ${durationMs} ms`);
  const player = byTestId('player');
  assert.equal(await player.getAttribute('preload'), 'none');
  assert.equal(await player.getAttribute('src'), `/api/calls/${callId}/audio.wav`);
  assert.equal(await byTestId('download').getAttribute('href'), `/api/calls/${callId}/audio.wav?download=1`);
  await player.scrollIntoViewIfNeeded();
  const played = await page.evaluate(async () => {
    const a = document.querySelector('[data-testid="player"]') as HTMLAudioElement;
    const ended = new Promise<void>((resolve, reject) => {
      a.addEventListener('ended', () => resolve(), { once: true });
      a.addEventListener('error', () => reject(new Error(`audio error ${a.error?.code}: ${a.error?.message}`)), { once: true });
      setTimeout(() => reject(new Error(`no 'ended' after 20 s (t=${a.currentTime}, d=${a.duration})`)), 20_000);
    });
    await a.play();
    await ended;
    return { duration: a.duration, currentTime: a.currentTime };
  });
  assert.ok(Math.abs(played.duration - durationMs / 1000) < 0.1, `audio ${played.duration} s vs call ${durationMs} ms`);
  assert.ok(played.duration <= SIM_CALL_SEC + 0.1, `audio ${played.duration} s is not longer than the simulated call`);
  assert.ok(played.duration >= 1 && played.duration <= callSeenFor + 0.5, `audio ${played.duration} s within what the dashboard showed (${callSeenFor} s)`);
  assert.ok(played.currentTime >= played.duration - 0.05, 'played to the end');
  const download = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition') };
  }, `/api/calls/${callId}/audio.wav?download=1`);
  assert.equal(download.status, 200);
  assert.match(download.type ?? '', /audio\/(x-)?wav/);
  assert.match(download.disposition ?? '', /attachment/);

  // ---- lock the vault: banner links to the unlock page; the recovery key opens it again
  await byTestId('lock').click();
  await byTestId('locked-banner').waitFor();
  await byTestId('unlock-link').click();
  await page.waitForURL(/#\/unlock$/);
  await byTestId('unlock-secret').fill(recoveryKey);
  await byTestId('unlock-submit').click();
  await byTestId('locked-banner').waitFor({ state: 'detached' });
  await expectText(page, 'lock', en['header.lock']!);

  // ---- a wrong passphrase shows the API's message; the right one logs in
  await byTestId('logout').click();
  await page.waitForURL(/#\/login$/);
  await byTestId('login-username').fill('admin');
  await byTestId('login-passphrase').fill('not the passphrase');
  await byTestId('login-submit').click();
  const loginError = byTestId('login-error');
  await loginError.waitFor();
  assert.ok(((await loginError.textContent()) ?? '').length > 5, 'login error text from the API');
  await byTestId('login-passphrase').fill(PASSPHRASE);
  await byTestId('login-submit').click();
  await page.waitForURL(/#\/dashboard$/);

  // ---- Dutch: toggle in the header, remembered over a reload, dates in nl-NL
  await byTestId('lang-nl').click();
  assert.equal(await page.getAttribute('html', 'lang'), 'nl');
  await expectText(page, 'nav-calls', nl['nav.calls']!);
  await expectText(page, 'state-line2', nl['state.idle']!);
  await expectText(page, 'save-line2', nl['dash.save']!);
  await page.reload();
  await expectText(page, 'nav-calls', nl['nav.calls']!);
  assert.equal(await byTestId('lang-nl').getAttribute('aria-pressed'), 'true');
  await byTestId('nav-calls').click();
  await rows.first().waitFor();
  const dutchRow = (await rows.first().textContent()) ?? '';
  assert.match(dutchRow, new RegExp(nl['dir.in']!), 'direction in Dutch');
  const monthsNl = ['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'];
  assert.ok(monthsNl.some((m) => dutchRow.includes(m)), `date formatted for nl-NL: ${dutchRow}`);
  if (SHOTS) {
    await page.setViewportSize({ width: 375, height: 800 });
    await shoot(page, SHOTS, 'calls-375-nl');
    await byTestId('nav-dashboard').click();
    await byTestId('line-line1').waitFor();
    await shoot(page, SHOTS, 'dashboard-375-nl');
  }

  assert.deepEqual(consoleLog.errors, [], `console errors:\n${consoleLog.all.join('\n')}\nappliance stderr:\n${box.stderr()}`);
});

/** Waits until the element with this test id shows exactly `text` (trimmed). */
async function expectText(page: Page, testId: string, text: string, timeout = 10_000): Promise<void> {
  const sel = `[data-testid="${testId}"]`;
  try {
    await page.waitForFunction(({ sel, text }) => document.querySelector(sel)?.textContent?.trim() === text, { sel, text }, { timeout });
  } catch {
    const got = await page.locator(sel).first().textContent({ timeout: 1000 }).catch(() => '(no element)');
    assert.fail(`${testId}: expected "${text}", got "${got}"`);
  }
}

async function shoot(page: Page, dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}-${page.viewportSize()?.width ?? 0}.png`), fullPage: true });
}
