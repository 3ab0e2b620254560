import { RvError } from '../errors.ts';
import { silentLog, type Log } from '../log.ts';
import type { ControlBoard, LineSenseEvent } from '../board/board.ts';
import type { AlsaDeviceConfig, LineAnalog, LineInput } from '../config/analog.ts';
import { AnalogTracker, type TrackerEvent } from '../calls/analog-tracker.ts';
import { AlsaCapture, type CaptureBlock } from './alsa.ts';
import { LineSource } from './source.ts';

/** An analog line as the source needs it: where it comes in and how its calls are found. */
export interface AnalogLineConfig { id: string; channels: 1 | 2; input?: LineInput; analog?: LineAnalog }

export interface AnalogSourceOptions {
  devices: readonly AlsaDeviceConfig[];
  lines: readonly AnalogLineConfig[];
  /** the control board, for line sense on lines that use it */
  board?: ControlBoard;
  log?: Log;
  /** epoch ms; anchors the audio timeline */
  clock?: () => number;
  /** environment for arecord (tests point HOME at an .asoundrc) */
  env?: NodeJS.ProcessEnv;
  arecord?: string;
}

const ANALOG_DEFAULTS: LineAnalog = { minCallSeconds: 3, hangoverMs: 4000, callerId: ['v23-fsk', 'dtmf-clip'], lineSense: false };
/** how often the stall watchdog looks */
const WATCH_MS = 250;

interface LineState {
  id: string;
  channels: readonly number[];
  analog: LineAnalog;
  sense: boolean;
  tracker: AnalogTracker;
}

interface DeviceState {
  cfg: AlsaDeviceConfig;
  capture: AlsaCapture;
  lines: LineState[];
  /** wall time audio last came, for the stall watchdog */
  lastAudio: number;
  /** the lines were told of a fault and not yet of recovery */
  faulted: boolean;
  ended: boolean;
  /** wall clock minus audio time at each block's arrival: minimum of this and the last bucket */
  lag: { cur: number; prev: number; n: number };
}

/**
 * Analog lines tapped through USB audio interfaces: one arecord per device, its channels mapped to
 * lines, one call tracker per line. A device that is unplugged, stalls or whose arecord dies puts its
 * lines in fault at once (a call under way ends there) and is retried with back-off; the lines
 * recover by themselves when audio flows again.
 */
export class AnalogSource extends LineSource {
  readonly kind = 'alsa';
  readonly lines: readonly string[];
  private readonly o: AnalogSourceOptions;
  private readonly log: Log;
  private readonly clock: () => number;
  private readonly devices: DeviceState[] = [];
  private readonly byLine = new Map<string, LineState>();
  private watchdog: NodeJS.Timeout | null = null;
  private readonly onSense = (e: LineSenseEvent): void => this.sense(e);

  constructor(o: AnalogSourceOptions) {
    super();
    this.o = o;
    this.log = o.log ?? silentLog;
    this.clock = o.clock ?? Date.now;
    this.lines = o.lines.map((l) => l.id);
    for (const d of o.devices) {
      const lines = o.lines.filter((l) => l.input?.device === d.id);
      if (lines.length === 0) continue;
      const capture = new AlsaCapture({
        device: d.device, rate: d.rate, channels: d.channels, arecord: o.arecord, env: o.env, log: this.log, clock: this.clock,
        backoff: { firstMs: d.backoffFirstMs, maxMs: d.backoffMaxMs }, ...(d.runSeconds > 0 ? { durationSec: d.runSeconds } : {}),
      });
      const dev: DeviceState = { cfg: d, capture, lines: [], lastAudio: 0, faulted: false, ended: false, lag: { cur: Infinity, prev: Infinity, n: 0 } };
      for (const l of lines) {
        const chans = l.input!.channels;
        if (chans.some((c) => c >= d.channels) || chans.length !== l.channels) {
          throw new RvError('RV_ERR_CONFIG', `Line ${l.id}: channels ${chans.join(', ')} do not fit device "${d.id}" (${d.channels} channels) or the line's ${l.channels} channel(s); fix lines.${l.id}.input.`);
        }
        const analog = l.analog ?? ANALOG_DEFAULTS;
        const sense = analog.lineSense && !!o.board;
        if (analog.lineSense && !o.board) this.log.warn({ line: l.id }, `line ${l.id} is set to use the board's line sense, but there is no control board; calls are found from the audio`);
        const st: LineState = { id: l.id, channels: chans, analog, sense, tracker: this.tracker(l.id, l.channels, analog, sense) };
        dev.lines.push(st);
        this.byLine.set(l.id, st);
      }
      capture.on('audio', (b) => this.onAudio(dev, b));
      capture.on('fault', (f) => this.fault(dev, f.code, f.message));
      capture.on('recovered', () => this.recover(dev));
      capture.on('ended', () => this.onEnded(dev));
      this.devices.push(dev);
    }
    const unmapped = o.lines.filter((l) => !this.byLine.has(l.id));
    if (unmapped.length) {
      throw new RvError('RV_ERR_CONFIG', `Line(s) ${unmapped.map((l) => l.id).join(', ')} name no configured alsa device; set lines.<id>.input.device to one of: ${o.devices.map((d) => d.id).join(', ') || 'none (add alsa.devices)'}.`);
    }
  }

  private tracker(line: string, channels: 1 | 2, a: LineAnalog, sense: boolean): AnalogTracker {
    return new AnalogTracker({ line, channels, minCallMs: a.minCallSeconds * 1000, hangoverMs: a.hangoverMs, callerId: a.callerId, lineSense: sense });
  }

  async start(): Promise<void> {
    this.o.board?.on('sense', this.onSense);
    const now = Date.now();
    for (const d of this.devices) { d.lastAudio = now; d.ended = false; await d.capture.start(); }
    this.watchdog = setInterval(() => this.watch(), WATCH_MS);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.o.board?.off('sense', this.onSense);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const d of this.devices) {
      await d.capture.stop();
      for (const l of d.lines) this.dispatch(l.id, l.tracker.flush('stopped'));
    }
  }

  /** pid of the arecord capturing a device (by device id), for diagnostics and tests */
  capturePid(deviceId: string): number | undefined {
    return this.devices.find((d) => d.cfg.id === deviceId)?.capture.pid;
  }

  private onAudio(dev: DeviceState, b: CaptureBlock): void {
    dev.lastAudio = Date.now();
    if (dev.faulted) this.recover(dev);
    const n = dev.cfg.channels;
    const frames = b.pcm.length / n;
    this.trackLag(dev, dev.lastAudio - (b.at + frames / 8));
    for (const l of dev.lines) {
      const k = l.channels.length;
      const pcm = new Int16Array(frames * k);
      for (let f = 0; f < frames; f++) for (let c = 0; c < k; c++) pcm[f * k + c] = b.pcm[f * n + l.channels[c]];
      this.dispatch(l.id, l.tracker.push({ at: b.at, channels: k as 1 | 2, pcm }));
    }
  }

  private sense(e: LineSenseEvent): void {
    const l = this.byLine.get(e.line);
    if (!l?.sense) return;
    // the sound card's clock drifts from the system's (±100 ppm is seconds a day): put the hook
    // event on the audio timeline, to within the capture latency
    const dev = this.devices.find((d) => d.lines.includes(l))!;
    const lag = Math.min(dev.lag.cur, dev.lag.prev);
    this.dispatch(l.id, l.tracker.sense(e.state, Number.isFinite(lag) ? e.at - lag : e.at));
  }

  private trackLag(dev: DeviceState, lag: number): void {
    const t = dev.lag;
    t.cur = Math.min(t.cur, lag);
    // buckets of 100 blocks (2 s at 20 ms): the minimum follows drift and ignores scheduling jitter
    if (++t.n >= 100) { t.prev = t.cur; t.cur = Infinity; t.n = 0; }
  }

  /** A capture that is running but silent is as good as unplugged: fault its lines and restart it. */
  private watch(): void {
    const now = Date.now();
    for (const d of this.devices) {
      const pid = d.capture.pid;
      if (d.ended || pid === undefined || now - d.lastAudio < d.cfg.stallMs) continue;
      const msg = `No audio from "${d.cfg.device}" for ${Math.round((now - d.lastAudio) / 100) / 10} s although arecord runs; the interface may hang or have been unplugged. Check the USB cable; restarting the capture.`;
      this.fault(d, 'RV_ERR_ALSA_STALLED', msg);
      d.lastAudio = now;
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone: the capture restarts anyway */ }
    }
  }

  private fault(dev: DeviceState, code: string, message: string): void {
    for (const l of dev.lines) {
      // a call under way ends where the audio stopped; the next run starts a new timeline
      this.dispatch(l.id, l.tracker.flush('line-fault'));
      l.tracker = this.tracker(l.id, l.channels.length as 1 | 2, l.analog, l.sense);
    }
    dev.lag = { cur: Infinity, prev: Infinity, n: 0 };
    if (dev.faulted) return;
    dev.faulted = true;
    for (const l of dev.lines) this.emit('fault', { line: l.id, code, message });
  }

  private recover(dev: DeviceState): void {
    dev.lastAudio = Date.now();
    if (!dev.faulted) return;
    dev.faulted = false;
    for (const l of dev.lines) this.emit('recovered', { line: l.id });
  }

  private onEnded(dev: DeviceState): void {
    dev.ended = true;
    this.log.info({ device: dev.cfg.id }, `capture of "${dev.cfg.device}" ended after runSeconds (${dev.cfg.runSeconds} s); its lines are no longer recorded`);
    for (const l of dev.lines) this.dispatch(l.id, l.tracker.flush('capture-ended'));
  }

  private dispatch(line: string, events: TrackerEvent[]): void {
    for (const e of events) {
      switch (e.type) {
        case 'call-start': this.emit('call-start', { line, ref: e.ref, at: e.at, channels: e.channels, parties: e.parties }); break;
        case 'call-audio': this.emit('call-audio', { line, ref: e.ref, block: e.block }); break;
        case 'call-info': this.emit('call-info', { line, ref: e.ref, parties: e.parties }); break;
        case 'call-end': this.emit('call-end', { line, ref: e.ref, at: e.at, reason: e.reason }); break;
        case 'dropped': this.log.info({ line, reason: e.reason, durationMs: Math.round(e.endAt - e.at) }, e.reason === 'missed' ? 'ringing call not answered; nothing stored' : 'call shorter than minCallSeconds; not stored'); break;
      }
    }
  }
}
