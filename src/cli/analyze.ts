import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { RvError } from '../errors.ts';
import { loadConfigFile } from '../config/load.ts';
import { AlsaCapture } from '../sources/alsa.ts';
import { analyze, type AnalyzeOptions, type FskStandard } from '../analyze/analyze.ts';
import { loadAudioFile } from '../analyze/load.ts';
import { channelLevels } from '../analyze/levels.ts';
import { formatLevels, formatTimeline } from '../analyze/report.ts';

export const ANALYZE_HELP = `  analyze        what the line detectors hear in a recording: rings, caller ID, DTMF digits, tones,
                 voice, call start and end: ringvault analyze FILE.wav [--json]
                 (any WAV; not 8 kHz 16-bit mono/stereo is converted with sox)
  line-check     listen live on an analog line and report what the detectors hear and the input
                 levels per channel with a verdict (exit code 6 unless every channel is ok):
                   ringvault line-check [--line ID] [--seconds 30] [--json] [--config FILE]
                   ringvault line-check --device ALSA-NAME [--channels 1|2] [--rate 8000] [--seconds 30] [--json]`;

const bad = (msg: string): RvError => new RvError('RV_ERR_USAGE', msg);

function intOpt(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw bad(`--${name} must be a whole number from ${min} to ${max}; got "${v}".`);
  return n;
}

async function analyzeFile(rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw bad(`analyze takes one recording; got ${positionals.length}. Usage: ringvault analyze FILE.wav [--json]`);
  const file = positionals[0];
  const audio = await loadAudioFile(file);
  const tl = analyze(audio.pcm, audio.rate, audio.channels);
  if (values.json) console.log(JSON.stringify({ file, converted: audio.converted, ...tl }, null, 2));
  else console.log(formatTimeline(tl, basename(file) + (audio.converted ? ' (converted with sox)' : '')));
  return 0;
}

interface Target { device: string; rate: number; deviceChannels: number; pick: number[]; line?: string; opts: AnalyzeOptions }

async function targetOf(values: Record<string, string | boolean | undefined>): Promise<Target> {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const device = str('device');
  if (device) {
    if (str('line')) throw bad('Give either --line (from the config) or --device, not both.');
    const channels = intOpt('channels', str('channels'), 1, 1, 2);
    const rate = intOpt('rate', str('rate'), 8000, 8000, 192000);
    return { device, rate, deviceChannels: channels, pick: Array.from({ length: channels }, (_, i) => i), opts: {} };
  }
  const file = str('config') ?? process.env.RINGVAULT_CONFIG;
  if (!file) throw bad('line-check needs a line from the config (--config FILE or RINGVAULT_CONFIG, and --line ID) or an ALSA device (--device NAME).');
  const cfg = await loadConfigFile(file);
  const analog = cfg.lines.filter((l) => l.source === 'alsa');
  const want = str('line');
  const line = want ? cfg.lines.find((l) => l.id === want) : analog.length === 1 ? analog[0] : undefined;
  if (!line) {
    const ids = analog.map((l) => l.id).join(', ') || 'none';
    throw bad(want ? `No line "${want}" in ${file}; analog (alsa) lines: ${ids}.` : `Name the line to check with --line; analog (alsa) lines in ${file}: ${ids}.`);
  }
  if (line.source !== 'alsa') throw bad(`Line "${line.id}" has source "${line.source}"; line-check listens to analog (alsa) lines only.`);
  const input = line.input ?? { device: '', channels: [0] };
  const dev = cfg.alsa.devices.find((d) => d.id === input.device);
  if (!dev) throw bad(`Line "${line.id}" names device "${input.device}", which is not under alsa.devices in ${file}.`);
  const fsk: FskStandard[] = [];
  const formats = line.analog?.callerId ?? ['v23-fsk', 'dtmf-clip'];
  if (formats.includes('v23-fsk')) fsk.push('v23');
  if (formats.includes('bell202-fsk')) fsk.push('bell202');
  return {
    device: dev.device, rate: dev.rate, deviceChannels: dev.channels, pick: input.channels, line: line.id,
    opts: { fsk, dtmfClip: formats.includes('dtmf-clip'), hangoverMs: line.analog?.hangoverMs },
  };
}

/** Captures `seconds` of audio (bounded by arecord -d) and returns the picked channels interleaved. */
async function capture(t: Target, seconds: number): Promise<Int16Array> {
  const cap = new AlsaCapture({ device: t.device, rate: t.rate, channels: t.deviceChannels, durationSec: seconds, clock: () => 0, backoff: { firstMs: 60_000, maxMs: 60_000 } });
  const blocks: Int16Array[] = [];
  cap.on('audio', (b) => blocks.push(b.pcm));
  try {
    await new Promise<void>((resolve, reject) => {
      cap.once('ended', resolve);
      cap.once('fault', (f) => reject(new RvError('RV_ERR_LINE_CHECK_CAPTURE', f.message.replace(/ (Retrying|Restarting it)\.$/, ''))));
      cap.start().catch(reject);
    });
  } finally {
    await cap.stop();
  }
  const frames = blocks.reduce((n, b) => n + b.length, 0) / t.deviceChannels;
  const out = new Int16Array(frames * t.pick.length);
  let f = 0;
  for (const b of blocks) {
    for (let i = 0; i < b.length; i += t.deviceChannels, f++) {
      t.pick.forEach((ch, k) => { out[f * t.pick.length + k] = b[i + ch]; });
    }
  }
  return out;
}

async function lineCheck(rest: string[]): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      line: { type: 'string' }, seconds: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' },
      device: { type: 'string' }, channels: { type: 'string' }, rate: { type: 'string' },
    },
    strict: true,
  });
  const seconds = intOpt('seconds', values.seconds, 30, 1, 600);
  const t = await targetOf(values);
  const pcm = await capture(t, seconds);
  const channels = t.pick.length;
  if (pcm.length === 0) throw new RvError('RV_ERR_LINE_CHECK_CAPTURE', `No audio came from "${t.device}" in ${seconds} s; check the device name and that nothing else holds it.`);
  const tl = analyze(pcm, 8000, channels, t.opts);
  const levels = channelLevels(pcm, channels);
  if (values.json) {
    console.log(JSON.stringify({ device: t.device, line: t.line, seconds, deviceChannels: t.pick, levels, ...tl }, null, 2));
  } else {
    console.log(formatTimeline(tl, `${t.line ? `line ${t.line} on ` : ''}${t.device}, device channels ${t.pick.join(',')}`));
    console.log('');
    console.log(formatLevels(levels));
  }
  return levels.every((l) => l.verdict === 'ok') ? 0 : 6;
}

export async function analyzeCli(cmd: 'analyze' | 'line-check', rest: string[]): Promise<number> {
  return cmd === 'analyze' ? analyzeFile(rest) : lineCheck(rest);
}
