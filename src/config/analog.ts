import { Type, type Static } from '@sinclair/typebox';
import { RvError } from '../errors.ts';

/** Config for analog lines: the USB audio devices (`alsa`) and, per line, which channels carry it and how calls are found. */

export const CALLER_ID_FORMATS = ['v23-fsk', 'dtmf-clip', 'bell202-fsk'] as const;
export type CallerIdFormat = (typeof CALLER_ID_FORMATS)[number];

export const AlsaDeviceConfig = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', title: 'Device id', description: 'Short id lines refer to, e.g. "tap"' }),
    device: Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\s]+$', title: 'ALSA capture device as arecord -D takes it', description: 'e.g. "plughw:CARD=Device,DEV=0" or a dsnoop name from board/asound.conf' }),
    rate: Type.Integer({ minimum: 8000, maximum: 192000, multipleOf: 8000, default: 8000, title: 'Capture rate in Hz', description: 'A multiple of 8000; higher rates are low-passed and decimated to 8000' }),
    channels: Type.Integer({ minimum: 1, maximum: 8, default: 2, title: 'Channels the device captures' }),
    backoffFirstMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 500, title: 'First wait before restarting a failed capture, ms', description: 'Doubles on each failure up to backoffMaxMs' }),
    backoffMaxMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 10_000, title: 'Longest wait between restarts of a failed capture, ms' }),
    stallMs: Type.Integer({ minimum: 200, maximum: 60_000, default: 1500, title: 'A running capture that delivers no audio this long is restarted and its lines show a fault, ms' }),
    runSeconds: Type.Integer({ minimum: 0, maximum: 86_400, default: 0, title: 'Stop capturing after this many seconds (0 = run until the box stops)', description: 'For tests and line checks; a box on a real line keeps 0' }),
  },
  { additionalProperties: false },
);
export type AlsaDeviceConfig = Static<typeof AlsaDeviceConfig>;

export const AlsaConfig = Type.Object(
  {
    devices: Type.Array(AlsaDeviceConfig, { default: [], maxItems: 8, title: 'USB audio interfaces that tap analog lines' }),
  },
  { additionalProperties: false, default: {}, title: 'Analog capture (lines with source "alsa")' },
);
export type AlsaConfig = Static<typeof AlsaConfig>;

export const LineInput = Type.Object(
  {
    device: Type.String({ default: '', maxLength: 32, title: 'Id of the alsa device this line is wired to' }),
    channels: Type.Array(Type.Integer({ minimum: 0, maximum: 7 }), {
      minItems: 1, maxItems: 2, uniqueItems: true, default: [0], title: 'Device channel(s) carrying the line, counted from 0',
      description: 'One channel: the line with both directions mixed. Two: [far end, our phone] where the tap separates the directions',
    }),
  },
  { additionalProperties: false, default: {}, title: 'Where an analog line comes in (source "alsa" only)' },
);
export type LineInput = Static<typeof LineInput>;

export const LineAnalog = Type.Object(
  {
    minCallSeconds: Type.Number({ minimum: 0, maximum: 120, default: 3, title: 'Calls shorter than this are not stored, s', description: 'Stray off-hooks, a ring nobody answered, a wrong number hung up at once' }),
    hangoverMs: Type.Integer({ minimum: 3000, maximum: 5000, default: 4000, title: 'Silence that ends a call when no busy tone or line sense says so, ms' }),
    callerId: Type.Array(Type.Union(CALLER_ID_FORMATS.map((f) => Type.Literal(f))), {
      default: ['v23-fsk', 'dtmf-clip'], uniqueItems: true, maxItems: 3, title: 'Caller-ID formats the exchange sends',
      description: 'v23-fsk = ETSI FSK (NL/EU), dtmf-clip = DTMF CLIP (A…C or …#), bell202-fsk = North American FSK',
    }),
    lineSense: Type.Boolean({ default: false, title: 'The control board senses this line (off-hook, on-hook, ring)', description: 'When true and the board reports line sense, it decides call start and end; the audio still gives caller ID and digits' }),
  },
  { additionalProperties: false, default: {}, title: 'Call detection on an analog line (source "alsa" only)' },
);
export type LineAnalog = Static<typeof LineAnalog>;

interface AnalogCheckable {
  alsa: AlsaConfig;
  lines: readonly { id: string; source: string; channels: 1 | 2; input?: LineInput }[];
}

/** Cross-key checks the schema cannot express; names the key, what was found and what to do. */
export function checkAnalog(cfg: AnalogCheckable, source: string): void {
  const fail = (msg: string): never => { throw new RvError('RV_ERR_CONFIG', `${source}: ${msg}`); };
  const devices = new Map<string, AlsaDeviceConfig>();
  for (const d of cfg.alsa.devices) {
    if (devices.has(d.id)) fail(`alsa.devices: the id "${d.id}" is used twice; give every device its own id.`);
    if (d.backoffFirstMs > d.backoffMaxMs) fail(`alsa.devices.${d.id}.backoffFirstMs: found ${d.backoffFirstMs}, above backoffMaxMs ${d.backoffMaxMs}; expected at most backoffMaxMs.`);
    devices.set(d.id, d);
  }
  const taken = new Map<string, string>();
  for (const l of cfg.lines) {
    if (l.source !== 'alsa') continue;
    const input = l.input ?? { device: '', channels: [0] };
    const known = [...devices.keys()].join(', ') || 'none; add one under alsa.devices';
    if (!input.device) fail(`lines.${l.id}.input.device: found nothing; an alsa line must name the device it is wired to (configured: ${known}).`);
    const dev = devices.get(input.device);
    if (!dev) fail(`lines.${l.id}.input.device: found "${input.device}", which is not under alsa.devices; expected one of: ${known}.`);
    for (const ch of input.channels) {
      if (ch >= dev!.channels) fail(`lines.${l.id}.input.channels: found channel ${ch}, but device "${dev!.id}" captures ${dev!.channels} channel(s) (0–${dev!.channels - 1}); fix the channel or the device's channel count.`);
      const key = `${dev!.id}:${ch}`;
      const other = taken.get(key);
      if (other) fail(`lines.${l.id}.input.channels: channel ${ch} of device "${dev!.id}" is already line ${other}; every channel carries at most one line.`);
      taken.set(key, l.id);
    }
    if (input.channels.length !== l.channels) {
      fail(`lines.${l.id}.channels: found ${l.channels}, but input.channels lists ${input.channels.length}; set channels to ${input.channels.length} (1 = directions mixed on one channel, 2 = one channel per direction).`);
    }
  }
}
