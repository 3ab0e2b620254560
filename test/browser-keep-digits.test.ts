// Keyed digits in the browser: the settings page turns keepDigits on for one line (and saving again keeps it), a
// reviewer's call page shows masked digits as a count, kept digits as digits, and a staff member's call page shows
// neither digits nor the other party's number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addUsers, keepSimCall, setUpBox } from './helpers/appliance.ts';
import { applianceWithBrowser, loadDict, logInPage, newPage, watchConsole } from './helpers/browser.ts';

const PASS = 'correct horse battery staple';
const CUSTOMER = '+31201234567';

test('keepDigits per line on the settings page; the call page masks digits and hides numbers from staff', { timeout: 240_000 }, async (t) => {
  const en = await loadDict('en');
  const { box, browser } = await applianceWithBrowser(t, 'rv-browser-digits-', ['--sim-speed', '1']);
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['rik', 'reviewer'], ['sam', 'staff', '201']]);
  const masked = await keepSimCall(admin, ['training'], { caller: CUSTOMER, extension: '201', digits: '4929', durationSec: 3 });

  const page = await newPage(browser, { locale: 'en-GB', timeoutMs: 10_000 });
  const log = watchConsole(page);
  await logInPage(page, box.url, 'admin', PASS);
  await page.goto(`${box.url}/#/settings`);
  const box1 = page.getByTestId('settings-keep-digits-line1');
  await box1.waitFor();
  assert.equal(await box1.isChecked(), false, 'off by default');
  await box1.check();
  await page.getByTestId('settings-save').click();
  await admin.until(async () => (await admin.json('GET', '/api/settings')).settings.lines.find((l: any) => l.id === 'line1').keepDigits === true, 'keepDigits saved');
  // Reloaded, the box shows the stored value, and saving the page again does not turn it off.
  await page.goto(`${box.url}/#/dashboard`);
  await page.goto(`${box.url}/#/settings`);
  await page.getByTestId('settings-keep-digits-line1').waitFor();
  assert.equal(await page.getByTestId('settings-keep-digits-line1').isChecked(), true);
  assert.equal(await page.getByTestId('settings-keep-digits-line2').isChecked(), false);
  await page.getByTestId('settings-save').click();
  await page.getByText(en['settings.saved']!).first().waitFor();
  const lines = (await admin.json('GET', '/api/settings')).settings.lines;
  assert.deepEqual(lines.map((l: any) => [l.id, l.keepDigits]), [['line1', true], ['line2', false]]);
  const kept = await keepSimCall(admin, ['training'], { caller: CUSTOMER, extension: '201', digits: '8041', durationSec: 3 });

  const rik = await newPage(browser, { locale: 'en-GB', timeoutMs: 10_000 });
  const rikLog = watchConsole(rik);
  await logInPage(rik, box.url, 'rik', 'rik-passphrase');
  await rik.goto(`${box.url}/#/calls/${masked}`);
  const keyed = rik.getByTestId('call-keyed');
  await keyed.waitFor();
  assert.match((await keyed.textContent()) ?? '', /^4 digits keyed, not stored \(at /);
  await rik.goto(`${box.url}/#/calls/${kept}`);
  await rik.getByTestId('call-keyed').filter({ hasText: '8041' }).waitFor();

  const sam = await newPage(browser, { locale: 'en-GB', timeoutMs: 10_000 });
  const samLog = watchConsole(sam);
  await logInPage(sam, box.url, 'sam', 'sam-passphrase');
  await sam.goto(`${box.url}/#/calls/${kept}`);
  await sam.getByTestId('call-started').waitFor();
  const text = (await sam.locator('main').textContent()) ?? '';
  assert.ok(!text.includes('8041') && !text.includes('1234567'), 'no digits and no number on the staff page');
  assert.equal(await sam.getByTestId('call-keyed').count(), 0);
  await sam.goto(`${box.url}/#/calls`);
  await sam.getByTestId('call-row').first().waitFor();
  assert.equal(await sam.getByTestId('filter-number').count(), 0, 'no number filter for staff');
  assert.ok(!((await sam.locator('main').textContent()) ?? '').includes('1234567'));
  for (const l of [log, rikLog, samLog]) assert.deepEqual(l.errors, [], l.all.join('\n'));
});
