import { EventEmitter } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wav from 'node-wav';
import type { ControlBoard, LedState, PressEvent } from './board.ts';
import { type LineStatus, type LiveCallStatus, type Recorder } from '../calls/recorder.ts';
import { unitKey } from '../config/trunk.ts';
import type { Health } from '../health.ts';
import type { Log } from '../log.ts';
import { isRvError } from '../errors.ts';

export type ButtonMode = 'per-line' | 'all';

/** What button/LED n of the board is for: a line, or one extension's calls on a trunk line. */
export interface BoardUnit { line: string; extension?: string | undefined }

/**
 * What a line's LED shows: fault > private > keeping > buffering > idle, over the line's live calls
 * (a trunk's several), or over `only` those (by ref) of the extension the LED belongs to.
 */
export function ledFor(line: Pick<LineStatus, 'state' | 'call'> & { calls?: LiveCallStatus[] }, boxFault: boolean, only?: ReadonlySet<string>): Exclude<LedState, 'ack'> {
  if (boxFault || line.state === 'fault') return 'fault';
  let calls = line.calls?.length ? line.calls : line.call ? [line.call] : [];
  if (only) calls = calls.filter((c) => only.has(c.ref));
  if (calls.some((c) => c.private)) return 'private';
  if (calls.some((c) => c.keeping) || (!only && line.state === 'keeping')) return 'keeping';
  if (calls.length) return 'buffering';
  return 'idle';
}

/**
 * Which lines a press acts on. Per-line mode: the pressed button's line; one-button mode (or a
 * button without a line of its own): every line with a live call, or else every line whose call
 * ended within the grace period.
 */
export function pressTargets(p: Pick<PressEvent, 'line'>, mode: ButtonMode, lines: readonly LineStatus[], now: number): string[] {
  if (mode === 'per-line' && p.line !== undefined) return [p.line];
  const live = lines.filter((l) => l.call).map((l) => l.id);
  if (live.length > 0) return live;
  return lines.filter((l) => l.lastEnded && now <= l.lastEnded.savableUntil).map((l) => l.id);
}

export interface PressOutcome { line: string; kind: 'short' | 'long'; ok: boolean; callId?: string; error?: string }

export interface ControllerDeps {
  board: ControlBoard;
  recorder: Recorder;
  health: Health;
  log: Log;
  now: () => number;
  mode: () => ButtonMode;
  /** appends an audit entry (the box's audit log) */
  audit: (e: { actor: string; action: string; target?: string; detail?: Record<string, unknown> }) => Promise<unknown>;
  /** ALSA device for the "now kept" beep; undefined = no beep */
  beepDevice: () => string | undefined;
  /** what each button/LED is for, in board order (default: one per line) */
  units?: () => readonly BoardUnit[];
}

/** The bridge between the board and the recorder: presses become keep/private, states become LEDs. */
export class BoardController extends EventEmitter<{ handled: [PressOutcome]; beep: [{ device: string; ok: boolean }] }> {
  private readonly shown = new Map<string, LedState>();
  private beepFile?: string;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly d: ControllerDeps) {
    super();
    const on = <A extends unknown[]>(em: { on(e: string, f: (...a: A) => void): unknown; off(e: string, f: (...a: A) => void): unknown }, ev: string, f: (...a: A) => void) => {
      em.on(ev, f);
      this.unsubscribe.push(() => em.off(ev, f));
    };
    on(d.board, 'press', (p: PressEvent) => this.onPress(p));
    on(d.board, 'recovered', () => { this.shown.clear(); this.update(); });
    on(d.recorder, 'change', () => this.update());
    on(d.recorder, 'kept', (k: { keptBy: string }) => { if (k.keptBy !== 'import') this.beep(); });
    on(d.health, 'change', () => this.update());
    this.update();
  }

  stop(): void { for (const f of this.unsubscribe.splice(0)) f(); }

  private units(status: readonly LineStatus[]): readonly BoardUnit[] {
    const u = this.d.units?.() ?? [];
    return u.length ? u : status.map((l) => ({ line: l.id }));
  }

  /** The LED state of every button (by line id, or "line:extension" for a trunk extension's button), as the board shows it. */
  leds(): Record<string, LedState> {
    const boxFault = this.d.health.boxFault();
    const status = this.d.recorder.status();
    const out: Record<string, LedState> = {};
    for (const u of this.units(status)) {
      const l = status.find((x) => x.id === u.line);
      if (l) out[unitKey(u)] = ledFor(l, boxFault, u.extension !== undefined ? this.d.recorder.refsOf(u.line, u.extension) : undefined);
    }
    return out;
  }

  private update(): void {
    for (const [line, state] of Object.entries(this.leds())) {
      if (this.shown.get(line) === state) continue;
      this.shown.set(line, state);
      this.d.board.setLed(line, state);
    }
  }

  private onPress(p: PressEvent): void {
    const status = this.d.recorder.status();
    // Acknowledge first, before any disk work, so the flash comes at once.
    for (const l of p.line !== undefined ? [p.line] : this.units(status).map(unitKey)) this.d.board.setLed(l, 'ack');
    // A button mapped to a trunk extension acts on that extension's calls only.
    const unit = this.d.mode() === 'per-line' && p.line !== undefined ? this.units(status).find((u) => unitKey(u) === p.line) : undefined;
    if (unit) { void this.act(unit.line, p.kind, unit.extension); return; }
    const targets = pressTargets(p, this.d.mode(), status, this.d.now());
    if (targets.length === 0) {
      this.d.log.info({ kind: p.kind }, 'save button pressed with no live or just-ended call');
      this.emit('handled', { line: p.line ?? '', kind: p.kind, ok: false, error: 'There is no live or just-ended call to act on.' });
      return;
    }
    for (const line of targets) void this.act(line, p.kind);
  }

  private async act(line: string, kind: 'short' | 'long', extension?: string): Promise<void> {
    try {
      if (kind === 'short') {
        const r = await this.d.recorder.save(line, { keptBy: 'button', extension });
        for (const callId of r.callIds) this.emit('handled', { line, kind, ok: true, callId });
      } else {
        await this.d.recorder.private(line, { extension });
        await this.d.audit({ actor: 'button', action: 'call.private', detail: { line } });
        this.emit('handled', { line, kind, ok: true });
      }
    } catch (e) {
      const error = (e as Error).message;
      if (isRvError(e)) this.d.log.info({ line, kind, code: e.code }, error);
      else this.d.log.error({ err: e, line, kind }, 'save button press failed');
      this.emit('handled', { line, kind, ok: false, error });
    }
    this.update();
  }

  /** Plays a short two-tone beep through `aplay`, the staff notice that a call is now kept. */
  private beep(): void {
    const device = this.d.beepDevice();
    if (device === undefined) return;
    this.beepFile ??= writeBeep();
    const child = spawn('aplay', ['-q', '-D', device, this.beepFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    child.on('error', (e) => { this.d.log.warn({ err: e }, 'beep failed: aplay is missing (install alsa-utils)'); this.emit('beep', { device, ok: false }); });
    child.on('close', (code) => {
      if (code === 0) { this.emit('beep', { device, ok: true }); return; }
      if (code !== null) this.d.log.warn({ device, stderr: err.trim().slice(0, 200) }, 'beep failed: aplay could not play on the audio output; check board.beepDevice');
      this.emit('beep', { device, ok: false });
    });
  }
}

/** 2 × 120 ms at 1 kHz with 5 ms ramps, 8 kHz mono, −12 dBFS: audible, not startling. */
export function beepSamples(rate = 8000): Float32Array {
  const tone = Math.round(0.12 * rate), gap = Math.round(0.08 * rate), ramp = Math.round(0.005 * rate);
  const out = new Float32Array(tone * 2 + gap);
  for (const start of [0, tone + gap]) {
    for (let i = 0; i < tone; i++) {
      const env = Math.min(1, i / ramp, (tone - 1 - i) / ramp);
      out[start + i] = 0.25 * env * Math.sin((2 * Math.PI * 1000 * i) / rate);
    }
  }
  return out;
}

function writeBeep(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ringvault-beep-')), 'beep.wav');
  writeFileSync(file, wav.encode([beepSamples()], { sampleRate: 8000, bitDepth: 16 }));
  return file;
}
