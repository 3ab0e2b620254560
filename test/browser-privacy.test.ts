// Privacy pages in headless Chromium against the real appliance: legal hold with two managers, a reviewer
// refused a complaint recording, retention and exclusions saved, the recording policy in Dutch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { addUsers, keepSimCall, setUpBox } from './helpers/appliance.ts';
import { applianceWithBrowser, loadDict, logInPage, newPage, watchConsole, type ConsoleLog } from './helpers/browser.ts';

const PASS = 'correct horse battery staple';

test('privacy in the browser: two-manager hold release, reviewer refused, retention saved, policy in Dutch', { timeout: 240_000 }, async (t) => {
  const [en, nl] = await Promise.all([loadDict('en'), loadDict('nl')]);
  const { box, browser } = await applianceWithBrowser(t, 'rv-browser-privacy-', ['--sim-speed', '1']);

  // Users and two kept calls through the API; the pages under test are then driven in the browser.
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['anna', 'manager'], ['bert', 'manager'], ['rik', 'reviewer'], ['sam', 'staff', '201']]);
  const complaint = await keepSimCall(admin, ['complaint'], { caller: '+31201234567', extension: '201' });
  const training = await keepSimCall(admin, ['training'], { caller: '+31207654321', extension: '201' });

  const logs: ConsoleLog[] = [];
  /** A fresh browser context per user (own cookies), logged in through the login page. */
  const as = async (name: string, locale: string, expected: RegExp | null = null): Promise<Page> => {
    const page = await newPage(browser, { locale, timeoutMs: 10_000 });
    // Refusals this test provokes on purpose are logged by Chromium as failed loads; only those are allowed.
    logs.push(watchConsole(page, (m) => !!expected && expected.test(m.text())));
    await logInPage(page, box.url, name, name === 'admin' ? PASS : `${name}-passphrase`);
    return page;
  };

  // ---- manager A places a hold on the complaint recording from its call page
  const anna = await as('anna', 'en-GB', /status of 409/);
  await anna.goto(`${box.url}/#/calls/${complaint}`);
  await anna.getByTestId('call-hold-place').click();
  assert.equal(await anna.getByTestId('call-hold-error').textContent(), en['hold.needText']);
  await anna.getByTestId('call-hold-reason').fill('Customer disputes the agreed price');
  await anna.getByTestId('call-hold-case').fill('Case 2026-041');
  await anna.getByTestId('call-hold-place').click();
  await anna.getByTestId('call-held').waitFor();
  const [apiHold] = (await admin.json('GET', '/api/holds')).holds;
  assert.equal(apiHold.callId, complaint);
  assert.deepEqual((await admin.json('GET', `/api/calls/${complaint}`)).call.holds, [apiHold.id]);
  assert.equal((await admin.request('DELETE', `/api/calls/${complaint}`)).status, 409, 'a held recording cannot be deleted');

  // ---- A proposes the release, then cannot confirm it
  await anna.getByTestId('nav-privacy').click();
  const row = anna.getByTestId(`hold-row-${apiHold.id}`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-status'), 'active');
  assert.match((await row.textContent()) ?? '', /Case 2026-041/);
  await anna.getByTestId(`hold-propose-${apiHold.id}`).click();
  await anna.waitForFunction((id) => document.querySelector(`[data-testid="hold-row-${id}"]`)?.getAttribute('data-status') === 'release-proposed', apiHold.id);
  await anna.getByTestId(`hold-confirm-${apiHold.id}`).click();
  await anna.getByTestId('confirm-ok').click();
  const refusal = anna.getByTestId('holds-error');
  await refusal.waitFor();
  assert.match((await refusal.textContent()) ?? '', /yourself; a second, different manager must confirm/);
  assert.equal(await anna.getByTestId(`hold-row-${apiHold.id}`).getAttribute('data-status'), 'release-proposed');
  assert.deepEqual((await admin.json('GET', `/api/calls/${complaint}`)).call.holds, [apiHold.id], 'still held');

  // ---- manager B confirms
  const bert = await as('bert', 'en-GB');
  await bert.getByTestId('nav-privacy').click();
  await bert.getByTestId(`hold-confirm-${apiHold.id}`).click();
  await bert.getByTestId('confirm-ok').click();
  await bert.waitForFunction((id) => document.querySelector(`[data-testid="hold-row-${id}"]`)?.getAttribute('data-status') === 'released', apiHold.id);
  assert.match((await bert.getByTestId(`hold-status-${apiHold.id}`).textContent()) ?? '', /released by bert/);
  assert.deepEqual((await admin.json('GET', `/api/calls/${complaint}`)).call.holds, []);
  const actions = (await admin.json('GET', '/api/audit?limit=50')).entries.filter((e: any) => e.action.startsWith('hold.')).map((e: any) => `${e.actor} ${e.action}`).reverse();
  assert.deepEqual(actions, ['anna hold.place', 'anna hold.release.propose', 'anna hold.release.refused', 'bert hold.release.confirm']);

  // ---- a reviewer does not see the complaint recording and is refused when opening it
  const rik = await as('rik', 'en-GB', /status of 403/);
  await rik.getByTestId('nav-calls').click();
  await rik.getByTestId('call-row').first().waitFor();
  assert.deepEqual(await rik.getByTestId('call-row').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.callId)), [training]);
  await rik.goto(`${box.url}/#/calls/${complaint}`);
  const callError = rik.getByTestId('call-error');
  await callError.waitFor();
  assert.match((await callError.textContent()) ?? '', /your role \(reviewer\) may only see recordings kept for training, evaluation/);
  assert.equal(await rik.getByTestId('player').count(), 0);
  assert.equal(await rik.getByTestId('nav-privacy').count(), 0, 'no privacy page for reviewers');

  // ---- the administrator saves retention and the exclusion list
  const adm = await as('admin', 'en-GB');
  await adm.getByTestId('nav-privacy').click();
  await adm.getByTestId('ret-days-training').fill('60');
  await adm.getByTestId('ret-legal-years').selectOption('2557');
  await adm.getByTestId('ret-kind-evaluation').selectOption('until-date');
  await adm.getByTestId('ret-date-evaluation').fill('2027-03-31');
  await adm.getByTestId('exclusion-input').fill('abc');
  await adm.getByTestId('exclusion-add').click();
  assert.equal(await adm.getByTestId('privacy-error').textContent(), en['privacy.exclusionBad']);
  await adm.getByTestId('exclusion-input').fill('06 1234 5678');
  await adm.getByTestId('exclusion-add').click();
  await adm.getByTestId('exclusion-0612345678').waitFor();
  await adm.getByTestId('ret-days-complaint').fill('0');
  await adm.getByTestId('privacy-save').click();
  assert.equal(await adm.getByTestId('privacy-error').textContent(), en['ret.badDays']);
  await adm.getByTestId('ret-days-complaint').fill('120');
  await adm.getByTestId('privacy-save').click();
  await adm.locator('.toast', { hasText: en['privacy.saved']! }).waitFor();
  const saved = (await admin.json('GET', '/api/privacy/settings')).settings;
  assert.deepEqual(saved.retention.training, { kind: 'days', days: 60 });
  assert.deepEqual(saved.retention.complaint, { kind: 'days', days: 120 });
  assert.deepEqual(saved.retention['legal-obligation'], { kind: 'days', days: 2557 });
  assert.deepEqual(saved.retention.evaluation, { kind: 'until-date', date: Date.UTC(2027, 2, 31) });
  assert.deepEqual(saved.exclusions, ['0612345678']);
  assert.ok(!JSON.stringify((await admin.json('GET', '/api/audit?limit=20')).entries).includes('0612345678'), 'the audit log counts excluded numbers, it does not write them');
  await adm.reload();
  await adm.getByTestId('ret-days-training').waitFor();
  assert.equal(await adm.getByTestId('ret-days-training').inputValue(), '60');
  assert.equal(await adm.getByTestId('ret-legal-years').inputValue(), '2557');

  // ---- staff: their kept calls and the recording policy, in Dutch, with the saved figures
  const sam = await as('sam', 'nl-NL');
  assert.equal(await sam.getAttribute('html', 'lang'), 'nl');
  await sam.getByTestId('nav-mycalls').click();
  await sam.getByTestId('mycall-row').first().waitFor();
  assert.equal(await sam.getByTestId('mycall-row').count(), 2);
  assert.equal(await sam.getByTestId('nav-privacy').count(), 0);
  await sam.getByTestId('nav-policy').click();
  await sam.waitForFunction(() => document.querySelector('[data-testid="policy-doc"]')?.getAttribute('data-lang') === 'nl');
  assert.equal(await sam.getByTestId('policy-title').textContent(), 'Opnamebeleid');
  assert.equal(await sam.getByTestId('policy-print').textContent(), nl['policy.print']);
  const retention = (await sam.getByTestId('policy-retention').textContent()) ?? '';
  for (const want of ['Hoe lang opnames worden bewaard', 'training60 dagen', 'klachtafhandeling120 dagen', '7 jaar (2557 dagen)', 'tot de volgende beoordelingsdatum (2027-03-31)', 'tot het einde van de overeenkomst of tot vrijgave; elke 92 dagen herbeoordeeld']) {
    assert.ok(retention.includes(want), `policy retention mentions "${want}": ${retention}`);
  }
  const roles = (await sam.getByTestId('policy-roles').textContent()) ?? '';
  assert.match(roles, /Beoordelaartraining, beoordeling/);
  assert.match((await sam.getByTestId('policy-private').textContent()) ?? '', /Eén nummer staat op de uitzonderingslijst/);
  assert.match((await sam.getByTestId('policy-security').textContent()) ?? '', /hooguit 10 minuten per lijn/);
  // Printable: the print stylesheet hides the navigation and keeps the document.
  await sam.emulateMedia({ media: 'print' });
  assert.equal(await sam.locator('#app-header').isVisible(), false);
  assert.equal(await sam.getByTestId('policy-doc').isVisible(), true);

  for (const log of logs) assert.deepEqual(log.errors, [], `console errors:\n${log.all.join('\n')}\nappliance stderr:\n${box.stderr()}`);
});
