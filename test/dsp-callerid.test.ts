import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeFskCallerId, parseCallerId, type CallerId } from '../src/dsp/callerid.ts';
import { demodulateFsk } from '../src/dsp/fsk.ts';
import { isRvError } from '../src/errors.ts';
import { encodeWav } from '../src/audio/wav.ts';
import { frameMessage, fskSignal, mdmf, type FskGenOpts } from './helpers/fsk-gen.ts';
import { rng } from './helpers/tones.ts';

const FULL = mdmf({ dateTime: '11231105', number: '0612345678', name: 'J JANSEN' });
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

const has = (tool: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-cid-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const PARSE_CASES: Array<{ name: string; bytes: Uint8Array; want: CallerId }> = [
  {
    name: 'MDMF number + name + date',
    bytes: FULL,
    want: { format: 'MDMF', checksumOk: true, dateTime: '11231105', number: '0612345678', name: 'J JANSEN' },
  },
  {
    name: 'MDMF withheld number and name',
    bytes: mdmf({ dateTime: '01010000', numberAbsent: 'P', nameAbsent: 'P' }),
    want: { format: 'MDMF', checksumOk: true, dateTime: '01010000', numberAbsent: 'withheld', nameAbsent: 'withheld' },
  },
  {
    name: 'MDMF unavailable number',
    bytes: mdmf({ numberAbsent: 'O' }),
    want: { format: 'MDMF', checksumOk: true, numberAbsent: 'unavailable' },
  },
  {
    name: 'MDMF number, name unavailable',
    bytes: mdmf({ number: '+31201234567', nameAbsent: 'O' }),
    want: { format: 'MDMF', checksumOk: true, number: '+31201234567', nameAbsent: 'unavailable' },
  },
  {
    name: 'SDMF date + number',
    bytes: frameMessage(0x04, ascii('122509300201234567')),
    want: { format: 'SDMF', checksumOk: true, dateTime: '12250930', number: '0201234567' },
  },
  {
    name: 'SDMF withheld',
    bytes: frameMessage(0x04, ascii('12250930P')),
    want: { format: 'SDMF', checksumOk: true, dateTime: '12250930', numberAbsent: 'withheld' },
  },
  {
    name: 'bad checksum is flagged, fields still parsed',
    bytes: Uint8Array.from(FULL, (b, i) => (i === FULL.length - 1 ? (b + 1) & 0xff : b)),
    want: { format: 'MDMF', checksumOk: false, dateTime: '11231105', number: '0612345678', name: 'J JANSEN' },
  },
  {
    name: 'truncated inside the name',
    bytes: FULL.subarray(0, FULL.length - 4),
    want: { format: 'MDMF', checksumOk: false, dateTime: '11231105', number: '0612345678', name: 'J JAN' },
  },
  {
    name: 'truncated after the type byte',
    bytes: FULL.subarray(0, 1),
    want: { format: 'MDMF', checksumOk: false },
  },
];

for (const c of PARSE_CASES) {
  test(`parseCallerId: ${c.name}`, () => {
    assert.deepEqual(parseCallerId(c.bytes), c.want);
  });
}

test('parseCallerId rejects a non-caller-ID type with an RvError', () => {
  assert.throws(() => parseCallerId(Uint8Array.of(0x55, 0)), (e) => isRvError(e) && e.code === 'RV_ERR_CALLERID_TYPE');
  assert.throws(() => parseCallerId(new Uint8Array()), isRvError);
});

test('generated checksum makes all bytes sum to 0 mod 256', () => {
  assert.equal(FULL.reduce((a, b) => a + b, 0) % 256, 0);
});

test('demodulator recovers the raw 8N1 bytes of a burst', () => {
  const chars = demodulateFsk(fskSignal(FULL, { seizureBits: 0 }));
  assert.deepEqual(Uint8Array.from(chars.map((c) => c.byte)), FULL);
});

test('decodes MDMF, SDMF and withheld bursts with their start time', () => {
  for (const [bytes, number] of [
    [FULL, '0612345678'],
    [frameMessage(0x04, ascii('122509300201234567')), '0201234567'],
    [mdmf({ numberAbsent: 'P' }), undefined],
  ] as const) {
    // fractional leads so bit timing is not aligned to samples by luck
    for (const leadMs of [200, 200.05, 200.1, 200.17]) {
      const got = decodeFskCallerId(fskSignal(bytes, { leadMs }));
      assert.equal(got.length, 1, `lead ${leadMs}`);
      assert.equal(got[0].checksumOk, true);
      assert.equal(got[0].number, number);
      // message type byte follows lead + 300 seizure + 180 mark bits
      assert.ok(Math.abs(got[0].startMs - (leadMs + (480 * 1000) / 1200)) < 1, `startMs ${got[0].startMs}`);
    }
  }
});

test('decodes short seizure/mark (liberal framing) and two bursts in one stream', () => {
  const a = fskSignal(FULL, { seizureBits: 30, markBits: 20 });
  const b = fskSignal(mdmf({ number: '0101' }), { standard: 'v23', levelDbm0: -30 });
  const both = new Int16Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const got = decodeFskCallerId(both);
  assert.deepEqual(got.map((g) => g.number), ['0612345678', '0101']);
});

test('Bell 202 option decodes Bell 202; both share the 1700 Hz centre so either setting reads either', () => {
  assert.equal(decodeFskCallerId(fskSignal(FULL, { standard: 'bell202' }), { standard: 'bell202' })[0]?.number, '0612345678');
  assert.equal(decodeFskCallerId(fskSignal(FULL), { standard: 'bell202' })[0]?.number, '0612345678');
  assert.equal(decodeFskCallerId(fskSignal(FULL, { standard: 'bell202' }))[0]?.number, '0612345678');
});

test('tolerates ±1.5 % tone frequency and ±1.5 % bit-rate error (V.23 allows ±1 %)', () => {
  for (const standard of ['v23', 'bell202'] as const) {
    for (const freqOffset of [-0.015, 0, 0.015]) for (const baudOffset of [-0.015, 0, 0.015]) {
      const got = decodeFskCallerId(fskSignal(FULL, { standard, freqOffset, baudOffset, snrDb: 20 }), { standard });
      assert.equal(got[0]?.number, '0612345678', `${standard} f${freqOffset} b${baudOffset}`);
      assert.equal(got[0]?.checksumOk, true);
    }
  }
});

test('a corrupted byte on the line gives checksumOk false, never a throw', () => {
  const bad = Uint8Array.from(FULL);
  bad[10] ^= 0x04;
  const got = decodeFskCallerId(fskSignal(bad));
  assert.equal(got.length, 1);
  assert.equal(got[0].checksumOk, false);
});

test('noise, silence and truncated bursts never throw or yield a valid message', () => {
  const rand = rng(7);
  const noise = Int16Array.from({ length: 16000 }, () => Math.round((rand() - 0.5) * 20000));
  assert.deepEqual(decodeFskCallerId(noise).filter((g) => g.checksumOk), []);
  assert.deepEqual(decodeFskCallerId(new Int16Array(8000)), []);
  assert.deepEqual(decodeFskCallerId(new Int16Array(0)), []);
  const burst = fskSignal(FULL, { leadMs: 0 });
  for (const cut of [100, 2000, 4000, burst.length - 200]) {
    const got = decodeFskCallerId(burst.subarray(0, cut));
    assert.ok(got.every((g) => !g.checksumOk), `cut ${cut}`);
  }
});

interface Sweep { levels: number[]; snrs: Array<number | undefined>; seeds: number }
const SWEEP: Sweep = { levels: [-5, -20, -35], snrs: [undefined, 25, 15, 10], seeds: 6 };
/** Below the required range: only totals are compared, as single bursts may go either way. */
const STRESS: Sweep = { levels: [-20], snrs: [6], seeds: 12 };

/** Runs a sweep and returns [ours, oracle] totals; `oracle` is true when the external tool found the number. */
function sweep(t: TestContext, std: 'v23' | 'bell202', sw: Sweep, strict: boolean, oracle: (file: string) => boolean): [number, number] {
  const dir = tmpDir(t);
  const rows: string[] = [];
  const misses: string[] = [];
  let total: [number, number] = [0, 0];
  for (const levelDbm0 of sw.levels) for (const snrDb of sw.snrs) for (const alaw of [false, true]) {
    let ours = 0;
    let theirs = 0;
    const SEEDS = sw.seeds;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const opts: FskGenOpts = { standard: std, levelDbm0, snrDb, alaw, seed, leadMs: 200 + seed / 16 };
      const pcm = fskSignal(FULL, opts);
      const file = path.join(dir, `${std}_${levelDbm0}_${snrDb ?? 'none'}_${alaw}_${seed}.wav`);
      fs.writeFileSync(file, encodeWav(pcm, 1, 8000));
      const got = decodeFskCallerId(pcm, { standard: std });
      const ok = got.length === 1 && got[0].checksumOk && got[0].number === '0612345678';
      const ref = oracle(file);
      ours += +ok;
      theirs += +ref;
      if (ref && !ok) misses.push(path.basename(file));
    }
    total = [total[0] + ours, total[1] + theirs];
    rows.push(`${std.padEnd(7)} ${String(levelDbm0).padStart(4)} dBm0  SNR ${String(snrDb ?? 'none').padStart(4)}  ${alaw ? 'A-law' : 'linear'}  ours ${ours}/${SEEDS}  oracle ${theirs}/${SEEDS}`);
  }
  console.log(rows.join('\n'));
  if (strict) assert.deepEqual(misses, [], 'ours must decode wherever the oracle does');
  return total;
}

const multimon = (file: string): boolean => {
  // prints e.g. "CLIPFSK: CS DATE=11231105 CID=0612345678 CNT=J JANSEN"
  const out = execFileSync('multimon-ng', ['-q', '-a', 'CLIPFSK', '-t', 'wav', file], { encoding: 'utf8' });
  return /CID=0612345678\b/.test(out);
};

const minimodem = (file: string): boolean => {
  // prints "Phone: 061-234-5678" (NANP-style dashes) for a decoded MDMF message
  const out = execFileSync('minimodem', ['--rx', '-q', '-f', file, 'callerid'], { encoding: 'utf8' });
  return out.replace(/-/g, '').includes('Phone: 0612345678');
};

test('V.23 sweep against multimon-ng CLIPFSK', { skip: !has('multimon-ng') && 'multimon-ng not installed' }, (t) => {
  sweep(t, 'v23', SWEEP, true, multimon);
});

test('V.23 at 6 dB SNR decodes at least as many bursts as multimon-ng', { skip: !has('multimon-ng') && 'multimon-ng not installed' }, (t) => {
  const [ours, theirs] = sweep(t, 'v23', STRESS, false, multimon);
  assert.ok(ours >= theirs, `ours ${ours} < multimon ${theirs}`);
});

test('Bell 202 sweep against minimodem callerid', { skip: !has('minimodem') && 'minimodem not installed' }, (t) => {
  sweep(t, 'bell202', SWEEP, true, minimodem);
});

test('Bell 202 at 6 dB SNR decodes at least as many bursts as minimodem', { skip: !has('minimodem') && 'minimodem not installed' }, (t) => {
  const [ours, theirs] = sweep(t, 'bell202', STRESS, false, minimodem);
  assert.ok(ours >= theirs, `ours ${ours} < minimodem ${theirs}`);
});
