import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_RATE, msOf } from '../audio/frame.ts';
import { readWav } from '../audio/wav.ts';
import { RvError, isRvError } from '../errors.ts';
import { LineSource, type CallParties, type Direction } from './source.ts';

export interface SimLine { id: string; channels: 1 | 2 }
export interface SimRandom { meanGapSec: number; minSec: number; maxSec: number }

export interface SimSourceOptions {
  lines: SimLine[];
  /** folder of 8 kHz mono 16-bit WAVs (assets/speech) */
  speechDir: string;
  /** when set, every idle line starts a call after an exponential gap (mean in s), lasting minSec…maxSec */
  random?: SimRandom | false;
  /** 1 = real time; > 1 plays faster, timestamps still advance in sample time */
  speed?: number;
  /** wall time in epoch ms; drives both timestamps and pacing, so a fake clock steps the calls */
  clock?: () => number;
  /** uniform 0…1 source for gaps, durations, numbers and noise; tests may pass a seeded one */
  rng?: () => number;
}

export interface PlaceCallOpts {
  direction?: Direction;
  caller?: string;
  called?: string;
  extension?: string;
  durationSec?: number;
  /** digits the caller keys during the call (say, a card number): one every KEY_GAP_MS from KEY_FIRST_MS */
  digits?: string;
}

/** when a simulated call's first keyed digit comes, and the gap between digits */
const KEY_FIRST_MS = 500;
const KEY_GAP_MS = 250;

/** 20 ms at the line rate */
const BLOCK_FRAMES = 160;
/** call length when placeCall gives none and the source is not random */
const DEFAULT_CALL = { minSec: 8, maxSec: 30 };
/** peak of the triangular line hiss, about -70 dBFS RMS: audible as "open line", far below speech */
const HISS = 24;
/** silence between one party finishing and the other answering */
const TURN_GAP_SEC = { min: 0.25, max: 0.8 };
/** Dutch geographic area codes (without the trunk 0) used for landline numbers */
const AREA_CODES = ['10', '13', '15', '20', '24', '26', '30', '40', '50', '70'];

const clampInt16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/** One conversation's audio: the caller's clip on channel 0, a pause, the answer on channel 1, and so on. */
class Conversation {
  private speaker: 0 | 1 = 0;
  private clip: Int16Array;
  private pos = 0;
  /** frames of silence left before the other party speaks; 0 while someone is speaking */
  private gap = 0;

  constructor(
    private readonly clips: readonly Int16Array[],
    private readonly channels: 1 | 2,
    private readonly rng: () => number,
  ) {
    this.clip = this.pick();
  }

  private pick(): Int16Array {
    return this.clips[Math.floor(this.rng() * this.clips.length)];
  }

  private hiss(): number {
    return Math.round((this.rng() - this.rng()) * HISS);
  }

  /** The next `frames` frames, interleaved when stereo. */
  next(frames: number): Int16Array {
    const out = new Int16Array(frames * this.channels);
    for (let f = 0; f < frames; f++) {
      let voice = 0;
      if (this.gap > 0) {
        if (--this.gap === 0) {
          this.speaker = this.speaker === 0 ? 1 : 0;
          this.clip = this.pick();
          this.pos = 0;
        }
      } else {
        voice = this.clip[this.pos++];
        if (this.pos >= this.clip.length) {
          const sec = TURN_GAP_SEC.min + this.rng() * (TURN_GAP_SEC.max - TURN_GAP_SEC.min);
          this.gap = Math.max(1, Math.round(sec * SAMPLE_RATE));
        }
      }
      const a = this.hiss() + (this.speaker === 0 ? voice : 0);
      const b = this.hiss() + (this.speaker === 1 ? voice : 0);
      if (this.channels === 2) {
        out[2 * f] = clampInt16(a);
        out[2 * f + 1] = clampInt16(b);
      } else {
        out[f] = clampInt16(a + b);
      }
    }
    return out;
  }
}

interface LiveCall {
  ref: string;
  /** sim-time ms of the first sample; whole ms so block times add up exactly, rounded up so calls on a line never overlap */
  startAt: number;
  /** frames per channel the call lasts */
  total: number;
  /** frames per channel emitted so far */
  sent: number;
  audio: Conversation;
  /** digits still to be keyed, and how many were keyed so far */
  keys?: { digits: string; keyed: number };
}

interface LineState {
  id: string;
  channels: 1 | 2;
  /** the number this line answers on / presents when calling out */
  did: string;
  faulted: boolean;
  call?: LiveCall;
  /** sim-time ms at which a random call starts, when random and idle */
  nextCallAt?: number;
}

const configError = (message: string): RvError => new RvError('RV_ERR_SIM_CONFIG', message);

function checkOptions(opts: SimSourceOptions): void {
  if (opts.lines.length === 0) throw configError('The simulated source needs at least one line.');
  const ids = new Set<string>();
  for (const l of opts.lines) {
    if (!l.id || ids.has(l.id)) throw configError(`Line ids must be unique and non-empty; "${l.id}" is not.`);
    if (l.channels !== 1 && l.channels !== 2) throw configError(`Line ${l.id} has ${l.channels} channels; use 1 or 2.`);
    ids.add(l.id);
  }
  const speed = opts.speed ?? 1;
  if (!(speed > 0 && Number.isFinite(speed))) throw configError(`Simulation speed must be above 0; got ${speed}.`);
  const r = opts.random;
  if (r && !(r.meanGapSec > 0 && r.minSec > 0 && r.maxSec >= r.minSec && Number.isFinite(r.maxSec))) {
    throw configError(
      `Random calls need meanGapSec > 0 and 0 < minSec <= maxSec; got ${r.meanGapSec}, ${r.minSec}, ${r.maxSec}.`,
    );
  }
}

/** Reads every *.wav in `dir`; they must be at the line rate, mono, and not empty. */
async function loadSpeech(dir: string): Promise<Int16Array[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.wav')).sort();
  } catch (e) {
    throw new RvError('RV_ERR_SIM_SPEECH', `Cannot read the speech folder ${dir}: ${(e as Error).message}`);
  }
  if (names.length === 0) {
    throw new RvError('RV_ERR_SIM_SPEECH', `No .wav files in ${dir}; make them with test/fixtures/make-speech.sh.`);
  }
  return Promise.all(
    names.map(async (name) => {
      let wav;
      try {
        wav = readWav(await readFile(join(dir, name)));
      } catch (e) {
        if (isRvError(e)) throw new RvError(e.code, `${join(dir, name)}: ${e.message}`);
        throw e;
      }
      if (wav.sampleRate !== SAMPLE_RATE || wav.channels !== 1 || wav.pcm.length === 0) {
        throw new RvError(
          'RV_ERR_WAV_FORMAT',
          `${join(dir, name)} is ${wav.sampleRate} Hz, ${wav.channels} channel(s), ${wav.pcm.length} samples; the simulator needs non-empty ${SAMPLE_RATE} Hz mono.`,
        );
      }
      return wav.pcm;
    }),
  );
}

/**
 * Simulated lines for the demo and tests: scripted (`placeCall`) or random calls whose audio is
 * speech clips taking turns, paced by one interval timer per source.
 */
export class SimSource extends LineSource {
  readonly kind = 'sim';
  readonly lines: readonly string[];

  private readonly state = new Map<string, LineState>();
  private readonly random: SimRandom | false;
  private readonly speed: number;
  private readonly clock: () => number;
  private readonly rng: () => number;
  private readonly tickMs: number;
  private speech?: Promise<Int16Array[]>;
  private clips: readonly Int16Array[] = [];
  private running = false;
  private timer?: NodeJS.Timeout;
  /** clock reading and sim time at start(): sim time runs `speed` times as fast as the clock from there */
  private clockBase = 0;
  private simBase = 0;
  /** sim time at the last stop(), so a restart never goes back in time */
  private simStopped = 0;

  constructor(private readonly opts: SimSourceOptions) {
    super();
    checkOptions(opts);
    this.random = opts.random ?? false;
    this.speed = opts.speed ?? 1;
    this.clock = opts.clock ?? (() => performance.timeOrigin + performance.now());
    this.rng = opts.rng ?? Math.random;
    this.tickMs = Math.max(1, Math.round(msOf(BLOCK_FRAMES) / this.speed));
    this.lines = opts.lines.map((l) => l.id);
    opts.lines.forEach((l, i) => {
      const did = `+3120555${String(100 + i).padStart(4, '0')}`;
      this.state.set(l.id, { id: l.id, channels: l.channels, did, faulted: false });
    });
  }

  async start(): Promise<void> {
    // cache the load so concurrent starts share it; forget a failed load so start() can be retried
    this.speech ??= loadSpeech(this.opts.speechDir).catch((e: unknown) => {
      this.speech = undefined;
      throw e;
    });
    const clips = await this.speech;
    if (this.running) return;
    this.clips = clips;
    this.clockBase = this.clock();
    this.simBase = Math.max(this.clockBase, this.simStopped);
    this.running = true;
    for (const line of this.state.values()) this.scheduleNext(line);
    this.updateTimer();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const now = this.now();
    this.running = false;
    this.simStopped = now;
    for (const line of this.state.values()) {
      line.nextCallAt = undefined;
      if (line.call) {
        this.pump(line, now, true);
        this.end(line, 'shutdown');
      }
    }
    this.updateTimer();
  }

  /** Starts a call now; returns its ref. */
  placeCall(lineId: string, opts: PlaceCallOpts = {}): string {
    const line = this.line(lineId);
    if (!this.running) throw new RvError('RV_ERR_SOURCE_STOPPED', 'The simulated source is not running; start it first.', 409);
    if (line.faulted) throw new RvError('RV_ERR_LINE_FAULT', `Line ${lineId} is faulted; clear the fault first.`, 409);
    if (line.call) throw new RvError('RV_ERR_LINE_BUSY', `Line ${lineId} is already in a call; hang up first.`, 409);
    if (opts.durationSec !== undefined && !(Math.round(opts.durationSec * SAMPLE_RATE) >= 1 && Number.isFinite(opts.durationSec))) {
      throw new RvError('RV_ERR_SIM_DURATION', `A call must last a positive, finite time; got ${opts.durationSec} s.`);
    }
    return this.begin(line, opts);
  }

  /** Ends the line's call now (audio up to this moment is sent first); no-op when idle. */
  hangup(lineId: string): void {
    const line = this.line(lineId);
    if (!line.call) return;
    this.pump(line, this.now(), true);
    this.end(line, 'hangup');
  }

  busy(lineId: string): boolean {
    return this.line(lineId).call !== undefined;
  }

  /** A faulted line ends its call (reason 'fault'), sends no audio and takes no calls until it recovers. */
  setFault(lineId: string, fault: boolean): void {
    const line = this.line(lineId);
    if (line.faulted === fault) return;
    line.faulted = fault;
    if (fault) {
      line.nextCallAt = undefined;
      if (line.call) {
        this.pump(line, this.now(), true);
        this.end(line, 'fault');
      }
      this.emit('fault', { line: lineId, code: 'RV_ERR_SIM_FAULT', message: `Line ${lineId} cannot be heard (simulated fault).` });
    } else {
      this.scheduleNext(line);
      this.emit('recovered', { line: lineId });
    }
    this.updateTimer();
  }

  private line(id: string): LineState {
    const line = this.state.get(id);
    if (!line) {
      throw new RvError('RV_ERR_UNKNOWN_LINE', `There is no line "${id}"; known lines: ${this.lines.join(', ')}.`, 404);
    }
    return line;
  }

  /** Sim time in epoch ms: the clock, sped up by `speed` since start(). */
  private now(): number {
    return this.simBase + (this.clock() - this.clockBase) * this.speed;
  }

  private begin(line: LineState, opts: PlaceCallOpts): string {
    const range = this.random || DEFAULT_CALL;
    const durationSec = opts.durationSec ?? range.minSec + this.rng() * (range.maxSec - range.minSec);
    const direction = opts.direction ?? (this.rng() < 0.5 ? 'in' : 'out');
    const call: LiveCall = {
      ref: randomUUID(),
      startAt: Math.ceil(this.now()),
      total: Math.max(1, Math.round(durationSec * SAMPLE_RATE)),
      sent: 0,
      audio: new Conversation(this.clips, line.channels, this.rng),
      ...(opts.digits ? { keys: { digits: opts.digits, keyed: 0 } } : {}),
    };
    line.call = call;
    line.nextCallAt = undefined;
    this.updateTimer();
    this.emit('call-start', {
      line: line.id,
      ref: call.ref,
      at: call.startAt,
      channels: line.channels,
      parties: this.parties(line, direction, opts),
    });
    return call.ref;
  }

  private parties(line: LineState, direction: Direction, opts: PlaceCallOpts): CallParties {
    const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(this.rng() * 10)).join('');
    // national format as dialled: mobile 06 + 8 digits, or landline 0 + area + subscriber
    const national =
      this.rng() < 0.5
        ? `06${digits(8)}`
        : `0${AREA_CODES[Math.floor(this.rng() * AREA_CODES.length)]}${1 + Math.floor(this.rng() * 9)}${digits(6)}`;
    const extension = opts.extension ?? String(201 + Math.floor(this.rng() * 49));
    if (direction === 'in') {
      const caller = opts.caller ?? (this.rng() < 0.08 ? 'withheld' : `+31${national.slice(1)}`);
      return { direction, caller, called: opts.called ?? line.did, extension };
    }
    return { direction, caller: opts.caller ?? line.did, called: opts.called ?? national, extension };
  }

  /**
   * Emits the call's audio due by `now` in 20 ms blocks; a shorter block only for the call's
   * last frames or when `flush`ing before an early end. Ends the call when it is complete.
   */
  private pump(line: LineState, now: number, flush: boolean): void {
    const call = line.call;
    if (!call) return;
    const due = Math.min(call.total, Math.floor(((now - call.startAt) * SAMPLE_RATE) / 1000));
    // a listener may hang up or stop from inside an event: re-check that this call is still live
    while (line.call === call && call.sent < due) {
      const frames = Math.min(BLOCK_FRAMES, due - call.sent);
      if (frames < BLOCK_FRAMES && !flush && due < call.total) break;
      const at = call.startAt + msOf(call.sent);
      call.sent += frames;
      this.emit('call-audio', {
        line: line.id,
        ref: call.ref,
        block: { at, channels: line.channels, pcm: call.audio.next(frames) },
      });
      this.key(line, call);
    }
    if (line.call === call && call.sent >= call.total) this.end(line, 'hangup');
  }

  /** Reports the digits keyed up to the audio sent so far, as a trunk's RFC 4733 events or a DTMF detector would. */
  private key(line: LineState, call: LiveCall): void {
    const k = call.keys;
    if (!k || line.call !== call) return;
    const before = k.keyed;
    while (k.keyed < k.digits.length && KEY_FIRST_MS + k.keyed * KEY_GAP_MS <= msOf(call.sent)) k.keyed++;
    if (k.keyed > before) this.emit('call-info', { line: line.id, ref: call.ref, parties: { digits: k.digits.slice(0, k.keyed) } });
  }

  private end(line: LineState, reason: string): void {
    const call = line.call;
    if (!call) return;
    line.call = undefined;
    this.scheduleNext(line);
    this.updateTimer();
    this.emit('call-end', { line: line.id, ref: call.ref, at: call.startAt + msOf(call.sent), reason });
  }

  /** Picks when an idle random line calls next: an exponential gap, so calls arrive as a Poisson process. */
  private scheduleNext(line: LineState): void {
    if (!this.random || !this.running || line.faulted || line.call) return;
    line.nextCallAt = this.now() - Math.log(1 - this.rng()) * this.random.meanGapSec * 1000;
  }

  private tick(): void {
    const now = this.now();
    for (const line of this.state.values()) {
      if (line.call) this.pump(line, now, false);
      else if (line.nextCallAt !== undefined && now >= line.nextCallAt && this.running) this.begin(line, {});
    }
  }

  /** One interval while there is anything to pace (a live call, or random calls to start); none otherwise. */
  private updateTimer(): void {
    const needed = this.running && (this.random !== false || [...this.state.values()].some((l) => l.call));
    if (needed && !this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
    } else if (!needed && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
