import { RvError } from '../errors.ts';

/** One captured frame: `ts` in ms since the epoch (fractional), `data` as captured (maybe cut at the snap length). */
export interface CapturedFrame { ts: number; linkType: number; data: Buffer; origLen: number }

export interface PcapReaderStats {
  format?: 'pcap' | 'pcapng';
  frames: number;
  bytes: number;
  /** blocks or records that could not be used (unknown pcapng blocks, frames of an unknown interface) */
  skipped: number;
  /** the input ended in the middle of a record: the last, partial one was dropped */
  truncated: boolean;
}

/** Largest record or block accepted; a larger length field means the file is damaged, not a big frame. */
const MAX_RECORD = 4 * 1024 * 1024;
const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const NG_SHB = 0x0a0d0d0a;
const NG_BOM = 0x1a2b3c4d;

const damaged = (offset: number, what: string): RvError =>
  new RvError('RV_ERR_PCAP_DAMAGED', `The capture is damaged at byte ${offset}: ${what}. Frames before it were read; make the capture again or repair it (for example with pcapfix).`, 422);

interface NgInterface { linkType: number; tsPerSec: number }

/**
 * Streaming reader of capture files and `tcpdump -w -` output: classic pcap (either byte order,
 * µs or ns timestamps) and pcapng (several sections, interfaces with their own time resolution;
 * EPB, SPB and the old PB). Push bytes as they come; frames come out as soon as they are whole.
 * Throws RV_ERR_PCAP_FORMAT / RV_ERR_PCAP_DAMAGED on input that is not a capture; never crashes.
 */
export class PcapReader {
  readonly stats: PcapReaderStats = { frames: 0, bytes: 0, skipped: 0, truncated: false };
  private buf: Buffer = Buffer.alloc(0);
  /** byte offset of buf[0] in the whole input, for error messages */
  private offset = 0;
  private le = true;
  private nsec = false;
  private linkType = 0;
  private headerRead = false;
  private ifaces: NgInterface[] = [];
  private lastTs = 0;
  private failed?: RvError;

  push(chunk: Buffer): CapturedFrame[] {
    if (this.failed) throw this.failed;
    this.stats.bytes += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: CapturedFrame[] = [];
    try {
      let used = 0;
      for (;;) {
        const n = this.next(this.buf.subarray(used), out);
        if (n === 0) break;
        used += n;
      }
      this.offset += used;
      this.buf = used < this.buf.length ? this.buf.subarray(used) : Buffer.alloc(0);
      // Keep a small remainder from pinning a large chunk in memory.
      if (this.buf.length && this.buf.buffer.byteLength > 4 * this.buf.length + 65536) this.buf = Buffer.from(this.buf);
    } catch (e) {
      this.failed = e as RvError;
      throw e;
    }
    return out;
  }

  /** The input is over: a partial record left over is counted as truncated, not an error. */
  end(): void {
    if (this.failed) return;
    if (!this.headerRead && this.stats.bytes === 0) throw new RvError('RV_ERR_PCAP_FORMAT', 'The capture is empty: it holds no bytes at all. Check the file name, or that tcpdump could open the interface.', 422);
    if (!this.headerRead) throw new RvError('RV_ERR_PCAP_FORMAT', `The capture is too short (${this.stats.bytes} bytes) to hold a file header; it is cut off or not a capture.`, 422);
    if (this.buf.length > 0) this.stats.truncated = true;
    this.buf = Buffer.alloc(0);
  }

  private u32(b: Buffer, at: number): number { return this.le ? b.readUInt32LE(at) : b.readUInt32BE(at); }
  private u16(b: Buffer, at: number): number { return this.le ? b.readUInt16LE(at) : b.readUInt16BE(at); }

  /** Reads one header, record or block from the front of `b`; returns bytes used, 0 when more are needed. */
  private next(b: Buffer, out: CapturedFrame[]): number {
    if (!this.headerRead) return this.fileHeader(b);
    return this.stats.format === 'pcap' ? this.record(b, out) : this.block(b, out);
  }

  private fileHeader(b: Buffer): number {
    if (b.length < 4) return 0;
    const be = b.readUInt32BE(0);
    const le = b.readUInt32LE(0);
    if (be === NG_SHB) {
      this.stats.format = 'pcapng';
      this.headerRead = true;
      return 0 + this.block(b, []);
    }
    if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) this.le = false;
    else if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) this.le = true;
    else throw new RvError('RV_ERR_PCAP_FORMAT', `This is not a capture file (it starts with 0x${be.toString(16).padStart(8, '0')}); give a .pcap or .pcapng file written by tcpdump, dumpcap or Wireshark.`, 422);
    if (b.length < 24) return 0;
    this.nsec = (this.le ? le : be) === PCAP_MAGIC_NS;
    // The link type is the low 16 bits; the upper ones carry FCS flags (pcap-savefile(5)).
    this.linkType = this.u32(b, 20) & 0xffff;
    this.stats.format = 'pcap';
    this.headerRead = true;
    return 24;
  }

  private record(b: Buffer, out: CapturedFrame[]): number {
    if (b.length < 16) return 0;
    const sec = this.u32(b, 0);
    const frac = this.u32(b, 4);
    const incl = this.u32(b, 8);
    const orig = this.u32(b, 12);
    if (incl > MAX_RECORD) throw damaged(this.offset, `a record claims ${incl} bytes`);
    if (frac >= (this.nsec ? 1e9 : 1e6)) throw damaged(this.offset, 'a record has an impossible timestamp');
    if (b.length < 16 + incl) return 0;
    const ts = sec * 1000 + (this.nsec ? frac / 1e6 : frac / 1e3);
    out.push({ ts, linkType: this.linkType, data: b.subarray(16, 16 + incl), origLen: orig });
    this.stats.frames++;
    return 16 + incl;
  }

  private block(b: Buffer, out: CapturedFrame[]): number {
    if (b.length < 12) return 0;
    const type = b.readUInt32BE(0) === NG_SHB ? NG_SHB : this.u32(b, 0);
    if (type === NG_SHB) {
      // A new section may switch byte order; its byte-order magic says which.
      const bom = b.readUInt32LE(8);
      if (bom === NG_BOM) this.le = true;
      else if (b.readUInt32BE(8) === NG_BOM) this.le = false;
      else throw damaged(this.offset, 'a section header has no byte-order magic');
      this.ifaces = [];
    }
    const len = this.u32(b, 4);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) throw damaged(this.offset, `a block claims ${len} bytes`);
    if (b.length < len) return 0;
    if (this.u32(b, len - 4) !== len) throw damaged(this.offset, 'a block\'s trailing length differs from its leading one');
    const body = b.subarray(8, len - 4);
    switch (type) {
      case NG_SHB: break;
      case 1: this.interfaceBlock(body); break;
      case 6: this.packetBlock(body, out, 'epb'); break;
      case 2: this.packetBlock(body, out, 'pb'); break;
      case 3: this.simpleBlock(body, out); break;
      default: this.stats.skipped++; // name resolution, statistics, custom blocks: nothing to hear
    }
    return len;
  }

  private interfaceBlock(body: Buffer): void {
    if (body.length < 8) { this.stats.skipped++; return; }
    const iface: NgInterface = { linkType: this.u16(body, 0), tsPerSec: 1e6 };
    // Options: if_tsresol (code 9) sets the time unit: 10^-n, or 2^-n with the top bit set.
    for (let at = 8; at + 4 <= body.length;) {
      const code = this.u16(body, at);
      const olen = this.u16(body, at + 2);
      if (code === 0) break;
      if (code === 9 && olen >= 1 && at + 4 < body.length) {
        const r = body[at + 4]!;
        const p = r & 0x7f;
        if (p <= 30) iface.tsPerSec = r & 0x80 ? 2 ** p : 10 ** p;
      }
      at += 4 + Math.ceil(olen / 4) * 4;
    }
    this.ifaces.push(iface);
  }

  private packetBlock(body: Buffer, out: CapturedFrame[], kind: 'epb' | 'pb'): void {
    if (body.length < 20) { this.stats.skipped++; return; }
    const ifId = kind === 'epb' ? this.u32(body, 0) : this.u16(body, 0);
    const iface = this.ifaces[ifId];
    const cap = this.u32(body, 12);
    if (!iface || 20 + cap > body.length) { this.stats.skipped++; return; }
    const units = this.u32(body, 4) * 2 ** 32 + this.u32(body, 8);
    const ts = (units / iface.tsPerSec) * 1000;
    this.lastTs = ts;
    out.push({ ts, linkType: iface.linkType, data: body.subarray(20, 20 + cap), origLen: this.u32(body, 16) });
    this.stats.frames++;
  }

  private simpleBlock(body: Buffer, out: CapturedFrame[]): void {
    const iface = this.ifaces[0];
    if (!iface || body.length < 4) { this.stats.skipped++; return; }
    const orig = this.u32(body, 0);
    // An SPB has no timestamp: it is given the last one seen.
    out.push({ ts: this.lastTs, linkType: iface.linkType, data: body.subarray(4, 4 + Math.min(orig, body.length - 4)), origLen: orig });
    this.stats.frames++;
  }
}
