import { spawn, type ChildProcess } from 'node:child_process';
import type { Codecs } from '../codecs/codecs.ts';
import { isRvError } from '../errors.ts';
import type { Log } from '../log.ts';
import { CapturePipeline } from '../pcap/pipeline.ts';
import type { PassiveCall } from '../pcap/passive.ts';
import { LineSource, type CallParties } from './source.ts';

/** A line fed by the mirrored trunk: up to `maxCalls` calls at once (default 1). */
export interface PcapLine { id: string; channels: 1 | 2; match?: readonly string[]; maxCalls?: number }

export interface PcapSourceOptions {
  lines: PcapLine[];
  /** network interface that receives the mirrored port, e.g. "eth1"; "any" for all */
  interface: string;
  /** BPF filter handed to tcpdump */
  filter: string;
  rtpTimeoutMs: number;
  log: Log;
  /** the decoders this box has (default G.711 only; the box passes Codecs.open()) */
  codecs?: Codecs;
  /** the tcpdump binary (default "tcpdump" on PATH) */
  tcpdump?: string;
  now?: () => number;
  /** first restart delay; doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
}

const same = (a: string, b: string): boolean => a.replace(/^\+/, '') === b.replace(/^\+/, '');

/**
 * Lines fed from a switch port that mirrors the SIP trunk: a spawned `tcpdump -U -w -` (needs only
 * CAP_NET_RAW) streams the capture into the passive tracker. Each answered call goes to the line whose
 * `match` numbers fit, else the first free line. When tcpdump dies the lines get a fault and it is
 * started again with back-off; the other lines of the box record on.
 */
export class PcapSource extends LineSource {
  readonly kind = 'pcap';
  readonly lines: readonly string[];
  private child?: ChildProcess;
  private pipeline?: CapturePipeline;
  private readonly busy = new Map<PassiveCall, PcapLine>();
  private readonly now: () => number;
  private stopping = false;
  private faulted = false;
  private backoff: number;
  private restartTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private stderrTail = '';
  /** calls seen that no line was free for */
  dropped = 0;

  constructor(private readonly o: PcapSourceOptions) {
    super();
    this.lines = o.lines.map((l) => l.id);
    this.now = o.now ?? Date.now;
    this.backoff = o.backoffMs ?? 1000;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.spawn();
    this.tickTimer = setInterval(() => this.pipeline?.tracker.tick(this.now()), 200);
    this.tickTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.tickTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    }
    this.endPipeline();
  }

  private spawn(): void {
    const args = ['-U', '--immediate-mode', '-w', '-', '-s', '0', '-n', '-i', this.o.interface, ...(this.o.filter.trim() ? [this.o.filter] : [])];
    const pipeline = this.newPipeline();
    this.pipeline = pipeline;
    this.stderrTail = '';
    let child: ChildProcess;
    try {
      child = spawn(this.o.tcpdump ?? 'tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      this.died(`could not start tcpdump (${(e as Error).message})`);
      return;
    }
    this.child = child;
    const gone = (how: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) return;
      const lines = this.stderrTail.trim().split('\n').filter((l) => l && !/^listening on|^tcpdump: verbose output|^\d+ packets/.test(l));
      const why = (lines.filter((l) => l.startsWith('tcpdump:')).pop() ?? lines.pop())?.replace(/^tcpdump: /, '');
      this.died(`tcpdump on ${this.o.interface} stopped (${how}${why ? `: ${why}` : ''})`);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      this.stderrTail = e.code === 'ENOENT' ? 'tcpdump is not installed (apt install tcpdump)' : e.message;
      if (child.pid === undefined) gone('not started');
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderrTail = (this.stderrTail + d).slice(-400); });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.pipeline !== pipeline) return;
      if (this.faulted) {
        this.faulted = false;
        this.backoff = this.o.backoffMs ?? 1000;
        for (const id of this.lines) this.emit('recovered', { line: id });
      }
      try {
        pipeline.push(chunk);
      } catch (e) {
        this.o.log.error({ err: e }, 'the capture stream from tcpdump is damaged; restarting it');
        child.kill('SIGTERM');
      }
    });
    child.on('close', (code, signal) => gone(signal ?? `exit ${code}`));
  }

  private died(what: string): void {
    this.endPipeline();
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs ?? 30_000);
    this.faulted = true;
    const message = `${what}; the calls on this trunk are not recorded. Check the interface name and that ringvault may capture (CAP_NET_RAW). Retrying in ${(delay / 1000).toFixed(delay < 1000 ? 1 : 0)} s.`;
    for (const id of this.lines) this.emit('fault', { line: id, code: 'RV_ERR_PCAP_CAPTURE', message });
    this.restartTimer = setTimeout(() => { if (!this.stopping) this.spawn(); }, delay);
    this.restartTimer.unref();
  }

  private endPipeline(): void {
    const p = this.pipeline;
    this.pipeline = undefined;
    if (!p) return;
    try { p.end(); } catch (e) { if (!isRvError(e)) throw e; }
  }

  private newPipeline(): CapturePipeline {
    return new CapturePipeline({
      rtpTimeoutMs: this.o.rtpTimeoutMs,
      log: (msg, extra) => this.o.log.warn(extra ?? {}, msg),
      ...(this.o.codecs ? { codecs: this.o.codecs } : {}),
      onStart: (c) => this.onStart(c),
      onAudio: (c, index, pcm) => {
        const line = this.busy.get(c);
        if (!line) return;
        const at = (c.mediaFrom ?? c.answeredAt!) + (index * 1000) / c.rate;
        this.emit('call-audio', { line: line.id, ref: c.ref, block: { at, channels: line.channels, pcm: line.channels === 2 ? pcm : mono(pcm) } });
      },
      onInfo: (c) => {
        const line = this.busy.get(c);
        if (line) this.emit('call-info', { line: line.id, ref: c.ref, parties: { digits: c.digits.map((d) => d.digit).join(''), ...(c.undecodable.length ? { undecodable: [...c.undecodable] } : {}), ...(c.notes.length ? { notes: [...c.notes] } : {}) } });
      },
      onEnd: (c) => {
        const line = this.busy.get(c);
        if (!line) return;
        this.busy.delete(c);
        // The report's notes as they stand at the end (a stream switch may be the last thing that happened).
        if (c.notes.length) this.emit('call-info', { line: line.id, ref: c.ref, parties: { notes: [...c.notes] } });
        if (c.undecodedRtp) this.emit('call-info', { line: line.id, ref: c.ref, parties: { undecodedRtp: c.undecodedRtp } });
        this.emit('call-end', { line: line.id, ref: c.ref, at: Math.round(c.endedAt!), reason: c.endReason ?? 'ended' });
      },
    });
  }

  private onStart(c: PassiveCall): void {
    const taken = new Map<string, number>();
    for (const l of this.busy.values()) taken.set(l.id, (taken.get(l.id) ?? 0) + 1);
    const free = this.o.lines.filter((l) => (taken.get(l.id) ?? 0) < (l.maxCalls ?? 1));
    const byNumber = (n?: string) => (n ? free.find((l) => l.match?.some((m) => same(m, n))) : undefined);
    const outLine = byNumber(c.caller);
    const line = outLine ?? byNumber(c.called) ?? free.find((l) => !l.match?.length) ?? free[0];
    if (!line) {
      this.dropped++;
      this.o.log.warn({ calls: this.busy.size }, 'a call on the mirrored trunk found no free pcap line and is not recorded; raise the line\'s maxCalls or add a line with source "pcap"');
      return;
    }
    this.busy.set(c, line);
    const parties: CallParties = { direction: outLine ? 'out' : 'in' };
    if (c.caller) parties.caller = c.caller;
    if (c.called) parties.called = c.called;
    // The line's own number on this call is the extension a board button can be mapped to.
    const ext = outLine ? c.caller : c.called && line.match?.some((m) => same(m, c.called!)) ? c.called : undefined;
    if (ext) parties.extension = ext;
    this.emit('call-start', { line: line.id, ref: c.ref, at: Math.round(c.mediaFrom ?? c.answeredAt!), channels: line.channels, parties: { ...parties, ...(c.notes.length ? { notes: [...c.notes] } : {}) }, rate: c.rate });
  }
}

/** Both directions in one channel, for a line kept mono. */
function mono(stereo: Int16Array): Int16Array {
  const out = new Int16Array(stereo.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (stereo[i * 2]! + stereo[i * 2 + 1]!) >> 1;
  return out;
}
