import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/load.ts';
import { AnalogSource } from '../src/sources/analog.ts';

const tap = { id: 'tap', device: 'plughw:CARD=Device,DEV=0', channels: 2 };
const alsaLine = (l: object) => ({ id: 'a1', name: 'Analoog', source: 'alsa', ...l });

test('analog config: defaults for the device and the line are filled in', () => {
  const c = parseConfig({ alsa: { devices: [tap] }, lines: [alsaLine({ channels: 1, input: { device: 'tap', channels: [1] } })] }, 'cfg.json');
  assert.deepEqual(c.alsa.devices[0], { ...tap, rate: 8000, backoffFirstMs: 500, backoffMaxMs: 10_000, stallMs: 1500, runSeconds: 0 });
  assert.deepEqual(c.lines[0]!.analog, { minCallSeconds: 3, hangoverMs: 4000, callerId: ['v23-fsk', 'dtmf-clip'], lineSense: false });
  assert.deepEqual(c.lines[0]!.input, { device: 'tap', channels: [1] });
  // a two-direction line on a 4-channel interface beside a mixed one
  const two = parseConfig({
    alsa: { devices: [{ ...tap, id: 'quad', channels: 4, rate: 48000 }] },
    lines: [alsaLine({ channels: 2, input: { device: 'quad', channels: [0, 1] } }), alsaLine({ id: 'a2', channels: 1, input: { device: 'quad', channels: [3] } })],
  }, 'cfg.json');
  assert.equal(two.lines.length, 2);
  assert.equal(two.alsa.devices[0]!.rate, 48000);
});

const bad: [string, unknown, RegExp][] = [
  ['rate not a multiple of 8000', { alsa: { devices: [{ ...tap, rate: 44100 }] } }, /alsa\.devices\.0\.rate: found 44100; expected integer to be a multiple of 8000/],
  ['device name with a space', { alsa: { devices: [{ ...tap, device: 'hw 1' }] } }, /alsa\.devices\.0\.device: found "hw 1"/],
  ['hang-over outside 3–5 s', { lines: [alsaLine({ source: 'sim', analog: { hangoverMs: 8000 } })] }, /lines\.0\.analog\.hangoverMs: found 8000; expected integer to be less or equal to 5000/],
  ['unknown caller-ID format', { lines: [alsaLine({ source: 'sim', analog: { callerId: ['fsk'] } })] }, /lines\.0\.analog\.callerId\.0: found "fsk"/],
  ['alsa line without a device', { lines: [alsaLine({ channels: 1 })] }, /lines\.a1\.input\.device: found nothing; an alsa line must name the device .*add one under alsa\.devices/],
  ['unknown device', { alsa: { devices: [tap] }, lines: [alsaLine({ channels: 1, input: { device: 'usb', channels: [0] } })] }, /lines\.a1\.input\.device: found "usb", which is not under alsa\.devices; expected one of: tap/],
  ['channel beyond the device', { alsa: { devices: [tap] }, lines: [alsaLine({ channels: 1, input: { device: 'tap', channels: [2] } })] }, /found channel 2, but device "tap" captures 2 channel\(s\) \(0–1\)/],
  ['channel count mismatch', { alsa: { devices: [tap] }, lines: [alsaLine({ input: { device: 'tap', channels: [0] } })] }, /lines\.a1\.channels: found 2, but input\.channels lists 1; set channels to 1/],
  ['one channel, two lines', { alsa: { devices: [tap] }, lines: [alsaLine({ channels: 1, input: { device: 'tap', channels: [0] } }), alsaLine({ id: 'a2', channels: 1, input: { device: 'tap', channels: [0] } })] }, /channel 0 of device "tap" is already line a1/],
  ['duplicate device id', { alsa: { devices: [tap, tap] } }, /alsa\.devices: the id "tap" is used twice/],
  ['back-off first above max', { alsa: { devices: [{ ...tap, backoffFirstMs: 5000, backoffMaxMs: 1000 }] } }, /alsa\.devices\.tap\.backoffFirstMs: found 5000, above backoffMaxMs 1000/],
];
for (const [name, raw, re] of bad) {
  test(`analog config refused: ${name}`, () => {
    assert.throws(() => parseConfig(raw, '/etc/ringvault/config.json'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'RV_ERR_CONFIG');
      assert.match(e.message, /^\/etc\/ringvault\/config\.json: /);
      assert.match(e.message, re);
      return true;
    });
  });
}

test('AnalogSource refuses a line whose device is not given to it, saying which', () => {
  const c = parseConfig({ alsa: { devices: [tap] }, lines: [alsaLine({ channels: 1, input: { device: 'tap', channels: [0] } })] }, 'cfg.json');
  assert.throws(() => new AnalogSource({ devices: [], lines: c.lines }), /Line\(s\) a1 name no configured alsa device/);
  const src = new AnalogSource({ devices: c.alsa.devices, lines: c.lines });
  assert.equal(src.kind, 'alsa');
  assert.deepEqual(src.lines, ['a1']);
});
