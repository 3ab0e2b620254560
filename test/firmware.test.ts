// The button-box firmware (board/firmware) compiled with avr-gcc and run in simavr, talked to over
// the pty its simulated UART is bridged to, with the same serialport library the box uses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SerialPort, ReadlineParser } from 'serialport';
import { writeFile } from 'node:fs/promises';
import { Client, ROOT, startAppliance } from './helpers/appliance.ts';

const FW = join(ROOT, 'board', 'firmware');
let out: string;

before(() => {
  out = mkdtempSync(join(tmpdir(), 'rv-fw-'));
  execFileSync('make', ['-s', '-C', FW, `OUT=${out}`, 'all', 'harness'], { stdio: ['ignore', 'pipe', 'pipe'] });
});
after(() => rmSync(out, { recursive: true, force: true }));

/** One simulated board: harness process, pin changes, and the serial lines it sends. */
class SimBoard {
  readonly pins: { pin: string; value: number; ms: number }[] = [];
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  private port?: SerialPort;
  pty = '';
  private constructor(private readonly child: ChildProcess) {}

  /** Starts the firmware; `open` = this test talks to it (else the appliance opens the pty). */
  static async start(open = true): Promise<SimBoard> {
    const child = spawn(join(out, 'harness'), [join(out, 'ringvault-board.elf')], { stdio: ['pipe', 'pipe', 'pipe'] });
    const b = new SimBoard(child);
    b.pty = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('harness gave no PTY line in 10 s')), 10_000);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const m = /^PTY (\S+)$/.exec(l);
        if (m) { clearTimeout(timer); res(m[1]!); }
        const p = /^PIN (B\d) ([01]) ([\d.]+)$/.exec(l);
        if (p) { b.pins.push({ pin: p[1]!, value: Number(p[2]), ms: Number(p[3]) }); b.wake(); }
      });
      child.once('exit', (code) => rej(new Error(`harness exited with ${code}`)));
    });
    if (!open) return b;
    const port = new SerialPort({ path: b.pty, baudRate: 115200, autoOpen: false });
    b.port = port;
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    port.pipe(new ReadlineParser({ delimiter: '\n' })).on('data', (l: string) => { b.lines.push(l.replace(/\r$/, '')); b.wake(); });
    return b;
  }

  /** The last change of an output pin. */
  last(pin: string): { pin: string; value: number; ms: number } | undefined {
    for (let i = this.pins.length - 1; i >= 0; i--) if (this.pins[i]!.pin === pin) return this.pins[i];
    return undefined;
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** Waits until `pred` holds over what has arrived so far. */
  async until<T>(what: string, pred: () => T | undefined | false, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lines: ${JSON.stringify(this.lines.slice(-12))}`);
      await new Promise<void>((res) => { this.waiters.push(res); setTimeout(res, 100); });
    }
  }

  /** The next board line after index `from` matching `re`. */
  async line(re: RegExp, from: number): Promise<{ line: string; index: number }> {
    return this.until(`a line matching ${re}`, () => {
      for (let i = from; i < this.lines.length; i++) if (re.test(this.lines[i]!)) return { line: this.lines[i]!, index: i };
      return undefined;
    });
  }

  send(l: string): void { this.port!.write(l + '\n'); }
  harness(cmd: string): void { this.child.stdin!.write(cmd + '\n'); }

  /** Sends PING and returns the lines that came before its PONG (everything the board said meanwhile). */
  async sync(): Promise<string[]> {
    const from = this.lines.length;
    this.send('PING');
    const { index } = await this.line(/^PONG$/, from);
    return this.lines.slice(from, index);
  }

  async stop(): Promise<void> {
    if (this.port) await new Promise<void>((res) => this.port!.close(() => res()));
    this.harness('quit');
    if (this.child.exitCode === null) await new Promise((res) => { this.child.once('exit', res); setTimeout(() => { this.child.kill('SIGKILL'); }, 3000); });
  }
}

test('firmware fits an ATmega328P with room for the bootloader and the stack', () => {
  const size = execFileSync('avr-size', [join(out, 'ringvault-board.elf')], { encoding: 'utf8' });
  const [text, data, bss] = size.trim().split('\n')[1]!.trim().split(/\s+/).map(Number) as [number, number, number];
  assert.ok(text + data <= 32 * 1024 - 512, `flash ${text + data} B leaves no room for the 512 B bootloader`);
  assert.ok(data + bss <= 2048 - 512, `RAM ${data + bss} B leaves under 512 B for the stack`);
});

test('handshake, heartbeat and LED states as board/PROTOCOL.md says', async () => {
  const b = await SimBoard.start();
  try {
    let from = b.lines.length;
    b.send('HELLO ringvault-box 1');
    // The answer is HELLO and then one SENSE per line (the board's own power-up HELLO may come first).
    const sense2 = await b.line(/^SENSE 2 /, from);
    const [hello, sense1] = b.lines.slice(sense2.index - 2, sense2.index);
    assert.match(hello!, /^HELLO ringvault-board 1 buttons=2 lines=2( \w+=\S+)*$/);
    assert.deepEqual([sense1, sense2.line], ['SENSE 1 ONHOOK', 'SENSE 2 ONHOOK']);

    // KEEPING: steady on. An ACK inverts it for ~150 ms of simulated time, then it is back on.
    b.send('LED 1 KEEPING');
    await b.sync();
    const on = await b.until('LED 1 on', () => b.last('B0')?.value === 1 && b.last('B0'));
    const mark = b.pins.length;
    b.send('LED 1 ACK');
    const flash = await b.until('the ACK flash', () => {
      const ch = b.pins.slice(mark).filter((p) => p.pin === 'B0');
      return ch.length >= 2 ? ch : undefined;
    });
    assert.deepEqual(flash.slice(0, 2).map((p) => p.value), [0, 1], 'ACK on a lit LED is a dark flash, then on again');
    const flashMs = flash[1]!.ms - flash[0]!.ms;
    assert.ok(flashMs >= 140 && flashMs <= 170, `flash lasted ${flashMs} ms of simulated time`);
    assert.ok(flash[0]!.ms >= on.ms);

    // IDLE: off and stays off.
    b.send('LED 1 IDLE');
    await b.sync();
    await b.until('LED 1 off', () => b.last('B0')?.value === 0);

    // Bad lines are answered with ERR and change nothing; the board still answers.
    from = b.lines.length;
    b.send('FOO');
    b.send('LED 9 KEEPING');
    b.send('LED 1 SPARKLE');
    b.send('LONGMS 5');
    b.send('X'.repeat(40));
    const errs = (await b.sync()).filter((l) => l.startsWith('ERR'));
    assert.deepEqual(errs, ['ERR UNKNOWN', 'ERR ARG', 'ERR ARG', 'ERR ARG', 'ERR LONG']);
  } finally {
    await b.stop();
  }
});

test('short and long presses, with the long-press time set by the box', async () => {
  const b = await SimBoard.start();
  try {
    b.send('HELLO ringvault-box 1');
    await b.sync();
    let from = b.lines.length;
    b.harness('press 1 120');
    assert.equal((await b.line(/^BTN /, from)).line, 'BTN 1 SHORT');

    // Held past the default 1000 ms: LONG while still held, and nothing at release.
    from = b.lines.length;
    b.harness('press 2 1400');
    const long = await b.line(/^BTN /, from);
    assert.equal(long.line, 'BTN 2 LONG');
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual((await b.sync()).filter((l) => l.startsWith('BTN')), [], 'a long press sends nothing at release');

    // A bounce shorter than the debounce time is not a press.
    from = b.lines.length;
    b.harness('press 1 5');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual((await b.sync()).filter((l) => l.startsWith('BTN')), []);

    b.send('LONGMS 2500');
    from = b.lines.length;
    b.harness('press 1 1400');
    assert.equal((await b.line(/^BTN /, from)).line, 'BTN 1 SHORT', 'with LONGMS 2500 a 1.4 s press is short');
  } finally {
    await b.stop();
  }
});

test('line sense: off-hook, on-hook, one RING per ringing, and FAULT LEDs while the box is silent', async () => {
  const b = await SimBoard.start();
  try {
    b.send('HELLO ringvault-box 1');
    b.send('LED 2 IDLE');
    await b.sync();
    let from = b.lines.length;
    b.harness('set C0 0');
    assert.equal((await b.line(/^SENSE /, from)).line, 'SENSE 1 OFFHOOK');
    from = b.lines.length;
    b.harness('set C0 1');
    assert.equal((await b.line(/^SENSE /, from)).line, 'SENSE 1 ONHOOK');

    // Ringing on line 2: the opto pulses; one RING however many pulses.
    from = b.lines.length;
    for (let i = 0; i < 10; i++) { b.harness('pulse C3 20'); await new Promise((r) => setTimeout(r, 40)); }
    await b.line(/^SENSE 2 RING$/, from);
    const ledMark = b.pins.length;
    // Now the box says nothing: after 6 s without ring pulses the line is ONHOOK again, and after
    // 5 s of silence every LED shows FAULT (4 Hz) because nothing is being recorded.
    const onhook = await b.line(/^SENSE 2 ONHOOK$/, from);
    assert.equal(b.lines.slice(from, onhook.index).filter((l) => l === 'SENSE 2 RING').length, 1);
    const blinks = b.pins.slice(ledMark).filter((p) => p.pin === 'B1');
    assert.ok(blinks.length >= 4, `LED 2 should blink FAULT while the box is silent; saw ${blinks.length} changes`);
    // The first change comes wherever in a 125 ms step the silence began; after it the blink is regular.
    const gaps = blinks.slice(2).map((p, i) => p.ms - blinks[i + 1]!.ms);
    assert.ok(gaps.every((g) => g > 120 && g < 130), `FAULT blinks at 4 Hz (125 ms): ${gaps.join(', ')}`);
    // The box speaks again: the board shows what it is told.
    b.send('LED 2 IDLE');
    await b.sync();
    await b.until('LED 2 off again', () => b.last('B1')?.value === 0);
  } finally {
    await b.stop();
  }
});

test('the appliance with the serial driver and the real firmware: short press keeps, long press makes private', async (t) => {
  const b = await SimBoard.start(false);
  const dir = mkdtempSync(join(tmpdir(), 'rv-fw-e2e-'));
  const cfg = join(dir, 'config.json');
  await writeFile(cfg, JSON.stringify({
    lines: [{ id: 'line1', name: 'Front desk', keep: 'on-demand' }, { id: 'line2', name: 'Back office', keep: 'on-demand' }],
    board: { driver: 'serial', serialPath: b.pty },
  }));
  const app = await startAppliance(join(dir, 'data'), ['--config', cfg]);
  t.after(async () => { await app.stop(); await b.stop(); rmSync(dir, { recursive: true, force: true }); });
  const c = new Client(app.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: 'correct horse battery staple' , claimCode: app.claimCode()});
  await c.until(async () => { const s = await c.state(); return s.health?.board?.kind === 'serial' && s.health.board.connected; }, 'the firmware answered HELLO');
  const line = async (id: string) => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === id);

  await c.json('POST', '/api/sim/lines/line1/call', { durationSec: 300 });
  await c.json('POST', '/api/sim/lines/line2/call', { durationSec: 300 });
  await c.until(async () => (await line('line1')).led === 'buffering' && (await line('line2')).led === 'buffering', 'both lines buffering');

  const mark = b.pins.length;
  b.harness('press 1 120');
  await c.until(async () => (await line('line1')).state === 'keeping', 'line 1 kept by its button');
  // On the board: the ACK flash, then KEEPING = steady on.
  await b.until('LED 1 steady on', () => {
    const ch = b.pins.slice(mark).filter((p) => p.pin === 'B0');
    const last = ch.at(-1);
    return last?.value === 1 && b.pins.at(-1)!.ms - last.ms > 600 && ch.length >= 1;
  });

  b.harness('press 2 1300');
  await c.until(async () => (await line('line2')).call?.private === true, 'line 2 made private by a long press');
  assert.equal((await line('line1')).state, 'keeping', 'the other line is untouched');

  await c.json('POST', '/api/sim/lines/line1/hangup', {});
  await c.json('POST', '/api/sim/lines/line2/hangup', {});
  await c.json('POST', '/api/unlock', { secret: 'correct horse battery staple' }).catch(() => undefined);
  const kept = await c.until(async () => (await c.json('GET', '/api/calls')).calls.filter((x: any) => x.line === 'line1'), 'the kept call listed');
  assert.equal(kept.length, 1);
  assert.equal(kept[0].keptBy, 'button');
  assert.ok(!(await c.json('GET', '/api/calls')).calls.some((x: any) => x.line === 'line2'), 'the private call is not kept');
});
