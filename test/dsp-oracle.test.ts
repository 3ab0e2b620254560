import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeFskCallerId } from '../src/dsp/callerid.ts';
import { detectDtmf } from '../src/dsp/dtmf.ts';
import { analyze } from '../src/analyze/analyze.ts';
import { readWav, encodeWav } from '../src/audio/wav.ts';
import { addNoise, alawRoundTrip, peakOfDbm0, rng, toInt16 } from './helpers/tones.ts';
import { burstBits, mdmf } from './helpers/fsk-gen.ts';
import { makeLineRecording, type CidFormat } from './helpers/line-recording.ts';

/**
 * Decoder accuracy against independent decoders, on top of what dsp-dtmf and dsp-callerid already
 * sweep (DTMF levels × twist × noise × A-law; FSK levels × noise × A-law on bare bursts):
 * - FSK caller ID with mark/space twist (±6 dB, as line slope gives), V.23 vs multimon-ng CLIPFSK and
 *   Bell 202 vs minimodem, over levels, noise and A-law;
 * - caller ID inside whole line recordings (ring, speech, busy) through `analyze`, against the
 *   oracle on the same file, over levels, noise and A-law;
 * - no false DTMF digit in 10 minutes of espeak-ng speech (several voices, pitches and speeds).
 * Every rate is printed as a table and attached with t.diagnostic.
 */

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-oracle-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const SR = 8000;
const NUMBER = '0612345678';
const MSG = mdmf({ dateTime: '11231105', number: NUMBER, name: 'J JANSEN' });
const pct = (n: number, of: number): string => `${Math.round((100 * n) / of)}%`.padStart(4);

const multimonCid = (file: string): string | undefined =>
  /CID=(\S+)/.exec(execFileSync('multimon-ng', ['-q', '-a', 'CLIPFSK', '-t', 'wav', file], { encoding: 'utf8' }))?.[1];
const minimodemCid = (file: string): string | undefined =>
  /Phone: (\S+)/.exec(execFileSync('minimodem', ['--rx', '-q', '-f', file, 'callerid'], { encoding: 'utf8' }))?.[1]?.replace(/-/g, '');
const multimonDtmf = (file: string): string =>
  execFileSync('multimon-ng', ['-q', '-a', 'DTMF', '-t', 'wav', file], { encoding: 'utf8', maxBuffer: 1 << 26 })
    .split('\n').flatMap((l) => /^DTMF: (\S)/.exec(l)?.[1] ?? []).join('');

/** A caller-ID burst whose space tone is `twistDb` louder than its mark tone (phase-continuous). */
function twistedBurst(std: 'v23' | 'bell202', levelDbm0: number, twistDb: number): Float64Array {
  const { mark, space } = std === 'v23' ? { mark: 1300, space: 2100 } : { mark: 1200, space: 2200 };
  const bits = burstBits(MSG);
  const lead = SR / 5;
  const n = Math.round((bits.length * SR) / 1200);
  const out = new Float64Array(2 * lead + n);
  const aMark = peakOfDbm0(levelDbm0 - twistDb / 2);
  const aSpace = peakOfDbm0(levelDbm0 + twistDb / 2);
  let ph = 0;
  for (let i = 0; i < n; i++) {
    const bit = bits[Math.min(bits.length - 1, Math.floor((i * 1200) / SR))];
    ph += (2 * Math.PI * (bit ? mark : space)) / SR;
    out[lead + i] = (bit ? aMark : aSpace) * Math.sin(ph);
  }
  return out;
}

test('FSK caller ID with mark/space twist (±6 dB in spec, ±9 dB and 10 dB SNR past it): ours vs multimon-ng (V.23) and minimodem (Bell 202)', (t) => {
  const dir = tmpDir(t);
  const rows: string[] = ['std      level  twist  SNR   codec  | ours  oracle'];
  const failures: string[] = [];
  const SEEDS = 3;
  let n = 0;
  for (const std of ['v23', 'bell202'] as const) {
    const oracle = std === 'v23' ? multimonCid : minimodemCid;
    // ±9 dB and 10 dB SNR lie past what EN 300 659-1 asks: there only the comparison with the oracle holds
    for (const level of [-5, -20, -35]) for (const twist of [-9, -6, 0, 6, 9]) for (const snr of [undefined, 15, 10]) for (const alaw of [false, true]) {
      const inSpec = Math.abs(twist) <= 6 && snr !== 10;
      let ours = 0;
      let theirs = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        let x = twistedBurst(std, level, twist);
        if (snr !== undefined) x = addNoise(x, snr, rng(seed * 31 + level));
        let pcm = toInt16(x);
        if (alaw) pcm = alawRoundTrip(pcm);
        const file = path.join(dir, `f${n++}.wav`);
        fs.writeFileSync(file, encodeWav(pcm, 1, SR));
        const got = decodeFskCallerId(pcm, { standard: std });
        const ok = got.length === 1 && got[0].checksumOk && got[0].number === NUMBER;
        const ref = oracle(file) === NUMBER;
        ours += +ok;
        theirs += +ref;
        if (inSpec && snr === undefined && !ok) failures.push(`${std} ${level} dBm0 twist ${twist} ${alaw ? 'A-law' : 'linear'} seed ${seed}: clean signal not decoded`);
      }
      if (ours < theirs - 1) failures.push(`${std} ${level} dBm0 twist ${twist} SNR ${snr ?? '∞'}: ours ${ours}/${SEEDS} < oracle ${theirs}/${SEEDS} − 1`);
      const row = `${std.padEnd(7)}  ${String(level).padStart(4)}  ${String(twist).padStart(5)}  ${String(snr ?? '∞').padStart(3)}  ${alaw ? 'A-law' : 'lin  '}  | ${pct(ours, SEEDS)}  ${pct(theirs, SEEDS)}`;
      rows.push(row);
      t.diagnostic(`fsk twist: ${row}`);
    }
  }
  console.log(`FSK caller ID with twist, decode rate per condition (${SEEDS} bursts each; oracle = multimon-ng CLIPFSK for V.23, minimodem callerid for Bell 202):\n${rows.join('\n')}`);
  assert.deepEqual(failures, []);
});

/** The oracle's reading of a whole recording's caller ID. */
function oracleCid(format: CidFormat | 'dialled', file: string): string | undefined {
  if (format === 'dialled') return multimonDtmf(file);
  if (format === 'fsk-v23') return multimonCid(file);
  if (format === 'fsk-bell202') return minimodemCid(file);
  const digits = multimonDtmf(file);
  return /^A(\d+)C$/.exec(digits)?.[1] ?? /^(\d+)#$/.exec(digits)?.[1];
}

test('caller ID and dialled digits inside whole line recordings: analyze vs the oracle on the same file', (t) => {
  const dir = tmpDir(t);
  const rows: string[] = ['format          level  condition   | ours  oracle'];
  const failures: string[] = [];
  const SEEDS = 2;
  let n = 0;
  // 'dialled': an outgoing call's digits (dial tone, ring-back and speech around them) against multimon-ng DTMF
  for (const format of ['fsk-v23', 'fsk-bell202', 'dtmf-clip-a', 'dtmf-clip-hash', 'dialled'] as const) {
    for (const level of [-5, -20, -35]) for (const cond of ['clean', 'SNR 15 dB', 'A-law'] as const) {
      let ours = 0;
      let theirs = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const rec = makeLineRecording(format === 'dialled'
          ? { seed: seed * 100 + n, direction: 'out', dialled: NUMBER, ringCycles: 2, speechSec: 2, endBy: 'busy', channels: 1, levelDbm0: level }
          : { seed: seed * 100 + n, direction: 'in', cid: { format, number: NUMBER, name: 'J JANSEN' }, ringCycles: 2, speechSec: 2, endBy: 'busy', channels: 1, levelDbm0: level });
        let pcm = rec.pcm;
        if (cond === 'SNR 15 dB') {
          // white noise 15 dB below the caller-ID level, over the whole recording
          const r = rng(seed + n);
          const sigma = peakOfDbm0(level - 15) / Math.SQRT2;
          pcm = toInt16(Float64Array.from(pcm, (v) => v + sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())));
        } else if (cond === 'A-law') pcm = alawRoundTrip(pcm);
        const file = path.join(dir, `r${n++}.wav`);
        fs.writeFileSync(file, encodeWav(pcm, 1, SR));
        const tl = analyze(pcm, SR, 1);
        const ok = format === 'dialled'
          ? tl.calls.length === 1 && tl.calls[0].dialled === NUMBER && tl.callerId.length === 0
          : tl.calls.length === 1 && tl.calls[0].number === NUMBER && tl.callerId.length === 1 && tl.callerId[0].format === format;
        const ref = oracleCid(format, file) === NUMBER;
        ours += +ok;
        theirs += +ref;
        if (cond !== 'SNR 15 dB' && !ok) failures.push(`${format} ${level} dBm0 ${cond} seed ${seed}: ours missed (${JSON.stringify(tl.callerId)})`);
      }
      if (ours < theirs - 1) failures.push(`${format} ${level} dBm0 ${cond}: ours ${ours}/${SEEDS} < oracle ${theirs}/${SEEDS} − 1`);
      const row = `${format.padEnd(14)}  ${String(level).padStart(4)}  ${cond.padEnd(10)}  | ${pct(ours, SEEDS)}  ${pct(theirs, SEEDS)}`;
      rows.push(row);
      t.diagnostic(`line recording: ${row}`);
    }
  }
  console.log(`Caller ID in whole line recordings (ring, speech, busy), decode rate per condition (${SEEDS} calls each; oracle = multimon-ng CLIPFSK / minimodem callerid / multimon-ng DTMF):\n${rows.join('\n')}`);
  assert.deepEqual(failures, []);
});

/** Paragraphs with spoken numbers, per language, so speech sounds like a business call. */
const TEXTS: Record<string, string> = {
  nl: 'Goedemiddag, u spreekt met de klantenservice. Kunt u mij uw klantnummer geven? Dat is nul zes, twaalf, vierendertig, zesenvijftig, achtenzeventig. Dank u wel, ik kijk even in het systeem. Uw bestelling van vorige week is gisteren verzonden en komt morgen tussen negen en twaalf uur aan. Kan ik u verder nog ergens mee helpen? Prettige dag nog.',
  en: 'Good afternoon, you are speaking with customer service. Could you give me your account number please? That is zero six, one two, three four, five six, seven eight. Thank you, let me check the system. Your order from last week was shipped yesterday and should arrive tomorrow between nine and twelve. Is there anything else I can help you with today? Have a nice day.',
  de: 'Guten Tag, Sie sprechen mit dem Kundendienst. Können Sie mir bitte Ihre Kundennummer nennen? Null sechs, zwölf, vierunddreißig, sechsundfünfzig, achtundsiebzig. Danke schön, ich schaue kurz im System nach. Ihre Bestellung wurde gestern verschickt und kommt morgen zwischen neun und zwölf Uhr an. Kann ich sonst noch etwas für Sie tun? Auf Wiederhören.',
  fr: 'Bonjour, vous êtes en ligne avec le service client. Pouvez-vous me donner votre numéro de client? Zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit. Merci, je regarde dans le système. Votre commande a été expédiée hier et arrivera demain entre neuf heures et midi. Puis-je vous aider avec autre chose? Bonne journée.',
};

/** voice, speed (wpm), pitch (0–99): men, women, children-high and whisper-thin voices */
const VOICES: Array<[string, string, number, number]> = [
  ['nl', 'nl', 160, 45], ['nl', 'nl+f3', 175, 70], ['nl', 'nl+m3', 140, 20],
  ['en', 'en-gb', 170, 50], ['en', 'en-us+f2', 190, 80], ['en', 'en-us+m7', 150, 30], ['en', 'en-gb+f4', 200, 99],
  ['de', 'de', 165, 40], ['de', 'de+f1', 180, 75],
  ['fr', 'fr-fr', 170, 55], ['fr', 'fr-fr+m2', 150, 10],
];

test('no false DTMF digit in 10 minutes of espeak-ng speech (11 voices), at line level, loud and through A-law', (t) => {
  const dir = tmpDir(t);
  const clips: Int16Array[] = [];
  VOICES.forEach(([lang, voice, speed, pitch], i) => {
    const raw = path.join(dir, `v${i}.wav`);
    const wav = path.join(dir, `v${i}-8k.wav`);
    execFileSync('espeak-ng', ['-v', voice, '-s', String(speed), '-p', String(pitch), '-w', raw, TEXTS[lang]]);
    execFileSync('sox', ['-R', raw, '-r', '8000', '-c', '1', '-b', '16', wav]);
    clips.push(readWav(fs.readFileSync(wav)).pcm);
  });
  const one = clips.reduce((s, c) => s + c.length, 0);
  const loops = Math.ceil((600 * SR) / one);
  const speech = new Int16Array(loops * one);
  let at = 0;
  for (let l = 0; l < loops; l++) {
    for (const c of clips) {
      // each pass a different level: −6 dB, as recorded, +6 dB, +12 dB (clipping)
      const gain = [0.5, 1, 2, 4][l % 4];
      for (let i = 0; i < c.length; i++) speech[at + i] = Math.max(-32768, Math.min(32767, Math.round(c[i] * gain)));
      at += c.length;
    }
  }
  const minutes = speech.length / SR / 60;
  assert.ok(minutes >= 10, `${minutes.toFixed(1)} min`);
  const rows: string[] = [];
  for (const [name, pcm] of [['linear', speech], ['A-law', alawRoundTrip(speech)]] as const) {
    const file = path.join(dir, `speech-${name}.wav`);
    fs.writeFileSync(file, encodeWav(pcm, 1, SR));
    const ours = detectDtmf(pcm);
    const theirs = multimonDtmf(file);
    const row = `${name.padEnd(6)} ${minutes.toFixed(1)} min: ours ${ours.length} false digits, multimon-ng ${theirs.length} (${theirs || 'none'})`;
    rows.push(row);
    t.diagnostic(`speech: ${row}`);
    assert.deepEqual(ours.map((d) => `${d.digit}@${Math.round(d.startMs)}`), [], `false digits in ${name} speech`);
  }
  console.log(`False DTMF digits in espeak-ng speech (${VOICES.length} voices):\n${rows.join('\n')}`);
});
