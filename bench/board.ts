import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { Box } from '../src/box.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import type { SimBoard } from '../src/board/sim.ts';
import { BoardSim, PtyPair } from '../test/helpers/board-sim.ts';
import { ROOT } from '../test/helpers/appliance.ts';

const PRESSES = 1000;
const PASS = 'correct horse battery staple';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

async function openBox(dataDir: string, board: Record<string, unknown>): Promise<Box> {
  const config = parseConfig({ dataDir, lines: [{ id: 'line1', name: 'Line 1', keep: 'on-demand' }], board }, 'bench');
  const box = await Box.open({ config, log: silentLog, clock: { now: () => Date.now(), synced: () => true }, speechDir: join(ROOT, 'assets/speech') });
  await box.setup('admin', PASS);
  // A live call, so every press goes the whole way (the first keeps it, the rest find it kept).
  box.sim!.placeCall('line1', { durationSec: 3600 });
  return box;
}

/** Press → ACK over a pty where the box end is a bare echo: the transport floor, no ringvault in it. */
async function floor(pty: PtyPair): Promise<number[]> {
  const echo = new SerialPort({ path: pty.box, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => echo.open((e) => (e ? rej(e) : res())));
  let buf = '';
  echo.on('data', (b: Buffer) => {
    buf += b.toString('latin1');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { if (buf.slice(0, i).startsWith('BTN')) echo.write('LED 1 ACK\n'); buf = buf.slice(i + 1); }
  });
  const sim = await BoardSim.open(pty.board);
  const out = await pressLoop(sim);
  await sim.close();
  await new Promise<void>((res) => echo.close(() => res()));
  return out;
}

async function pressLoop(sim: BoardSim): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < PRESSES + 50; i++) {
    const ack = sim.next(/^LED 1 ACK$/, 5000);
    const t0 = performance.now();
    sim.press(1, 'SHORT');
    const { at } = await ack;
    if (i >= 50) out.push(at - t0); // the first 50 warm up the JIT
  }
  return out;
}

/** Press-to-LED latency: the ack flash after a button press, sim board in-process and serial over a socat pty. */
export async function benchBoard(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-board-'));
  const pty = new PtyPair(dir);
  try {
    // sim: press and ack in one process, no transport.
    const simBox = await openBox(join(dir, 'sim'), { driver: 'sim' });
    const board = simBox.board as SimBoard;
    const simLat: number[] = [];
    let t0 = 0;
    board.watchLeds((c) => { if (c.state === 'ack') simLat.push(performance.now() - t0); });
    for (let i = 0; i < PRESSES + 50; i++) {
      t0 = performance.now();
      board.press('line1', 'short');
      await new Promise((r) => setImmediate(r));
    }
    simLat.splice(0, 50);
    await simBox.recorder.settle();
    simBox.sim!.hangup('line1');
    await simBox.close();

    await pty.start();
    const raw = await floor(pty);
    await pty.stop();

    await pty.start();
    const sim = await BoardSim.open(pty.board);
    const serialBox = await openBox(join(dir, 'serial'), { driver: 'serial', serialPath: pty.box });
    const end = Date.now() + 10_000;
    while (!serialBox.board!.connected && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const serialLat = await pressLoop(sim);
    serialBox.sim!.hangup('line1');
    await serialBox.close();
    await sim.close();

    console.log(`\nboard: press-to-LED ack latency over ${PRESSES} presses (requirement: within 50 ms)`);
    console.log(`  sim board (in-process)        p50 ${fmt(pct(simLat, 50))}  p99 ${fmt(pct(simLat, 99))}`);
    console.log(`  serial over socat pty         p50 ${fmt(pct(serialLat, 50))}  p99 ${fmt(pct(serialLat, 99))}`);
    console.log(`  peer: bare pty echo (socat)   p50 ${fmt(pct(raw, 50))}  p99 ${fmt(pct(raw, 99))}`);
    console.log(`  serial / bare echo            p50 ×${(pct(serialLat, 50) / pct(raw, 50)).toFixed(2)}  p99 ×${(pct(serialLat, 99) / pct(raw, 99)).toFixed(2)}`);
  } finally {
    await pty.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
