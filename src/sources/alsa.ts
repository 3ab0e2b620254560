import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { SAMPLE_RATE, msOf } from '../audio/frame.ts';
import { RvError } from '../errors.ts';
import { silentLog, type Log } from '../log.ts';
import { Decimator } from './alsa-decimate.ts';
import { describeExit, describeSpawnError, isOverrunLine, type CaptureFault } from './alsa-faults.ts';

export interface AlsaCaptureOptions {
  /** ALSA PCM name as `arecord -D` takes it, e.g. `hw:1,0` or `plughw:CARD=Device` */
  device: string;
  /** capture rate; 16000 / 48000 are low-passed and decimated to 8000 */
  rate: number;
  /** device channels; every block carries all of them interleaved */
  channels: number;
  /** block length in ms (default 20) */
  periodMs?: number;
  /** arecord binary (default 'arecord' on PATH) */
  arecord?: string;
  /** environment for arecord (tests point HOME at a dir with an .asoundrc) */
  env?: NodeJS.ProcessEnv;
  /** passed as `-d`: each run ends after this many seconds, then 'ended' (tests must bound capture) */
  durationSec?: number;
  /** restart delays after a fault: doubles from firstMs up to maxMs (default 500 ms … 10 s) */
  backoff?: { firstMs: number; maxMs: number };
  log?: Log;
  /** epoch ms; anchors block timestamps */
  clock?: () => number;
}

export interface CaptureBlock { at: number; channels: number; pcm: Int16Array }

export type AlsaCaptureEvents = {
  /** one period of audio at 8 kHz, interleaved over all device channels */
  audio: [CaptureBlock];
  /** capture stopped unexpectedly; emitted once per outage, retries follow */
  fault: [CaptureFault];
  /** audio flows again after a fault */
  recovered: [];
  /** the device buffer overflowed and some audio was lost */
  overrun: [{ message: string }];
  /** a `durationSec`-bounded run finished normally; no restart follows */
  ended: [];
};

const DEFAULT_BACKOFF = { firstMs: 500, maxMs: 10_000 };
/** time stop() waits for arecord to leave after SIGTERM before SIGKILL */
const KILL_GRACE_MS = 1000;

/** Runs arecord for one device, slices its raw stdout into timed blocks, and restarts it when it dies. */
export class AlsaCapture extends EventEmitter<AlsaCaptureEvents> {
  private readonly opts: AlsaCaptureOptions;
  private readonly log: Log;
  private readonly clock: () => number;
  private readonly blockFrames: number;
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  /** failed runs since audio last flowed; drives the back-off */
  private failures = 0;
  private faulted = false;
  private spawned = 0;
  // per-run timeline and buffers, reset by each spawn
  private base = 0;
  private framesOut = 0;
  private rest: Buffer = Buffer.alloc(0);
  private block!: Int16Array;
  private fill = 0;
  private decimator!: Decimator;

  constructor(opts: AlsaCaptureOptions) {
    super();
    const periodMs = opts.periodMs ?? 20;
    if (!Number.isInteger(opts.channels) || opts.channels < 1) {
      throw new RvError('RV_ERR_ALSA_CHANNELS', `Channel count ${opts.channels} is invalid: use 1 or 2.`);
    }
    if (opts.durationSec !== undefined && !(Number.isInteger(opts.durationSec) && opts.durationSec > 0)) {
      throw new RvError('RV_ERR_ALSA_DURATION', `durationSec must be a whole number of seconds above 0, got ${opts.durationSec}.`);
    }
    this.blockFrames = Math.round((SAMPLE_RATE * periodMs) / 1000);
    if (this.blockFrames < 1) throw new RvError('RV_ERR_ALSA_PERIOD', `periodMs ${periodMs} is too short.`);
    new Decimator(opts.rate, opts.channels); // validates the rate up front, before any spawn
    this.opts = opts;
    this.log = opts.log ?? silentLog;
    this.clock = opts.clock ?? Date.now;
  }

  /** how many times arecord has been started since construction */
  get attempts(): number { return this.spawned; }
  /** pid of the running arecord, if any */
  get pid(): number | undefined { return this.child?.pid; }
  /** true while a restart is scheduled */
  get waiting(): boolean { return this.timer !== null; }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.faulted = false;
    this.run();
  }

  /** Kills arecord and cancels any pending restart; resolves once the process is gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      child.once('close', () => { clearTimeout(force); resolve(); });
      child.kill('SIGTERM');
    });
  }

  private args(): string[] {
    const { device, rate, channels, durationSec } = this.opts;
    const a = ['-q', '-D', device, '-f', 'S16_LE', '-r', String(rate), '-c', String(channels), '-t', 'raw'];
    if (durationSec !== undefined) a.push('-d', String(durationSec));
    return a;
  }

  private run(): void {
    const bin = this.opts.arecord ?? 'arecord';
    this.spawned++;
    this.base = this.clock();
    this.framesOut = 0;
    this.rest = Buffer.alloc(0);
    this.block = new Int16Array(this.blockFrames * this.opts.channels);
    this.fill = 0;
    this.decimator = new Decimator(this.opts.rate, this.opts.channels);
    const child = spawn(bin, this.args(), { env: this.opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.log.debug({ device: this.opts.device, pid: child.pid, attempt: this.spawned }, 'arecord started');
    let stderr = '';
    let line = '';
    let done = false;
    const finish = (fault: CaptureFault | null): void => {
      if (done) return;
      done = true;
      if (this.child === child) this.child = null;
      if (this.stopped) return;
      if (fault) this.fail(fault);
      else {
        this.log.info({ device: this.opts.device }, 'arecord run ended after its set duration');
        this.stopped = true;
        this.emit('ended');
      }
    };
    child.stdout!.on('data', (chunk: Buffer) => { if (this.child === child) this.onData(chunk); });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderr = (stderr + s).slice(-2000); // only the tail matters for the fault message
      const lines = (line + s).split('\n');
      line = lines.pop() ?? '';
      for (const l of lines) if (isOverrunLine(l) && this.child === child) this.onOverrun(l.trim());
    });
    child.on('error', (err) => finish(describeSpawnError(bin, err)));
    child.on('close', (code, signal) => {
      const expected = code === 0 && this.opts.durationSec !== undefined;
      finish(expected ? null : describeExit(this.opts.device, code, signal, stderr));
    });
  }

  private fail(fault: CaptureFault): void {
    this.failures++;
    const delay = Math.min(this.backoff.maxMs, this.backoff.firstMs * 2 ** (this.failures - 1));
    this.log.warn({ device: this.opts.device, code: fault.code, retryInMs: delay, failures: this.failures }, fault.message);
    if (!this.faulted) {
      this.faulted = true;
      this.emit('fault', fault);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.run();
    }, delay);
  }

  private get backoff(): { firstMs: number; maxMs: number } { return this.opts.backoff ?? DEFAULT_BACKOFF; }

  private onOverrun(message: string): void {
    // arecord reports how long the gap lasted; skip the timeline ahead so blocks stay on wall time
    const ms = Number(/at least ([\d.]+) ms/.exec(message)?.[1] ?? 0);
    const now = this.clock();
    const next = this.base + msOf(this.framesOut);
    this.base += Math.max(0, Math.min(ms, now - next));
    this.log.warn({ device: this.opts.device, lostMs: ms }, `audio overrun on "${this.opts.device}": ${message}; the system is too busy to keep up`);
    this.emit('overrun', { message });
  }

  private onData(chunk: Buffer): void {
    const ch = this.opts.channels;
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const usable = buf.length - (buf.length % (2 * ch));
    this.rest = Buffer.from(buf.subarray(usable));
    if (usable === 0) return;
    const samples = new Int16Array(usable / 2);
    // copy into a fresh, aligned buffer; S16_LE matches the little-endian hosts this runs on
    Buffer.from(samples.buffer).set(buf.subarray(0, usable));
    if (this.faulted) {
      this.faulted = false;
      this.log.info({ device: this.opts.device }, 'audio flows again');
      this.emit('recovered');
    }
    this.failures = 0;
    const out = this.decimator.push(samples);
    let i = 0;
    while (i < out.length) {
      const n = Math.min(out.length - i, this.block.length - this.fill);
      this.block.set(out.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === this.block.length) {
        const at = this.base + msOf(this.framesOut);
        this.framesOut += this.blockFrames;
        const pcm = this.block;
        this.block = new Int16Array(pcm.length);
        this.fill = 0;
        this.emit('audio', { at, channels: ch, pcm });
        if (this.stopped) return; // a listener may stop us mid-chunk
      }
    }
  }
}
