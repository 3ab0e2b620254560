import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Archive, type CallHeader, type CallMeta } from '../src/archive/archive.ts';
import { newSortableId } from '../src/archive/ids.ts';
import { sealMeta, wrapDataKey } from '../src/archive/sealing.ts';
import { Catalog } from '../src/calls/catalog.ts';
import { normalizeNumber } from '../src/policy/keep.ts';
import { Vault } from '../src/vault/vault.ts';

/** Calls in the catalog, and distinct customer numbers they are spread over (about 5 calls per number). */
const CALLS = 100_000;
const NUMBERS = 20_000;
const QUERIES = 30;
const WARMUP = 3;
const DAY = 86_400_000;

/** Seeded so every run searches the same catalog. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/**
 * Search latency for one number across 100,000 catalogued calls. The catalog is the real one (Catalog over a
 * real Archive, personal fields sealed per call under a real vault epoch and opened by the real unlock path);
 * only the 100,000 header files are not written: the headers go straight into the archive's in-memory index.
 * Peer: a naive linear scan over plain {caller, called} records in an array, in the same run.
 */
export async function benchSearch(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-search-'));
  try {
    const vault = new Vault(join(dir, 'vault'));
    await vault.init('bench', 'bench passphrase');
    const epoch = await vault.newEpoch();
    const archive = new Archive({ dir: join(dir, 'archive'), vault });
    const index = (archive as unknown as { catalog: Map<string, CallHeader> }).catalog;
    const rnd = prng(6);
    const numbers = Array.from({ length: NUMBERS }, (_, i) => `+316${String(10_000_000 + i * 37).slice(-8)}`);
    const plain: { id: string; caller: string; called: string }[] = [];
    const t0 = Date.UTC(2026, 0, 1);
    const buildStart = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const startedAt = t0 + Math.floor(rnd() * 300 * DAY);
      const customer = numbers[Math.floor(rnd() * NUMBERS)]!;
      const inbound = rnd() < 0.5;
      // Stored as the line reported it: national or international notation, as a real mix would be.
      const shown = rnd() < 0.5 ? customer : `0${customer.slice(3)}`;
      const meta: CallMeta = { direction: inbound ? 'in' : 'out', caller: inbound ? shown : '+31201234500', called: inbound ? '+31201234500' : shown, extension: String(200 + (i % 20)) };
      const dataKey = new Uint8Array(randomBytes(32));
      const id = newSortableId(startedAt);
      const h: CallHeader = {
        v: 1, id, line: 'line1', startedAt, endedAt: startedAt + 60_000, durationMs: 60_000, samples: 480_000, channels: 2, sampleRate: 8000, chunks: 60,
        purposes: ['training'], keptBy: 'sample', keptAt: startedAt + 60_000, clockSynced: true, holds: [], restricted: false,
        epoch: epoch.id, ...wrapDataKey(dataKey, epoch.sharedKey), metaSealed: sealMeta(meta, dataKey), audioSha256: '0'.repeat(64), signature: '',
      };
      index.set(id, h);
      plain.push({ id, caller: String(meta.caller), called: String(meta.called) });
    }
    const sealMs = performance.now() - buildStart;
    await vault.unlock('bench passphrase');
    const catalog = new Catalog(archive);
    const unlockStart = performance.now();
    await catalog.unlock();
    const unlockMs = performance.now() - unlockStart;

    const queries = Array.from({ length: QUERIES + WARMUP }, () => {
      const n = numbers[Math.floor(rnd() * NUMBERS)]!;
      return rnd() < 0.5 ? n : `0${n.slice(3)}`;
    });
    const timeEach = (fn: (q: string) => number): { ms: number[]; hits: number } => {
      const ms: number[] = [];
      let hits = 0;
      queries.forEach((q, i) => {
        const s = performance.now();
        const n = fn(q);
        const e = performance.now() - s;
        if (i >= WARMUP) { ms.push(e); hits += n; }
      });
      return { ms, hits };
    };
    const cat = timeEach((q) => catalog.search({ number: q }).length);
    const naive = timeEach((q) => {
      const want = normalizeNumber(q);
      let n = 0;
      for (const r of plain) if (normalizeNumber(r.caller) === want || normalizeNumber(r.called) === want) n++;
      return n;
    });
    if (cat.hits !== naive.hits) throw new Error(`catalog found ${cat.hits} calls, the naive scan ${naive.hits}: the search is wrong`);

    const f = (x: number) => x.toFixed(1);
    const rows: [string, string, string][] = [
      ['measurement', 'p50 ms', 'p99 ms'],
      ['Catalog.search({ number })', f(pct(cat.ms, 50)), f(pct(cat.ms, 99))],
      ['naive scan of plain records', f(pct(naive.ms, 50)), f(pct(naive.ms, 99))],
      ['catalog / naive', `${(pct(cat.ms, 50) / pct(naive.ms, 50)).toFixed(2)}×`, `${(pct(cat.ms, 99) / pct(naive.ms, 99)).toFixed(2)}×`],
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`search: one number across ${CALLS.toLocaleString('en')} kept calls (${NUMBERS.toLocaleString('en')} numbers, ${(cat.hits / QUERIES).toFixed(1)} hits per query), ${QUERIES} queries`);
    for (const r of rows) console.log(`  ${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}`);
    console.log(`  building it: sealing ${CALLS.toLocaleString('en')} metas ${f(sealMs)} ms (done once, at keep time); unlock opens them all in ${f(unlockMs)} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchSearch();
}
