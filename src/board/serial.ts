import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { ControlBoard, type LedState } from './board.ts';
import { LineSplitter, PROTOCOL_VERSION, formatBoxMessage, forLog, parseBoardLine, type BoardMessage, type BoxMessage } from './protocol.ts';
import { RvError, isRvError } from '../errors.ts';
import type { Log } from '../log.ts';

export interface SerialBoardOptions {
  /** serial device; '' finds it (udev name, then /dev/serial/by-id/*ringvault*, then the port list) */
  path: string;
  /** the configured line ids; board line n is the n-th */
  lines: () => readonly string[];
  longPressMs: () => number;
  log: Log;
  /** PING interval (default 1000 ms) */
  heartbeatMs?: number;
  /** no line from the board for this long is a fault (default 3000 ms) */
  silenceMs?: number;
  /** reopen back-off, doubling from min to max (default 500 ms → 10 s) */
  backoff?: { minMs: number; maxMs: number };
}

/** The name board/udev rules give the USB button box; found before any by-id path. */
export const UDEV_NAME = '/dev/ringvault-board';
const BY_ID = '/dev/serial/by-id';

type Phase = 'closed' | 'hello' | 'ready' | 'stopped';

/**
 * The USB button box over serial (board/PROTOCOL.md). Never throws at the box: a missing, silent,
 * unplugged or wrong-version board is a `fault`, the port is reopened with back-off, and recording goes on.
 */
export class SerialBoard extends ControlBoard {
  readonly kind = 'serial' as const;
  /** what the board said in its last HELLO */
  hello?: Extract<BoardMessage, { type: 'hello' }>;
  /** lines the board sent that were not in the protocol (logged and ignored) */
  malformed = 0;
  private phase: Phase = 'closed';
  private port?: SerialPort;
  private faulted = false;
  private lastRx = 0;
  private backoffMs: number;
  private readonly leds = new Map<string, LedState>();
  private timers: NodeJS.Timeout[] = [];
  private retry?: NodeJS.Timeout;
  private badWindow = { start: 0, logged: 0, muted: 0 };

  constructor(private readonly o: SerialBoardOptions) {
    super();
    this.backoffMs = this.o.backoff?.minMs ?? 500;
  }

  get connected(): boolean { return this.phase === 'ready'; }

  async start(): Promise<void> {
    this.phase = 'closed';
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.phase = 'stopped';
    clearTimeout(this.retry);
    await this.teardown();
  }

  setLed(line: string, state: LedState): void {
    const n = this.o.lines().indexOf(line) + 1;
    if (n < 1) return;
    if (state !== 'ack') {
      if (this.leds.get(line) === state) return;
      this.leds.set(line, state);
    }
    if (this.connected && n <= this.hello!.lines) this.send({ type: 'led', n, state });
  }

  private async attempt(): Promise<void> {
    if (this.phase === 'stopped') return;
    let path: string;
    try {
      path = await this.findPath();
    } catch (e) {
      return this.lost(isRvError(e) ? e.code : 'RV_ERR_BOARD_NOT_FOUND', (e as Error).message);
    }
    const port = new SerialPort({ path, baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
    try {
      await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    } catch (e) {
      return this.lost('RV_ERR_BOARD_GONE', `Cannot open the control board at ${path} (${(e as Error).message}); check its USB cable and the board.serialPath setting.`);
    }
    if ((this.phase as Phase) === 'stopped') { port.close(() => undefined); return; }
    this.port = port;
    this.phase = 'hello';
    this.lastRx = Date.now();
    const split = new LineSplitter(
      (line) => this.onLine(line),
      () => this.bad({ path }, 'control board sent an over-long line; ignored'),
    );
    port.on('data', (b: Buffer) => split.push(b));
    port.on('error', (e) => this.o.log.warn({ err: e, path }, 'control board serial error'));
    port.on('close', () => { if (this.port === port) this.lost('RV_ERR_BOARD_GONE', `The control board at ${path} went away (unplugged or its port closed); recording goes on, and the box reconnects when it is back.`); });
    const hb = this.o.heartbeatMs ?? 1000;
    this.send({ type: 'hello' });
    this.timers.push(setInterval(() => this.tick(), hb));
  }

  /** Once per heartbeat: ask for HELLO until it comes, then PING; a board silent too long is lost. */
  private tick(): void {
    const silence = this.o.silenceMs ?? 3000;
    if (Date.now() - this.lastRx > silence) {
      const what = this.phase === 'hello' ? 'did not answer HELLO' : 'stopped answering';
      this.lost('RV_ERR_BOARD_SILENT', `The control board ${what} for ${silence / 1000} s; check that it runs ringvault firmware (board/PROTOCOL.md). Recording goes on.`);
      return;
    }
    this.send(this.phase === 'hello' ? { type: 'hello' } : { type: 'ping' });
  }

  private onLine(raw: string): void {
    const p = parseBoardLine(raw);
    if (!p.ok) {
      this.bad({ line: forLog(raw), reason: p.reason }, 'control board sent a line that is not in the protocol; ignored');
      return;
    }
    const m = p.msg;
    // Only a well-formed line proves the board is alive.
    this.lastRx = Date.now();
    if (m.type === 'hello') return this.onHello(m);
    if (this.phase !== 'ready') return;
    const lines = this.o.lines();
    switch (m.type) {
      case 'btn':
        this.emit('press', { ...(m.n <= lines.length ? { line: lines[m.n - 1]! } : {}), kind: m.kind, at: Date.now() });
        return;
      case 'sense': {
        const line = lines[m.n - 1];
        if (line === undefined) { this.o.log.warn({ n: m.n }, 'control board reported line sense for a line the box does not have; ignored'); return; }
        this.emit('sense', { line, state: m.state, at: Date.now() });
        return;
      }
      case 'err':
        this.o.log.warn({ word: m.word }, 'control board did not understand a line from the box');
        return;
      case 'pong':
        return;
    }
  }

  private onHello(m: Extract<BoardMessage, { type: 'hello' }>): void {
    if (m.version !== PROTOCOL_VERSION) {
      this.lost('RV_ERR_BOARD_VERSION', `The control board speaks protocol version ${m.version}, this box version ${PROTOCOL_VERSION}; update the board firmware or the box software.`);
      return;
    }
    this.hello = m;
    const wasReady = this.phase === 'ready';
    this.phase = 'ready';
    this.backoffMs = this.o.backoff?.minMs ?? 500;
    if (!wasReady) this.o.log.info({ board: m.name, fw: m.fields.fw, buttons: m.buttons, lines: m.lines }, 'control board connected');
    this.send({ type: 'longms', ms: this.o.longPressMs() });
    // A board that (re)said HELLO has forgotten its LEDs: show them all again.
    this.o.lines().forEach((line, i) => { if (i < m.lines) this.send({ type: 'led', n: i + 1, state: this.leds.get(line) ?? 'idle' }); });
    if (this.faulted) { this.faulted = false; this.emit('recovered'); }
  }

  /** Counts a bad line and logs it; a board spewing noise gets at most 10 log lines a minute plus a count. */
  private bad(detail: object, msg: string): void {
    this.malformed++;
    const now = Date.now();
    if (now - this.badWindow.start > 60_000) {
      if (this.badWindow.muted > 0) this.o.log.warn({ count: this.badWindow.muted }, 'control board sent more bad lines that were not logged');
      this.badWindow = { start: now, logged: 0, muted: 0 };
    }
    if (this.badWindow.logged < 10) { this.badWindow.logged++; this.o.log.warn(detail, msg); } else this.badWindow.muted++;
  }

  private send(m: BoxMessage): void {
    const port = this.port;
    if (!port?.isOpen) return;
    port.write(formatBoxMessage(m), (e) => { if (e) this.o.log.debug({ err: e }, 'write to control board failed'); });
  }

  private lost(code: string, message: string): void {
    if (this.phase === 'stopped') return;
    this.phase = 'closed';
    void this.teardown();
    if (!this.faulted) {
      this.faulted = true;
      this.o.log.warn({ code }, message);
      this.emit('fault', { code, message });
    }
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.attempt(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoff?.maxMs ?? 10_000);
  }

  private async teardown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((res) => port.close(() => res()));
  }

  private async findPath(): Promise<string> {
    if (this.o.path) {
      if (!existsSync(this.o.path)) throw new RvError('RV_ERR_BOARD_GONE', `There is no control board at ${this.o.path}; plug in the button box, or correct board.serialPath (ls /dev/serial/by-id).`);
      return this.o.path;
    }
    if (existsSync(UDEV_NAME)) return UDEV_NAME;
    const byId = await readdir(BY_ID).catch(() => [] as string[]);
    const hit = byId.find((n) => /ringvault/i.test(n));
    if (hit) return `${BY_ID}/${hit}`;
    // The port list needs udevadm on Linux and rejects without it; then there is simply nothing found.
    const listed = await SerialPort.list().catch((e: Error) => { this.o.log.debug({ err: e }, 'serial port list unavailable'); return []; });
    const p = listed.find((x) => /ringvault/i.test(`${x.manufacturer ?? ''} ${x.pnpId ?? ''} ${x.serialNumber ?? ''}`));
    if (p) return p.path;
    throw new RvError('RV_ERR_BOARD_NOT_FOUND', `No ringvault control board found (${UDEV_NAME} and ${BY_ID}/*ringvault* are missing); plug in the button box, or set board.serialPath to its /dev/serial/by-id/… path.`);
  }
}
