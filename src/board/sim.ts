import { ControlBoard, type LedState, type LineSenseState } from './board.ts';
import { RvError } from '../errors.ts';

export interface SimLedChange { line: string; state: LedState; at: number }

/**
 * The simulated control board: the dashboard's simulation panel and the tests press its buttons and
 * flip its line sense; it remembers what the box showed on each LED, as a real board would display it.
 */
export class SimBoard extends ControlBoard {
  readonly kind = 'sim' as const;
  private plugged = true;
  private running = false;
  private readonly shown = new Map<string, LedState>();
  private readonly watchers = new Set<(c: SimLedChange) => void>();

  constructor(private readonly o: { lines: () => readonly string[]; now?: () => number }) { super(); }

  get connected(): boolean { return this.running && this.plugged; }

  async start(): Promise<void> { this.running = true; }
  async stop(): Promise<void> { this.running = false; }

  setLed(line: string, state: LedState): void {
    // Before start() the board already shows what it is told; unplugged it shows nothing.
    if (!this.plugged) return;
    // ACK is a flash on top of the state shown, so it is reported but not stored.
    if (state !== 'ack') {
      if (this.shown.get(line) === state) return;
      this.shown.set(line, state);
    }
    const c = { line, state, at: this.now() };
    for (const w of this.watchers) w(c);
  }

  /** What the LED of a line shows now (ACK flashes are not a lasting state). */
  led(line: string): LedState | undefined { return this.shown.get(line); }

  /** Calls `fn` with every LED change the box makes, ACK flashes included; returns an unsubscribe. */
  watchLeds(fn: (c: SimLedChange) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** Presses a line's button (or the one button when `line` is undefined). */
  press(line: string | undefined, kind: 'short' | 'long'): void {
    if (!this.connected) return;
    if (line !== undefined) this.known(line);
    this.emit('press', { ...(line !== undefined ? { line } : {}), kind, at: this.now() });
  }

  sense(line: string, state: LineSenseState): void {
    if (!this.connected) return;
    this.known(line);
    this.emit('sense', { line, state, at: this.now() });
  }

  /** Pulls the (simulated) plug: the box sees a board fault, as when a USB cable comes out. */
  unplug(): void {
    if (!this.plugged) return;
    this.plugged = false;
    this.shown.clear();
    this.emit('fault', { code: 'RV_ERR_BOARD_GONE', message: 'The simulated control board was unplugged; plug it back in from the simulation panel.' });
  }

  plug(): void {
    if (this.plugged) return;
    this.plugged = true;
    this.emit('recovered');
  }

  private known(line: string): void {
    if (!this.o.lines().includes(line)) throw new RvError('RV_ERR_UNKNOWN_LINE', `There is no line "${line}" on the simulated board; its lines are ${this.o.lines().join(', ')}.`, 404);
  }

  private now(): number { return (this.o.now ?? Date.now)(); }
}
