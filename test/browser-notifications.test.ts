// The Notifications page in headless Chromium against the real appliance: an administrator sets a
// webhook, presses "send test" and sees it succeed (the signed test alert arrives at a real HTTP
// listener); a wrong address shows the sentence saying what to fix; the saved secret is never shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setUpBox } from './helpers/appliance.ts';
import { applianceWithBrowser, loadDict, logInPage, newPage, watchConsole } from './helpers/browser.ts';
import { closedPort, webhookPeer } from './helpers/alert-peers.ts';
import { until } from './helpers/until.ts';

const PASS = 'correct horse battery staple';
const SECRET = 'browser-test-webhook-secret-42';

test('Notifications page (English, then Dutch): set a webhook, send a test, see success; a dead address is explained', { timeout: 180_000 }, async (t) => {
  const en = await loadDict('en');
  const nl = await loadDict('nl');
  const hook = await webhookPeer(SECRET);
  t.after(() => hook.close());
  const { box, browser } = await applianceWithBrowser(t, 'rv-browser-notify-', []);
  const admin = await setUpBox(box.url, 'admin', PASS);
  await admin.json('POST', '/api/users', { username: 'mia', passphrase: 'mia-passphrase', role: 'manager' });

  const page = await newPage(browser, { locale: 'en-GB', timeoutMs: 20_000 });
  const log = watchConsole(page, (m) => /Failed to load resource/.test(m.text()));
  await logInPage(page, box.url, 'admin', PASS);
  await page.getByTestId('nav-notifications').click();
  await page.waitForURL(/#\/notifications$/);
  assert.equal(await page.locator('h1').textContent(), en['notify.title']);

  // A dead address first: the test says what to fix.
  const dead = await closedPort();
  await page.getByTestId('notify-webhook-url').fill(`http://127.0.0.1:${dead}/hook`);
  await page.getByTestId('notify-webhook-secret').fill(SECRET);
  await page.getByTestId('notify-test-webhook').click();
  const result = page.getByTestId('notify-test-result-webhook');
  await until(async () => /failed/.test((await result.textContent()) ?? ''), 'the failure sentence');
  assert.match((await result.textContent())!, new RegExp(`Nothing answers at 127.0.0.1:${dead} \\(connection refused\\)`));

  // The real listener: the test succeeds and the signed test alert arrived.
  await page.getByTestId('notify-webhook-url').fill(hook.url);
  await page.getByTestId('notify-test-webhook').click();
  await until(async () => (await result.textContent()) === en['notify.testOk'], 'the success line');
  assert.equal(hook.hooks.length, 1);
  assert.equal(hook.hooks[0]!.signatureOk, true);
  assert.equal(hook.hooks[0]!.json.alerts[0].kind, 'test');

  // Save with the webhook on; the secret field is emptied and says one is stored.
  await page.getByTestId('notify-webhook-enabled').check();
  await page.getByTestId('notify-save').click();
  await until(async () => (await admin.json('GET', '/api/notifications')).settings.webhook.enabled === true, 'the settings saved');
  const saved = await admin.json('GET', '/api/notifications');
  assert.equal(saved.settings.webhook.url, hook.url);
  assert.equal(saved.settings.webhook.secretSet, true);
  assert.equal(JSON.stringify(saved).includes(SECRET), false, 'the API never returns the secret');

  // Reloaded in Dutch: Dutch labels, no secret in the page, and the stored secret still signs a test.
  await page.getByTestId('lang-nl').click();
  await page.reload();
  await page.waitForURL(/#\/notifications$/);
  await until(async () => (await page.locator('h1').textContent()) === nl['notify.title'], 'Dutch title');
  assert.equal(await page.getByTestId('notify-webhook-secret').getAttribute('placeholder'), nl['notify.secretSet']);
  assert.equal(await page.getByTestId('notify-webhook-secret').inputValue(), '');
  assert.equal((await page.content()).includes(SECRET), false);
  await page.getByTestId('notify-test-webhook').click();
  await until(async () => (await page.getByTestId('notify-test-result-webhook').textContent()) === nl['notify.testOk'], 'Dutch success line');
  assert.equal(hook.hooks.length, 2);
  assert.equal(hook.hooks[1]!.signatureOk, true, 'the stored secret signed it');

  // The webhook goes away while a line fails: the page says the alert waits, and why.
  const cur = (await admin.json('GET', '/api/notifications')).settings;
  const strip = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => !k.endsWith('Set')));
  await admin.json('PUT', '/api/notifications', { ...cur, startupGraceSeconds: 0, email: strip(cur.email), webhook: strip(cur.webhook), mqtt: strip(cur.mqtt) });
  await hook.close();
  await admin.json('POST', '/api/sim/lines/line1/fault', { fault: true });
  await until(async () => (await admin.json('GET', '/api/notifications')).status.webhook.failing, 'the webhook failing', 30_000);
  await page.reload();
  const failing = page.getByTestId('notify-failing');
  await failing.waitFor();
  assert.match((await failing.textContent())!, /^1 melding\(en\) wachten op dit kanaal: Nothing answers at 127\.0\.0\.1:\d+ \(connection refused\)/);

  // A manager has no Notifications page.
  const mgr = await newPage(browser, { locale: 'en-GB', timeoutMs: 20_000 });
  await logInPage(mgr, box.url, 'mia', 'mia-passphrase');
  assert.equal(await mgr.getByTestId('nav-notifications').count(), 0);
  await mgr.goto(`${box.url}/#/notifications`);
  await until(async () => (await mgr.locator('h1').textContent()) === en['common.forbidden'], 'forbidden for a manager');
  assert.deepEqual(log.errors, []);
});
