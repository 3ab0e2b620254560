import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeWav, readWav, wavHeader } from '../src/audio/wav.ts';
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from '../src/audio/g711.ts';
import { peak, peakDbfs, rmsDbfs } from '../src/audio/level.ts';
import { RvError } from '../src/errors.ts';

const SPEECH_DIR = path.join(import.meta.dirname, '..', 'assets', 'speech');

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-audio-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const soxi = (flag: string, file: string): string => execFileSync('soxi', [flag, file], { encoding: 'utf8' }).trim();
const sox = (...args: string[]): void => void execFileSync('sox', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Every 16-bit value once, so encoders are checked on the whole input range. */
const everySample = (): Int16Array => Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

const int16Of = (buf: Buffer): Int16Array => {
  const out = new Int16Array(buf.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
};

const wavFormatError = (found: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof RvError, `expected an RvError, got ${String(e)}`);
  assert.equal(e.code, 'RV_ERR_WAV_FORMAT');
  assert.match(e.message, found);
  return true;
};

test('wavHeader: soxi reads rate, channels, encoding and duration from it', (t) => {
  const dir = tmpDir(t);
  for (const [sampleRate, channels, frames] of [[8000, 2, 12_000], [16_000, 1, 4_000], [8000, 1, 0]] as const) {
    const dataBytes = frames * channels * 2;
    const file = path.join(dir, `h-${sampleRate}-${channels}-${frames}.wav`);
    const head = wavHeader({ sampleRate, channels, dataBytes });
    assert.equal(head.length, 44);
    fs.writeFileSync(file, Buffer.concat([head, Buffer.alloc(dataBytes)]));
    assert.equal(soxi('-r', file), String(sampleRate));
    assert.equal(soxi('-c', file), String(channels));
    assert.equal(soxi('-b', file), '16');
    assert.equal(soxi('-e', file), 'Signed Integer PCM');
    assert.equal(soxi('-s', file), String(frames));
    assert.equal(Number(soxi('-D', file)), frames / sampleRate);
  }
});

test('wavHeader: same bytes as node-wav writes, and refuses sizes that are not whole frames', () => {
  const pcm = new Int16Array(800);
  assert.deepEqual(wavHeader({ sampleRate: 8000, channels: 2, dataBytes: 1600 }), encodeWav(pcm, 2, 8000).subarray(0, 44));
  assert.throws(() => wavHeader({ sampleRate: 8000, channels: 2, dataBytes: 1602 }), wavFormatError(/1602/));
  assert.throws(() => wavHeader({ sampleRate: 0, channels: 1, dataBytes: 0 }), wavFormatError(/sample rate/));
});

test('encodeWav/readWav: every 16-bit value survives a round trip, mono and stereo', () => {
  const pcm = everySample();
  for (const channels of [1, 2] as const) {
    const wav = encodeWav(pcm, channels, 8000);
    assert.equal(wav.length, 44 + pcm.length * 2);
    const back = readWav(wav);
    assert.equal(back.sampleRate, 8000);
    assert.equal(back.channels, channels);
    assert.deepEqual(back.pcm, pcm);
  }
  assert.throws(() => encodeWav(new Int16Array(3), 2, 8000), wavFormatError(/3 samples/));
});

test('encodeWav: sox reads back the samples we wrote', (t) => {
  const dir = tmpDir(t);
  const pcm = everySample();
  const file = path.join(dir, 'all.wav');
  fs.writeFileSync(file, encodeWav(pcm, 2, 8000));
  sox(file, '-t', 'raw', path.join(dir, 'all.raw'));
  assert.deepEqual(int16Of(fs.readFileSync(path.join(dir, 'all.raw'))), pcm);
});

test('readWav: reads the sox-made speech clips and agrees with soxi', () => {
  const names = fs.readdirSync(SPEECH_DIR).filter((n) => n.endsWith('.wav'));
  assert.ok(names.length >= 4);
  for (const name of names) {
    const file = path.join(SPEECH_DIR, name);
    const w = readWav(fs.readFileSync(file));
    assert.equal(w.sampleRate, 8000, name);
    assert.equal(w.channels, 1, name);
    assert.equal(w.pcm.length, Number(soxi('-s', file)), name);
  }
});

test('readWav: skips LIST/fact chunks (with odd-length padding), a long fmt chunk and an odd start offset', () => {
  const pcm = Int16Array.from([1, -2, 300, -32768, 32767, 0]);
  const plain = encodeWav(pcm, 2, 8000);
  const fmt = Buffer.concat([plain.subarray(12, 16), Buffer.from([18, 0, 0, 0]), plain.subarray(20, 36), Buffer.alloc(2)]);
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.alloc(1)]);
  const fact = Buffer.concat([Buffer.from('fact'), Buffer.from([4, 0, 0, 0]), Buffer.from([3, 0, 0, 0])]);
  const body = Buffer.concat([Buffer.from('WAVE'), list, fmt, fact, plain.subarray(36)]);
  const riff = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), body]);
  riff.writeUInt32LE(riff.length - 8, 4);
  const w = readWav(riff);
  assert.equal(w.channels, 2);
  assert.deepEqual(w.pcm, pcm);
  // the same file one byte into a larger buffer: samples are not 2-byte aligned in memory
  const shifted = Buffer.concat([Buffer.alloc(1), riff]).subarray(1);
  assert.deepEqual(readWav(shifted).pcm, pcm);
});

test('readWav: WAVE_FORMAT_EXTENSIBLE 16-bit PCM from sox is read', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'quad.wav');
  sox('-n', '-r', '8000', '-b', '16', '-c', '4', file, 'synth', '0.01', 'sine', '440');
  const w = readWav(fs.readFileSync(file));
  assert.equal(fs.readFileSync(file).readUInt16LE(20), 0xfffe);
  assert.equal(w.channels, 4);
  assert.equal(w.pcm.length, 80 * 4);
});

test('readWav: anything but PCM 16-bit is refused, saying what was found and what is expected', (t) => {
  const dir = tmpDir(t);
  const make = (name: string, ...fmt: string[]): Buffer => {
    const file = path.join(dir, name);
    sox('-n', '-r', '8000', '-c', '1', ...fmt, file, 'synth', '0.05', 'sine', '440');
    return fs.readFileSync(file);
  };
  assert.throws(() => readWav(make('u8.wav', '-b', '8')), wavFormatError(/8-bit.*expected PCM \(0x0001\) 16-bit/));
  assert.throws(() => readWav(make('s24.wav', '-b', '24')), wavFormatError(/24-bit.*expected PCM/));
  assert.throws(() => readWav(make('f32.wav', '-e', 'floating-point', '-b', '32')), wavFormatError(/format 0x0003.*expected PCM/));
  assert.throws(() => readWav(make('alaw.wav', '-e', 'a-law')), wavFormatError(/format 0x0006.*expected PCM/));
  assert.throws(() => readWav(Buffer.from('OggS\0\0\0\0WAVE')), wavFormatError(/"OggS…WAVE".*expected "RIFF…WAVE"/));
  assert.throws(() => readWav(Buffer.alloc(4)), wavFormatError(/4 bytes/));
  const whole = encodeWav(new Int16Array(100), 1, 8000);
  assert.throws(() => readWav(whole.subarray(0, 100)), wavFormatError(/says 200 bytes but only 56 follow/));
  assert.throws(() => readWav(whole.subarray(0, 36)), wavFormatError(/no "data" chunk/));
});

for (const law of [
  { name: 'A-law', sox: 'a-law', encode: alawEncode, decode: alawDecode },
  { name: 'µ-law', sox: 'u-law', encode: ulawEncode, decode: ulawDecode },
]) {
  test(`g711 ${law.name}: encoding matches sox byte for byte on every 16-bit value and on speech`, (t) => {
    const dir = tmpDir(t);
    const speech = readWav(fs.readFileSync(path.join(SPEECH_DIR, 'nl-1.wav'))).pcm;
    const pcm = new Int16Array(65536 + speech.length);
    pcm.set(everySample());
    pcm.set(speech, 65536);
    const raw = path.join(dir, 'in.raw');
    const out = path.join(dir, 'out.g711');
    fs.writeFileSync(raw, new Uint8Array(pcm.buffer));
    // -D: without it sox dithers when reducing to G.711's 13/14 bits, and the bytes vary per run
    sox('-D', '-t', 'raw', '-e', 'signed', '-b', '16', '-r', '8000', '-c', '1', raw, '-e', law.sox, '-t', 'raw', out);
    assert.ok(Buffer.from(law.encode(pcm)).equals(fs.readFileSync(out)), 'our bytes differ from sox');
  });

  test(`g711 ${law.name}: decoding matches sox for all 256 codes`, (t) => {
    const dir = tmpDir(t);
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const inFile = path.join(dir, 'codes.g711');
    const outFile = path.join(dir, 'codes.raw');
    fs.writeFileSync(inFile, codes);
    sox('-t', 'raw', '-e', law.sox, '-r', '8000', '-c', '1', inFile, '-t', 'raw', '-e', 'signed', '-b', '16', outFile);
    assert.deepEqual(law.decode(codes), int16Of(fs.readFileSync(outFile)));
    // every decoded value encodes back to its own code (A-law and µ-law each have one code pair for ±0)
    const back = law.encode(law.decode(codes));
    for (let c = 0; c < 256; c++) assert.equal(law.decode(back.subarray(c, c + 1))[0], law.decode(codes.subarray(c, c + 1))[0]);
  });
}

test('level: peak and RMS in dBFS, per channel of interleaved audio', () => {
  const square = Int16Array.from({ length: 800 }, (_, i) => (i % 2 ? 32767 : -32768));
  assert.equal(peak(square), 32768);
  assert.equal(peakDbfs(square), 0);
  assert.ok(Math.abs(rmsDbfs(square)) < 0.001);
  const sine = Int16Array.from({ length: 8000 }, (_, i) => Math.round(16384 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  assert.ok(Math.abs(rmsDbfs(sine) - (20 * Math.log10(0.5) - 10 * Math.log10(2))) < 0.01, `sine at ${rmsDbfs(sine)} dBFS`);
  assert.ok(Math.abs(peakDbfs(sine) - 20 * Math.log10(0.5)) < 0.01);
  assert.equal(rmsDbfs(new Int16Array(100)), -Infinity);
  assert.equal(rmsDbfs(new Int16Array(0)), -Infinity);
  assert.equal(peakDbfs(new Int16Array(10)), -Infinity);
  // stereo: loud left, quiet right
  const stereo = Int16Array.from({ length: 1600 }, (_, i) => (i % 2 === 0 ? (i % 4 === 0 ? 10000 : -10000) : 10));
  assert.equal(peak(stereo, { channels: 2, channel: 0 }), 10000);
  assert.equal(peak(stereo, { channels: 2, channel: 1 }), 10);
  assert.ok(Math.abs(rmsDbfs(stereo, { channels: 2, channel: 1 }) - 20 * Math.log10(10 / 32768)) < 1e-9);
  assert.throws(() => rmsDbfs(stereo, { channels: 2, channel: 2 }), RangeError);
});
