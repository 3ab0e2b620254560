import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alawDecode, alawEncode, ulawDecode } from '../src/audio/g711.ts';
import { Downsampler2, Upsampler2 } from '../src/audio/resample.ts';
import { Codecs } from '../src/codecs/codecs.ts';
import { isDecoder, fmtpParams } from '../src/codecs/types.ts';

const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);

test('G.711 decoders behind the codec interface decode every byte as the G.711 tables do', () => {
  const codecs = Codecs.g711Only();
  for (const [encoding, table] of [['PCMU', ulawDecode], ['pcma', alawDecode]] as const) {
    const d = codecs.createDecoder({ encoding, clockRate: 8000 }, 8000);
    assert.ok(isDecoder(d));
    assert.equal(d.rate, 8000);
    assert.equal(d.tsPerSample, 1);
    assert.deepEqual(d.decode(bytes), table(bytes));
  }
});

test('a codec without a decoder is Undecodable with its name and a reason, never decoded as another', () => {
  const codecs = Codecs.g711Only();
  const cases: Array<[string, number, string, RegExp]> = [
    ['AMR-WB', 16000, 'AMR-WB', /no decoder for AMR-WB/],
    ['G729', 8000, 'G729', /not loaded/],
    ['opus', 48000, 'OPUS', /not loaded/],
    ['PCMU', 16000, 'PCMU', /8000 Hz/],
    ['telephone-event', 8000, 'telephone-event', /key presses/],
  ];
  for (const [encoding, clockRate, codec, reason] of cases) {
    const d = codecs.createDecoder({ encoding, clockRate }, 8000);
    assert.ok(!isDecoder(d), encoding);
    assert.equal(d.codec, codec);
    assert.match(d.reason, reason);
  }
});

test('a call is 16 kHz when any codec it may use is wideband, 8 kHz otherwise', () => {
  const codecs = Codecs.open();
  assert.equal(codecs.callRate([{ encoding: 'PCMU', clockRate: 8000 }, { encoding: 'telephone-event', clockRate: 8000 }]), 8000);
  assert.equal(codecs.callRate([{ encoding: 'PCMU', clockRate: 8000 }, { encoding: 'G722', clockRate: 8000 }]), 16000);
  assert.equal(codecs.callRate([{ encoding: 'opus', clockRate: 48000, channels: 2 }]), 16000);
  assert.equal(codecs.callRate([{ encoding: 'opus', clockRate: 48000, fmtp: 'maxplaybackrate=8000;useinbandfec=1' }]), 8000);
  assert.equal(codecs.callRate([{ encoding: 'G729', clockRate: 8000 }]), 8000);
  // a wideband codec the box cannot decode does not make the call wideband
  assert.equal(Codecs.g711Only().callRate([{ encoding: 'PCMU', clockRate: 8000 }, { encoding: 'G722', clockRate: 8000 }]), 8000);
  assert.deepEqual([...fmtpParams('Maxplaybackrate=16000; useinbandfec=1')], [['maxplaybackrate', '16000'], ['useinbandfec', '1']]);
});

test('G.711 in a 16 kHz call is upsampled: a 1 kHz tone keeps its level and pitch, with no clicks at packet edges', () => {
  const d = Codecs.g711Only().createDecoder({ encoding: 'PCMA', clockRate: 8000 }, 16000);
  assert.ok(isDecoder(d));
  assert.equal(d.rate, 16000);
  assert.equal(d.tsPerSample, 0.5);
  const tone = Int16Array.from({ length: 8000 }, (_, i) => Math.round(10000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  const parts: Int16Array[] = [];
  for (let i = 0; i < tone.length; i += 160) parts.push(d.decode(alawEncode(tone.subarray(i, i + 160))));
  const wide = Int16Array.from(parts.flatMap((p) => [...p]));
  assert.equal(wide.length, 16000);
  const ref = (i: number): number => 10000 * Math.sin((2 * Math.PI * 1000 * (i - 16)) / 16000);
  let err = 0;
  let sig = 0;
  for (let i = 200; i < wide.length; i++) { err += (wide[i]! - ref(i)) ** 2; sig += ref(i) ** 2; }
  assert.ok(10 * Math.log10(sig / err) > 30, `SNR ${10 * Math.log10(sig / err)} dB`);
});

test('the 2:1 resamplers keep odd-length blocks in step', () => {
  const down = new Downsampler2();
  const up = new Upsampler2();
  let n = 0;
  for (const len of [3, 5, 7, 1, 160]) n += down.process(new Int16Array(len)).length;
  assert.equal(n, 88);
  assert.equal(up.process(new Int16Array(7)).length, 14);
});
