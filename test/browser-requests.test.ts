// The data-subject request register in headless Chromium against the real appliance, in Dutch:
// an overdue request counted on the dashboard, a new access request with its deadline, the export
// with progress, and the downloaded bundle checked by unzip and verify-export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { keepSimCall, setUpBox } from './helpers/appliance.ts';
import { applianceWithBrowser, loadDict, logInPage, newPage, watchConsole } from './helpers/browser.ts';
import { verifyExport } from '../src/export/verify.ts';

const PASS = 'correct horse battery staple';
const CUSTOMER = '+31612345678';
const DAY = 86_400_000;

const day = (t: number) => new Date(t).toISOString().slice(0, 10);
const nlDay = (d: string) => new Intl.DateTimeFormat('nl-NL', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${d}T00:00:00Z`));

test('request register in the browser (Dutch): overdue on the dashboard, new access request with deadline, export progress, download verifies', { timeout: 240_000 }, async (t) => {
  const nl = await loadDict('nl');
  const { box, dataDir, browser } = await applianceWithBrowser(t, 'rv-browser-requests-', ['--sim-speed', '4']);
  const admin = await setUpBox(box.url, 'admin', PASS);
  await admin.json('POST', '/api/users', { username: 'mia', passphrase: 'mia-passphrase', role: 'manager' });
  const mine = [await keepSimCall(admin, ['complaint'], { caller: CUSTOMER }), await keepSimCall(admin, ['complaint'], { caller: '0612345678' })];
  const other = await keepSimCall(admin, ['complaint'], { caller: '+31201112233' });
  // A request that came in 40 days ago and is still open: overdue.
  const old = (await admin.json('POST', '/api/requests', { kind: 'erasure', received: day(Date.now() - 40 * DAY), numbers: ['+31209998877'] })).request;

  const page = await newPage(browser, { locale: 'nl-NL', timeoutMs: 15_000, acceptDownloads: true });
  const log = watchConsole(page);
  await logInPage(page, box.url, 'mia', 'mia-passphrase');

  // ---- the dashboard counts the overdue request, in Dutch
  const notice = page.getByTestId('requests-overdue');
  await notice.waitFor();
  assert.match((await notice.textContent()) ?? '', new RegExp(nl['dash.overdueRequests']!.replace('{n}', '1').replace(/[()]/g, '\\$&')));
  assert.equal(await page.getByTestId('nav-requests').textContent(), nl['nav.requests']);

  // ---- the register: Dutch labels, the overdue row marked
  await page.getByTestId('nav-requests').click();
  await page.waitForURL(/#\/requests$/);
  assert.equal(await page.locator('h1').textContent(), nl['req.title']);
  assert.equal(await page.getByTestId(`overdue-${old.id}`).textContent(), nl['req.overdue']);
  assert.equal(await page.getByTestId(`status-${old.id}`).textContent(), nl['req.status.open']);
  const headers = await page.locator('[data-testid="requests-table"] th').allTextContents();
  assert.deepEqual(headers, ['req.id', 'req.kind', 'req.subject', 'req.received', 'req.deadline', 'req.status', 'req.actions'].map((k) => nl[k]));

  // ---- a new access request; the form says the deadline before it is sent
  const received = day(Date.now() - 3 * DAY);
  const [y, m, d] = received.split('-').map(Number) as [number, number, number];
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const deadline = day(Date.UTC(y, m, Math.min(d, last)));
  await page.getByTestId('req-kind').selectOption('access');
  await page.getByTestId('req-create').click();
  assert.equal(await page.getByTestId('req-error').textContent(), nl['req.err.subject'], 'no subject: refused in the page');
  await page.getByTestId('req-numbers').fill('06 12345678');
  await page.getByTestId('req-name').fill('Mevr. Jansen');
  await page.getByTestId('req-received').fill(received);
  await page.getByTestId('req-received').dispatchEvent('change');
  assert.equal(await page.getByTestId('req-deadline-hint').textContent(), nl['req.deadlineHint']!.replace('{date}', nlDay(deadline)));
  await page.getByTestId('req-create').click();
  const created = await admin.until(async () => (await admin.json('GET', '/api/requests')).requests.find((r: any) => r.kind === 'access'), 'the access request');
  assert.equal(created.deadline, deadline);
  assert.equal(created.personal.name, 'Mevr. Jansen');
  await page.getByTestId(`deadline-${created.id}`).waitFor();
  assert.equal(await page.getByTestId(`deadline-${created.id}`).textContent(), nlDay(deadline));
  const row = page.locator(`tr[data-id="${created.id}"]`);
  assert.match((await row.textContent()) ?? '', /Mevr\. Jansen · 06 12345678/);
  assert.equal(await page.getByTestId(`overdue-${created.id}`).count(), 0, 'a request received 3 days ago is not overdue');

  // ---- run it: progress, then the download
  await page.getByTestId(`lang-${created.id}`).selectOption('nl');
  await page.getByTestId(`act-${created.id}`).click();
  await page.getByTestId(`progress-${created.id}`).waitFor();
  const link = page.getByTestId(`download-${created.id}`);
  await link.waitFor({ timeout: 60_000 });
  assert.equal(await link.textContent(), nl['req.download']);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const zip = join(dataDir, '..', `rv-browser-requests-${created.id}.zip`);
  t.after(() => rm(zip, { force: true }));
  await download.saveAs(zip);
  assert.equal(download.suggestedFilename(), `ringvault-${created.id}.zip`);
  const unzip = spawnSync('unzip', ['-t', zip], { encoding: 'utf8' });
  assert.equal(unzip.status, 0, unzip.stdout + unzip.stderr);
  const v = await verifyExport(zip);
  assert.deepEqual(v.problems, []);
  assert.equal(v.calls, 2);
  const listing = spawnSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).stdout;
  for (const id of mine) assert.ok(listing.includes(`recordings/${id}.wav`), `${id} exported`);
  assert.ok(!listing.includes(other), 'another person\'s call is not in the bundle');
  const readme = spawnSync('unzip', ['-p', zip, 'README.txt'], { encoding: 'utf8' }).stdout;
  assert.match(readme, /Controleren/, 'README in Dutch, as chosen');

  await page.waitForFunction((id) => document.querySelector(`[data-testid="status-${id}"]`)?.textContent !== null &&
    document.querySelector(`[data-testid="status-${id}"]`)?.textContent === 'Afgehandeld', created.id);
  assert.equal(await page.getByTestId(`status-${created.id}`).textContent(), nl['req.status.done']);
  const results = await page.getByTestId(`results-${created.id}`).textContent();
  for (const id of mine) assert.ok(results?.includes(id));
  assert.match(results ?? '', new RegExp(nl['req.result.exported']!));
  // The manager writes the answer down as the outcome.
  await page.getByTestId(`outcome-edit-${created.id}`).click();
  await page.getByTestId(`outcome-text-${created.id}`).fill('Bundel op usb-stick overhandigd aan mevrouw Jansen.');
  await page.getByTestId(`outcome-save-${created.id}`).click();
  await page.getByTestId(`outcome-${created.id}`).waitFor();
  assert.equal(await page.getByTestId(`outcome-${created.id}`).textContent(), `${nl['req.outcome']}: Bundel op usb-stick overhandigd aan mevrouw Jansen.`);
  assert.equal((await admin.json('GET', `/api/requests/${created.id}`)).request.personal.outcome, 'Bundel op usb-stick overhandigd aan mevrouw Jansen.');
  const audit = (await admin.json('GET', '/api/audit?limit=200')).entries;
  assert.ok(audit.some((e: any) => e.action === 'export.download' && e.actor === 'mia' && e.target === created.id), 'the download is audited');
  assert.deepEqual(log.errors, []);
});
