import { spawn, type ChildProcess } from 'node:child_process';
import { ControlBoard, type LedState } from './board.ts';
import type { Log } from '../log.ts';

/**
 * The Pi header board through libgpiod 1.6 tools (Debian `gpiod`): `gpiomon` reports button and
 * opto edges, `gpioget` reads the sense inputs at start, `gpioset` drives the LEDs. Inputs are
 * debounced here; LED patterns match board/PROTOCOL.md.
 */

export interface GpioPins { chip: string; buttons: number[]; leds: number[]; sense: number[]; activeLow: boolean; debounceMs: number }

export interface GpioBoardOptions {
  pins: GpioPins;
  lines: () => readonly string[];
  longPressMs: () => number;
  log: Log;
  /** tool names (tests may point them elsewhere); default the Debian binaries on PATH */
  tools?: { gpiomon: string; gpioget: string; gpioset: string };
  backoff?: { minMs: number; maxMs: number };
}

/** The custom gpiomon output format asked for: offset, edge (1 rising, 0 falling), seconds, nanoseconds. */
export const GPIOMON_FORMAT = '%o %e %s %n';

export interface GpioEdge { offset: number; rising: boolean; ms: number }

/**
 * Parses one gpiomon line: the custom format above, or gpiomon 1.6's default
 * `event:  RISING EDGE offset: 17 timestamp: [    1234.567890123]`. Anything else is undefined.
 */
export function parseGpiomon(line: string): GpioEdge | undefined {
  let m = /^(\d{1,3}) ([01]) (\d{1,12}) (\d{1,9})$/.exec(line.trim());
  if (m) return { offset: Number(m[1]), rising: m[2] === '1', ms: Number(m[3]) * 1000 + Number(m[4]) / 1e6 };
  m = /^event:\s+(RISING|FALLING) EDGE offset: (\d{1,3}) timestamp: \[\s*(\d{1,12})\.(\d{9})\]$/.exec(line.trim());
  if (m) return { offset: Number(m[2]), rising: m[1] === 'RISING', ms: Number(m[3]) * 1000 + Number(m[4]) / 1e6 };
  return undefined;
}

/** Debounces one input: a level counts once it has held for `ms` (times from the kernel's event stamps). */
export class Debouncer {
  private raw: boolean;
  private since = -Infinity;
  constructor(private readonly ms: number, public stable: boolean) { this.raw = stable; }

  /** An edge at time t; returns when to call settle(). */
  edge(level: boolean, t: number): number {
    this.raw = level;
    this.since = t;
    return t + this.ms;
  }

  /** At time t: the new stable level if it changed, else undefined. */
  settle(t: number): boolean | undefined {
    if (t - this.since < this.ms || this.raw === this.stable) return undefined;
    this.stable = this.raw;
    return this.stable;
  }
}

/** LED pattern as [on, ms] steps, looped; one step = steady. */
export function ledPattern(state: Exclude<LedState, 'ack'>): [boolean, number][] {
  switch (state) {
    case 'idle': return [[false, 1000]];
    case 'buffering': return [[true, 100], [false, 1900]];
    case 'keeping': return [[true, 1000]];
    case 'private': return [[true, 100], [false, 100], [true, 100], [false, 1700]];
    case 'fault': return [[true, 125], [false, 125]];
  }
}

export const ACK_MS = 150;

export class GpioBoard extends ControlBoard {
  readonly kind = 'gpio' as const;
  private mon?: ChildProcess;
  private ok = false;
  private stopped = false;
  private faulted = false;
  private backoffMs: number;
  private retry?: NodeJS.Timeout;
  private readonly inputs = new Map<number, { deb: Debouncer; timer?: NodeJS.Timeout; longTimer?: NodeJS.Timeout; longFired?: boolean }>();
  private readonly leds = new Map<number, { state: Exclude<LedState, 'ack'>; step: number; timer?: NodeJS.Timeout; level?: boolean; ackUntil: number }>();

  constructor(private readonly o: GpioBoardOptions) {
    super();
    this.backoffMs = o.backoff?.minMs ?? 500;
  }

  get connected(): boolean { return this.ok; }

  private tool(name: 'gpiomon' | 'gpioget' | 'gpioset'): string { return this.o.tools?.[name] ?? name; }
  private lowFlag(): string[] { return this.o.pins.activeLow ? ['-l'] : []; }

  async start(): Promise<void> {
    this.stopped = false;
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ok = false;
    clearTimeout(this.retry);
    this.mon?.kill();
    for (const i of this.inputs.values()) { clearTimeout(i.timer); clearTimeout(i.longTimer); }
    for (const l of this.leds.values()) clearTimeout(l.timer);
  }

  setLed(line: string, state: LedState): void {
    const i = this.o.lines().indexOf(line);
    const offset = this.o.pins.leds[i];
    if (i < 0 || offset === undefined) return;
    let led = this.leds.get(offset);
    if (state === 'ack') {
      if (!led) return;
      led.ackUntil = Date.now() + ACK_MS;
      clearTimeout(led.timer);
      this.write(offset, !(led.level ?? false));
      led.timer = setTimeout(() => { led!.ackUntil = 0; this.runLed(offset); }, ACK_MS);
      return;
    }
    if (led?.state === state) return;
    if (!led) { led = { state, step: 0, ackUntil: 0 }; this.leds.set(offset, led); }
    led.state = state;
    led.step = 0;
    clearTimeout(led.timer);
    if (Date.now() >= led.ackUntil) this.runLed(offset);
  }

  private runLed(offset: number): void {
    const led = this.leds.get(offset);
    if (!led || this.stopped) return;
    const steps = ledPattern(led.state);
    const [on, ms] = steps[led.step % steps.length]!;
    if (led.level !== on) this.write(offset, on);
    led.level = on;
    if (steps.length > 1) {
      led.step = (led.step + 1) % steps.length;
      led.timer = setTimeout(() => this.runLed(offset), ms);
    }
  }

  private write(offset: number, on: boolean): void {
    if (!this.ok) return;
    const p = spawn(this.tool('gpioset'), ['--mode=exit', this.o.pins.chip, `${offset}=${on ? 1 : 0}`], { stdio: 'ignore' });
    p.on('error', (e) => this.o.log.debug({ err: e }, 'gpioset failed'));
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const { chip, buttons, sense } = this.o.pins;
    const offsets = [...buttons, ...sense];
    if (offsets.length === 0) return this.lost('The gpio board has no button or sense pins configured; set board.gpio.buttons.');
    let initial: boolean[];
    try {
      initial = await this.readLevels(offsets);
    } catch (e) {
      return this.lost((e as Error).message);
    }
    this.useLevels(initial);
    const mon = spawn(this.tool('gpiomon'), ['-b', ...this.lowFlag(), '-F', GPIOMON_FORMAT, chip, ...offsets.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.mon = mon;
    let err = '';
    let buf = '';
    mon.stderr!.setEncoding('utf8').on('data', (s: string) => { err = (err + s).slice(-400); });
    mon.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.feed(line);
      }
      if (buf.length > 1024) buf = '';
    });
    mon.on('error', (e) => { if (this.mon === mon) this.lost(`Cannot run ${this.tool('gpiomon')} (${e.message}); install the Debian package gpiod.`); });
    mon.on('close', (code) => { if (this.mon === mon && !this.stopped) this.lost(`gpiomon on ${chip} stopped (exit ${code}): ${err.trim() || 'no message'}; check board.gpio.chip (gpiodetect) and that the service user is in the gpio group.`); });
    this.ok = true;
    this.backoffMs = this.o.backoff?.minMs ?? 500;
    // Report where the lines stand now: gpiomon only reports changes.
    sense.forEach((off, k) => {
      const line = this.o.lines()[k];
      if (line !== undefined) this.emit('sense', { line, state: this.inputs.get(off)!.deb.stable ? 'offhook' : 'onhook', at: Date.now() });
    });
    for (const off of this.leds.keys()) { const l = this.leds.get(off)!; l.level = undefined; this.runLed(off); }
    if (this.faulted) { this.faulted = false; this.emit('recovered'); }
  }

  /** Starts debouncing from these levels (gpioget's answer, in buttons-then-sense order). */
  useLevels(levels: readonly boolean[]): void {
    [...this.o.pins.buttons, ...this.o.pins.sense].forEach((off, k) => this.inputs.set(off, { deb: new Debouncer(this.o.pins.debounceMs, levels[k] ?? false) }));
  }

  /** One line of gpiomon's output. */
  feed(line: string): void {
    const e = parseGpiomon(line);
    if (e) this.onEdge(e); else this.o.log.warn({ line: line.slice(0, 80) }, 'gpiomon printed a line that is not an event; ignored');
  }

  private readLevels(offsets: number[]): Promise<boolean[]> {
    return new Promise((res, rej) => {
      const p = spawn(this.tool('gpioget'), [...this.lowFlag(), this.o.pins.chip, ...offsets.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      p.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
      p.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
      p.on('error', (e) => rej(new Error(`Cannot run ${this.tool('gpioget')} (${e.message}); install the Debian package gpiod.`)));
      p.on('close', (code) => {
        const levels = out.trim().split(/\s+/);
        if (code === 0 && levels.length === offsets.length && levels.every((v) => v === '0' || v === '1')) res(levels.map((v) => v === '1'));
        else rej(new Error(`Cannot read GPIO ${this.o.pins.chip} (${err.trim() || `exit ${code}`}); check board.gpio.chip (gpiodetect) and that the service user is in the gpio group.`));
      });
    });
  }

  private onEdge(e: GpioEdge): void {
    const input = this.inputs.get(e.offset);
    if (!input) return;
    // Kernel stamps decide the debounce; the wall clock only schedules the check.
    const due = input.deb.edge(e.rising, e.ms);
    clearTimeout(input.timer);
    input.timer = setTimeout(() => {
      const level = input.deb.settle(due);
      if (level !== undefined) this.onStable(e.offset, level);
    }, Math.max(0, due - e.ms));
  }

  private onStable(offset: number, active: boolean): void {
    const lines = this.o.lines();
    const b = this.o.pins.buttons.indexOf(offset);
    if (b >= 0) {
      const input = this.inputs.get(offset)!;
      const line = b < lines.length ? lines[b] : undefined;
      const press = (kind: 'short' | 'long') => this.emit('press', { ...(line !== undefined ? { line } : {}), kind, at: Date.now() });
      if (active) {
        input.longFired = false;
        input.longTimer = setTimeout(() => { input.longFired = true; press('long'); }, this.o.longPressMs());
      } else {
        clearTimeout(input.longTimer);
        if (input.longFired === false) press('short');
        input.longFired = undefined;
      }
      return;
    }
    const s = this.o.pins.sense.indexOf(offset);
    const line = lines[s];
    if (s >= 0 && line !== undefined) this.emit('sense', { line, state: active ? 'offhook' : 'onhook', at: Date.now() });
  }

  private lost(message: string): void {
    if (this.stopped) return;
    this.ok = false;
    this.mon = undefined;
    if (!this.faulted) {
      this.faulted = true;
      this.o.log.warn({ code: 'RV_ERR_BOARD_GPIO' }, message);
      this.emit('fault', { code: 'RV_ERR_BOARD_GPIO', message });
    }
    this.retry = setTimeout(() => void this.attempt(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoff?.maxMs ?? 30_000);
  }
}
