import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { Box } from '../../src/box.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { silentLog } from '../../src/log.ts';
import type { RecordingSession } from '../../src/sip/siprec-server.ts';
import { ROOT } from './appliance.ts';

const run = promisify(execFile);
export const SIPP_DIR = join(ROOT, 'test/fixtures/sipp');
const PASS = 'correct horse battery staple';

/** A random even base port in a high range, different per harness, so parallel tests do not collide. */
const randomBase = (span: number): number => 2 * Math.floor((20000 + Math.random() * (40000 - span)) / 2);

export interface SessionSeen { line: string; ports: number[]; session: RecordingSession }

export interface SiprecHarness {
  dir: string;
  box: Box;
  app: App;
  sipPort: number;
  rtpMin: number;
  rtpMax: number;
  sessions: SessionSeen[];
  cookie: string;
  /** processes to end when the test ends, passed or not */
  children: Set<ChildProcess>;
  /** a free port for a sipp instance (its SIP port; its media ports follow at +1000) */
  nextPort(): number;
  get(url: string): Promise<{ status: number; json: any; raw: Buffer }>;
}

/** An in-process box with `lines` SIPREC lines keeping every call, an unlocked vault and an admin HTTP session. */
export async function siprecHarness(t: { after(fn: () => Promise<void>): void }, o: { lines: number; answerDelayMs?: number; rtpTimeoutSec?: number; channels?: 1 | 2; keepDigits?: boolean; maxCalls?: number; minutesPerLine?: number; keep?: string; board?: Record<string, unknown>; siprec?: Record<string, unknown> }): Promise<SiprecHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-siprec-'));
  const rtpMin = randomBase(400);
  const rtpMax = rtpMin + 399;
  const lines = Array.from({ length: o.lines }, (_, i) => ({
    id: `sip${i + 1}`, name: `SIP ${i + 1}`, source: 'siprec', channels: o.channels ?? 2, keep: o.keep ?? 'all', announced: ['complaint', 'evidence'], keepPurposes: ['evidence'], keepDigits: o.keepDigits ?? false,
    // One call per line unless a test asks for a trunk: the multi-line tests count lines as calls.
    maxCalls: o.maxCalls ?? 1,
  }));
  const config = parseConfig({
    dataDir: join(dir, 'data'), lines, board: o.board ?? { driver: 'none' }, ring: { minutesPerLine: o.minutesPerLine ?? 10 },
    siprec: { host: '127.0.0.1', port: 0, rtpPortMin: rtpMin, rtpPortMax: rtpMax, rtpTimeoutSec: o.rtpTimeoutSec ?? 30, answerDelayMs: o.answerDelayMs ?? 0, allowFrom: ['127.0.0.1'], ...o.siprec },
  }, 'test');
  const box = await Box.open({ config, log: silentLog, clock: { now: Date.now, synced: () => true }, speechDir: join(ROOT, 'assets/speech') });
  assert.ok(box.siprec, 'the box runs a SIPREC source for siprec lines');
  await box.setup('admin', PASS);
  const app = await buildApp(box, { webDir: join(ROOT, 'web'), tls: false, loginsPerMinute: 50, sessionHours: 1, version: 'test' });
  const sessions: SessionSeen[] = [];
  box.siprec.server.on('session', (s) => sessions.push({ line: s.line!, ports: s.streams.map((x) => x.port), session: s }));
  let portBase = randomBase(4000);
  // Log in like a browser: state (CSRF cookie + token), then login.
  const st = await app.inject({ method: 'GET', url: '/api/state' });
  const jar = new Map<string, string>();
  const keep = (res: { cookies: unknown }) => { for (const c of res.cookies as { name: string; value: string }[]) jar.set(c.name, c.value); };
  keep(st);
  const login = await app.inject({ method: 'POST', url: '/api/login', headers: { 'content-type': 'application/json', 'x-csrf-token': st.json().csrfToken }, cookies: Object.fromEntries(jar), payload: JSON.stringify({ username: 'admin', passphrase: PASS }) });
  assert.equal(login.statusCode, 200, login.body);
  keep(login);
  const h: SiprecHarness = {
    dir, box, app, sipPort: box.siprec.server.port, rtpMin, rtpMax, sessions, cookie: '', children: new Set(),
    nextPort: () => { portBase += 8; return portBase; },
    async get(url) {
      const res = await app.inject({ method: 'GET', url, cookies: Object.fromEntries(jar) });
      const raw = res.rawPayload;
      return { status: res.statusCode, raw, json: /json/.test(String(res.headers['content-type'])) ? res.json() : undefined };
    },
  };
  t.after(async () => {
    for (const c of h.children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const e = once(c, 'exit');
      c.kill('SIGKILL');
      await e;
    }
    await app.close();
    await box.close();
    await rm(dir, { recursive: true, force: true });
  });
  return h;
}

/** Runs sipp to the end; resolves with its exit code and error log. */
export async function sipp(h: SiprecHarness, scenario: string, target: string, args: string[], csv?: string): Promise<{ code: number; errors: string }> {
  const port = h.nextPort();
  const cwd = await mkdtemp(join(h.dir, 'sipp-'));
  const extra: string[] = [];
  if (csv !== undefined) { await writeFile(join(cwd, 'calls.csv'), csv); extra.push('-inf', join(cwd, 'calls.csv')); }
  const child = spawn('sipp', ['-sf', join(SIPP_DIR, scenario), '-i', '127.0.0.1', '-p', String(port), '-mp', String(port + 1000), '-nostdin',
    '-timeout', '90s', '-timeout_error', '-trace_err', '-error_file', join(cwd, 'errors.log'), ...extra, ...args, target], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  h.children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const [code] = (await once(child, 'exit')) as [number];
  const errors = await readFile(join(cwd, 'errors.log'), 'utf8').catch(() => '');
  return { code, errors: `${stderr}\n${errors}`.trim() };
}

/** A long-running sipp UAS that plays the A-law capture to whatever RTP address an INVITE names (the second stream). */
export async function feeder(h: SiprecHarness): Promise<{ feed(ports: number[]): Promise<{ code: number; errors: string }> }> {
  const port = h.nextPort();
  const cwd = await mkdtemp(join(h.dir, 'feeder-'));
  const uas: ChildProcess = spawn('sipp', ['-sf', join(SIPP_DIR, 'feeder-uas.xml'), '-i', '127.0.0.1', '-p', String(port), '-mp', String(port + 1000), '-nostdin', '-trace_err'], { cwd, stdio: ['ignore', 'ignore', 'ignore'] });
  h.children.add(uas);
  await new Promise((r) => setTimeout(r, 300));
  return {
    feed: (ports) => sipp(h, 'feeder-uac.xml', `127.0.0.1:${port}`, ['-m', String(ports.length), '-r', '50', '-rp', '1000', '-l', String(ports.length)], `SEQUENTIAL\n${ports.map((p) => `${p};`).join('\n')}\n`),
  };
}

/** tcpdump on the loopback interface, for the recorder's RTP port range. */
export async function captureRtp(h: SiprecHarness): Promise<{ file: string; stop(): Promise<void> }> {
  const file = join(h.dir, `rtp-${Math.random().toString(36).slice(2)}.pcap`);
  const td = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-B', '8192', '-n', '-w', file, `udp and dst portrange ${h.rtpMin}-${h.rtpMax}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  h.children.add(td);
  let err = '';
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`tcpdump did not start: ${err}`)), 10_000);
    td.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; if (/listening on/.test(err)) { clearTimeout(timer); res(); } });
    td.once('exit', (c) => { clearTimeout(timer); rej(new Error(`tcpdump exited ${c}: ${err}`)); });
  });
  return { file, async stop() { if (td.exitCode !== null || td.signalCode !== null) return; const e = once(td, 'exit'); td.kill('SIGINT'); await e; } };
}

export interface RtpSeen { at: number; port: number; ssrc: string; seq: number; pt: number; payload: Buffer }

/** The RTP packets tshark finds in a capture, per destination port, in arrival order. */
export async function rtpPackets(h: SiprecHarness, file: string): Promise<Map<number, RtpSeen[]>> {
  const { stdout } = await run('tshark', ['-r', file, '-d', `udp.port==${h.rtpMin}-${h.rtpMax},rtp`, '-T', 'fields', '-E', 'separator=/t',
    '-e', 'frame.time_epoch', '-e', 'udp.dstport', '-e', 'rtp.ssrc', '-e', 'rtp.seq', '-e', 'rtp.p_type', '-e', 'rtp.payload', 'rtp'], { maxBuffer: 256 * 1024 * 1024 });
  const out = new Map<number, RtpSeen[]>();
  for (const line of stdout.split('\n')) {
    const [at, port, ssrc, seq, pt, payload] = line.split('\t');
    if (!payload) continue;
    const p: RtpSeen = { at: Number(at) * 1000, port: Number(port), ssrc: ssrc!, seq: Number(seq), pt: Number(pt), payload: Buffer.from(payload.replace(/:/g, ''), 'hex') };
    if (!out.has(p.port)) out.set(p.port, []);
    out.get(p.port)!.push(p);
  }
  return out;
}

/** Decodes A-law bytes with sox, independently of the recorder's own G.711 tables. */
export async function soxAlaw(dir: string, alaw: Buffer): Promise<Int16Array> {
  const name = join(dir, `ref-${Math.random().toString(36).slice(2)}`);
  await writeFile(`${name}.al`, alaw);
  await run('sox', ['-t', 'al', '-r', '8000', '-c', '1', `${name}.al`, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', `${name}.raw`]);
  const b = await readFile(`${name}.raw`);
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2);
}

export interface KeptCallCheck {
  id: string;
  seconds: number;
  /** the samples of one channel, read from the downloaded WAV by sox */
  channel(c: 0 | 1): Int16Array;
  summary: any;
}

/** Downloads a kept call's WAV through the HTTP API and reads it with soxi and sox. */
export async function downloadCall(h: SiprecHarness, id: string): Promise<KeptCallCheck> {
  const summary = (await h.get(`/api/calls/${id}`)).json;
  const res = await h.get(`/api/calls/${id}/audio.wav`);
  assert.equal(res.status, 200, `download of ${id}`);
  const wav = join(h.dir, `${id}.wav`);
  await writeFile(wav, res.raw);
  const soxi = async (flag: string) => (await run('soxi', [flag, wav])).stdout.trim();
  assert.equal(await soxi('-r'), '8000');
  assert.equal(await soxi('-c'), '2');
  assert.equal(await soxi('-b'), '16');
  const seconds = Number(await soxi('-D'));
  const { stdout } = await run('sox', [wav, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-'], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  const all = new Int16Array(stdout.buffer, stdout.byteOffset, stdout.length / 2);
  return {
    id, seconds, summary,
    channel: (c) => { const out = new Int16Array(all.length / 2); for (let i = 0; i < out.length; i++) out[i] = all[2 * i + c]!; return out; },
  };
}

/**
 * Runs of consecutive audio packets (one source, consecutive numbers): what a decode must find in one piece.
 * Late packets within a run are placed by their RTP timestamps, so arrival gaps do not split a run.
 */
export function audioSegments(pkts: RtpSeen[], pt = 8): RtpSeen[][] {
  const segs: RtpSeen[][] = [];
  let cur: RtpSeen[] = [];
  for (const p of pkts) {
    if (p.pt !== pt) continue;
    const prev = cur[cur.length - 1];
    if (prev && (p.ssrc !== prev.ssrc || p.seq !== ((prev.seq + 1) & 0xffff))) { segs.push(cur); cur = []; }
    cur.push(p);
  }
  if (cur.length) segs.push(cur);
  return segs;
}

/**
 * Checks one channel of a kept call against the RTP the capture saw for one stream: every run of packets,
 * decoded by sox, appears sample for sample where its arrival time puts it (±100 ms), and the rest is silence.
 * Returns the sample index just past the stream's last audio.
 */
export async function matchChannel(dir: string, channel: Int16Array, pkts: RtpSeen[], t0: number): Promise<number> {
  const segs = audioSegments(pkts);
  assert.ok(segs.length > 0, 'the capture holds audio for this stream');
  const covered = new Uint8Array(channel.length);
  let end = 0;
  let prev: { seg: RtpSeen[]; end: number } | undefined;
  for (const seg of segs) {
    const ref = await soxAlaw(dir, Buffer.concat(seg.map((p) => p.payload)));
    const expected = Math.round((seg[0]!.at - t0) * 8) - seg[0]!.payload.length;
    let found = -1;
    for (let d = 0; d <= 800 && found < 0; d++) {
      for (const at of d === 0 ? [expected] : [expected - d, expected + d]) {
        if (at < 0 || at + ref.length > channel.length) continue;
        let ok = true;
        for (let i = 0; i < ref.length; i++) if (channel[at + i] !== ref[i]) { ok = false; break; }
        if (ok) { found = at; break; }
      }
    }
    if (found < 0) {
      // Say where it is, if anywhere near, so a failure tells timing from content.
      let near = 'nowhere within 2 s';
      for (let at = Math.max(0, expected - 16000); at < Math.min(channel.length - ref.length, expected + 16000); at++) {
        let ok = true;
        for (let i = 0; i < Math.min(ref.length, 2400); i++) if (channel[at + i] !== ref[i]) { ok = false; break; }
        if (ok) { near = `its first 300 ms at ${((at - expected) / 8).toFixed(1)} ms from there`; break; }
      }
      assert.fail(`a run of ${seg.length} packets (${ref.length} samples) arriving ${Math.round(seg[0]!.at - t0)} ms in is not in the recording within 100 ms of its time, sample for sample; found ${near}`);
    }
    covered.fill(1, found, found + ref.length);
    // Packets tcpdump missed under load but the recorder got: their place between two runs is not judged.
    if (prev && prev.seg[0]!.ssrc === seg[0]!.ssrc) {
      const missed = ((seg[0]!.seq - prev.seg[prev.seg.length - 1]!.seq) & 0xffff) - 1;
      if (missed > 0 && missed < 100) covered.fill(1, prev.end, Math.min(found, prev.end + missed * seg[0]!.payload.length));
    }
    prev = { seg, end: found + ref.length };
    end = Math.max(end, found + ref.length);
  }
  let stray = 0;
  for (let i = 0; i < channel.length; i++) if (!covered[i] && channel[i] !== 0) stray++;
  assert.equal(stray, 0, 'outside the received audio the channel is silent');
  return end;
}

/** Waits until `n` kept calls are complete in the archive (the call list shows them with an end). */
export async function keptCalls(h: SiprecHarness, n: number, ms = 30_000): Promise<any[]> {
  const end = Date.now() + ms;
  for (;;) {
    const calls = ((await h.get('/api/calls')).json?.calls ?? []).filter((c: any) => c.endedAt);
    if (calls.length >= n) return calls;
    if (Date.now() > end) throw new Error(`expected ${n} kept calls, found ${calls.length}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Checks a kept call's WAV against the captured RTP of its two streams: samples, placement, silence, duration. */
export async function checkAudio(h: SiprecHarness, id: string, ports: number[], caps: Map<number, RtpSeen[]>) {
  const call = await downloadCall(h, id);
  const audio = ports.map((p) => (caps.get(p) ?? []).filter((x) => x.pt === 8));
  const firsts = audio.filter((a) => a.length).map((a) => a[0]!);
  assert.ok(firsts.length > 0, 'RTP was captured for the call');
  const first = firsts.reduce((a, b) => (a.at <= b.at ? a : b));
  const t0 = first.at - first.payload.length / 8;
  const ends: number[] = [];
  for (const [i, pkts] of audio.entries()) {
    if (!pkts.length) continue;
    ends.push(await matchChannel(h.dir, call.channel(i as 0 | 1), pkts, t0));
  }
  const last = Math.max(...audio.filter((a) => a.length).map((a) => a[a.length - 1]!.at));
  const expectedSec = (last - t0) / 1000;
  assert.ok(Math.abs(call.seconds - expectedSec) <= 0.1, `WAV lasts ${call.seconds} s; the captured RTP spans ${expectedSec.toFixed(3)} s`);
  assert.equal(Math.round(call.seconds * 8000), Math.max(...ends), 'the WAV ends where the last received audio ends');
  return call;
}
