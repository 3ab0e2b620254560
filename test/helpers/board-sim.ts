import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

/**
 * The board side of board/PROTOCOL.md, written from the document (it does not use src/board), on one
 * end of a real `socat` pty pair; the box's serial driver opens the other end.
 */

/** A `socat -d -d pty,raw,echo=0 pty,raw,echo=0` pair with stable links `<dir>/box` and `<dir>/board`. */
export class PtyPair {
  readonly box: string;
  readonly board: string;
  private child?: ChildProcess;
  constructor(dir: string) {
    this.box = join(dir, 'box');
    this.board = join(dir, 'board');
  }

  async start(): Promise<void> {
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.box}`, `pty,raw,echo=0,link=${this.board}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let err = '';
    child.stderr!.setEncoding('utf8');
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`socat did not start in 10 s: ${err}`)), 10_000);
      child.stderr!.on('data', (s: string) => {
        err += s;
        if (/starting data transfer loop/.test(err) && existsSync(this.box) && existsSync(this.board)) { clearTimeout(timer); res(); }
      });
      child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`socat exited with ${code}: ${err}`)); });
    });
  }

  /** Kills socat: both ptys close, as when the USB cable is pulled. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGTERM');
    await exited;
  }
}

export interface BoardSimOptions { buttons?: number; lines?: number; version?: number; senseAtHello?: string[] }

export class BoardSim {
  /** every line received from the box, in order */
  readonly rx: { line: string; at: number }[] = [];
  /** LED n → the last lasting state the box set */
  readonly leds = new Map<number, string>();
  /** LED n → how many ACK flashes the box sent */
  readonly acks = new Map<number, number>();
  longMs?: number;
  /** stop answering PING (a hung board) */
  mute = false;
  private readonly listeners = new Set<(line: string, at: number) => void>();
  private buf = '';

  private constructor(private readonly port: SerialPort, private readonly o: BoardSimOptions) {}

  static async open(path: string, o: BoardSimOptions = {}): Promise<BoardSim> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    const sim = new BoardSim(port, o);
    port.on('data', (b: Buffer) => sim.onData(b));
    port.on('error', () => undefined);
    // Power-up: the board introduces itself unasked.
    sim.hello();
    return sim;
  }

  private hello(): void {
    this.write(`HELLO ringvault-board ${this.o.version ?? 1} buttons=${this.o.buttons ?? 2} lines=${this.o.lines ?? 2} fw=test`);
    (this.o.senseAtHello ?? []).forEach((s, i) => this.write(`SENSE ${i + 1} ${s}`));
  }

  private onData(b: Buffer): void {
    this.buf += b.toString('latin1');
    let i;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const at = performance.now();
      this.rx.push({ line, at });
      this.handle(line);
      for (const l of this.listeners) l(line, at);
    }
  }

  private handle(line: string): void {
    let m: RegExpExecArray | null;
    if (line === 'HELLO ringvault-box 1') this.hello();
    else if (line === 'PING') { if (!this.mute) this.write('PONG'); }
    else if ((m = /^LED ([1-8]) (IDLE|BUFFERING|KEEPING|PRIVATE|FAULT|ACK)$/.exec(line))) {
      const n = Number(m[1]);
      if (m[2] === 'ACK') this.acks.set(n, (this.acks.get(n) ?? 0) + 1); else this.leds.set(n, m[2]!);
    } else if ((m = /^LONGMS (\d+)$/.exec(line))) this.longMs = Number(m[1]);
    else this.write('ERR UNKNOWN');
  }

  write(line: string): void { this.port.write(`${line}\n`); }
  press(n: number, kind: 'SHORT' | 'LONG'): void { this.write(`BTN ${n} ${kind}`); }
  sense(n: number, state: 'OFFHOOK' | 'ONHOOK' | 'RING'): void { this.write(`SENSE ${n} ${state}`); }

  /** Resolves with the time of the first line from the box (after now) that matches. */
  next(match: RegExp, ms = 10_000): Promise<{ line: string; at: number }> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => { this.listeners.delete(f); rej(new Error(`board sim: no line matching ${match} within ${ms} ms`)); }, ms);
      const f = (line: string, at: number) => {
        if (!match.test(line)) return;
        clearTimeout(timer);
        this.listeners.delete(f);
        res({ line, at });
      };
      this.listeners.add(f);
    });
  }

  async close(): Promise<void> {
    if (this.port.isOpen) await new Promise<void>((res) => this.port.close(() => res()));
  }
}
