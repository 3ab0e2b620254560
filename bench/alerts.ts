import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Box } from '../src/box.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import { newDelivery, webhookBody } from '../src/alerts/payload.ts';
import { postWebhook } from '../src/alerts/webhook.ts';
import { webhookPeer, type Hook } from '../test/helpers/alert-peers.ts';
import { ROOT } from '../test/helpers/appliance.ts';

const ROUNDS = 200;
const SECRET = 'bench-webhook-secret-0123456789';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

/**
 * Alert latency: a line's audio source lost (sim fault) → the signed alert received by a real HTTP
 * listener, through health, deduplication (back-off off so every fault is sent) and the outbox.
 * Peer: a bare signed POST of the same body to the same listener, the transport floor.
 */
export async function benchAlerts(): Promise<void> {
  const hook = await webhookPeer(SECRET);
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-bench-alerts-'));
  const config = parseConfig({
    dataDir, board: { driver: 'none' }, lines: [{ id: 'line1', name: 'Line 1', keep: 'on-demand' }],
    notifications: { startupGraceSeconds: 0, backoffSeconds: 0, webhook: { enabled: true, url: hook.url, secret: SECRET } },
  }, 'bench');
  const box = await Box.open({ config, log: silentLog, clock: { now: () => Date.now(), synced: () => true }, speechDir: join(ROOT, 'assets/speech') });
  await box.setup('admin', 'correct horse battery staple');
  const next = (state: string) => new Promise<Hook>((resolve) => {
    hook.onHook = (h) => { if (h.json.alerts.some((a: { state: string; key: string }) => a.state === state && a.key === 'line.source-lost:line1')) resolve(h); };
  });
  // Wait for the setup's own alerts to settle before measuring.
  await new Promise((r) => setTimeout(r, 500));
  const raise: number[] = [];
  const recover: number[] = [];
  for (let i = 0; i < ROUNDS + 10; i++) {
    let got = next('raised');
    let t0 = performance.now();
    box.sim!.setFault('line1', true);
    await got;
    const a = performance.now() - t0;
    got = next('recovered');
    t0 = performance.now();
    box.sim!.setFault('line1', false);
    await got;
    if (i >= 10) { raise.push(a); recover.push(performance.now() - t0); }
  }
  const floor: number[] = [];
  const s = box.notifications().webhook;
  for (let i = 0; i < ROUNDS; i++) {
    const d = newDelivery([{ key: 'x', kind: 'test', state: 'test', params: {}, at: Date.now() }], Date.now());
    const ts = Math.floor(Date.now() / 1000);
    const t0 = performance.now();
    await postWebhook(s, webhookBody(d, 'bench', 'en', ts, 0), ts, d.id);
    floor.push(performance.now() - t0);
  }
  await box.close();
  await hook.close();
  await rm(dataDir, { recursive: true, force: true });
  console.log(`alert latency, fault → signed webhook received (${ROUNDS} faults, real HTTP listener):`);
  console.log(`  source lost → alert     ${fmt(raise)}`);
  console.log(`  recovered → alert       ${fmt(recover)}`);
  console.log(`  bare signed POST (peer) ${fmt(floor)}   (the rest is the 50 ms debounce that makes a burst one alert)`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await benchAlerts();
