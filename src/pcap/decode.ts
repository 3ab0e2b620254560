import type { CapturedFrame } from './reader.ts';

/** A UDP datagram or TCP segment taken out of a captured frame. */
export interface Segment {
  ts: number;
  proto: 'udp' | 'tcp';
  src: string;
  sport: number;
  dst: string;
  dport: number;
  payload: Buffer;
  tcp?: { seq: number; syn: boolean; fin: boolean; rst: boolean };
}

/** Link types (tcpdump.org/linktypes.html) this decoder understands. */
export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, RAW_BSD: 12, RAW_BSD14: 14, LOOP: 108, LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276 } as const;

export interface DecodeStats { undecodable: number; otherProtocols: number; fragmentsPending: number }

const FRAG_TIMEOUT_MS = 30_000;
const MAX_FRAG_SETS = 256;
const MAX_DATAGRAM = 65_535;

interface FragSet { ts: number; parts: Array<{ off: number; data: Buffer }>; total?: number; proto: number; src: string; dst: string }

const ip4 = (b: Buffer, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
function ip6(b: Buffer, at: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) parts.push(b.readUInt16BE(at + i * 2).toString(16));
  // Shorten the longest run of zero groups, as addresses in SDP are written (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (parts[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return parts.join(':');
  return `${parts.slice(0, best).join(':')}::${parts.slice(best + bestLen).join(':')}`;
}

/**
 * Link layer → IP → UDP/TCP. Handles Ethernet with VLAN tags (802.1Q, QinQ), Linux cooked SLL and
 * SLL2 (`tcpdump -i any`), raw IP, BSD NULL/LOOP, IPv4 with fragments put back together, IPv6 with
 * extension headers and fragments. Anything else, or anything cut short, is counted and skipped.
 */
export class FrameDecoder {
  readonly stats: DecodeStats = { undecodable: 0, otherProtocols: 0, fragmentsPending: 0 };
  private readonly frags = new Map<string, FragSet>();

  decode(f: CapturedFrame): Segment | undefined {
    try {
      const ip = this.ipOf(f.linkType, f.data);
      if (!ip) return undefined;
      return this.ip(f.ts, ip);
    } catch {
      // A read past the end of a frame cut short by the snap length or by damage.
      this.stats.undecodable++;
      return undefined;
    }
  }

  private ipOf(link: number, d: Buffer): Buffer | undefined {
    switch (link) {
      case LINKTYPE.ETHERNET: {
        let at = 12;
        let type = d.readUInt16BE(at);
        while (type === 0x8100 || type === 0x88a8 || type === 0x9100) { at += 4; type = d.readUInt16BE(at); }
        return this.byEthertype(type, d.subarray(at + 2));
      }
      case LINKTYPE.LINUX_SLL: return this.byEthertype(d.readUInt16BE(14), d.subarray(16));
      case LINKTYPE.LINUX_SLL2: return this.byEthertype(d.readUInt16BE(0), d.subarray(20));
      case LINKTYPE.NULL: case LINKTYPE.LOOP: {
        // The address family is in the capturing host's byte order (NULL) or network order (LOOP).
        const le = d.readUInt32LE(0);
        const be = d.readUInt32BE(0);
        const af = link === LINKTYPE.LOOP ? be : le < 256 ? le : be;
        if (af === 2 || af === 24 || af === 28 || af === 30) return d.subarray(4);
        this.stats.otherProtocols++;
        return undefined;
      }
      case LINKTYPE.RAW: case LINKTYPE.RAW_BSD: case LINKTYPE.RAW_BSD14: case LINKTYPE.IPV4: case LINKTYPE.IPV6: return d;
      default: this.stats.undecodable++; return undefined;
    }
  }

  private byEthertype(type: number, rest: Buffer): Buffer | undefined {
    if (type === 0x0800 || type === 0x86dd) return rest;
    this.stats.otherProtocols++;
    return undefined;
  }

  private ip(ts: number, d: Buffer): Segment | undefined {
    const v = d[0]! >> 4;
    if (v === 4) return this.ipv4(ts, d);
    if (v === 6) return this.ipv6(ts, d);
    this.stats.undecodable++;
    return undefined;
  }

  private ipv4(ts: number, d: Buffer): Segment | undefined {
    const ihl = (d[0]! & 0x0f) * 4;
    const total = d.readUInt16BE(2);
    if (ihl < 20 || total < ihl) { this.stats.undecodable++; return undefined; }
    // Ethernet pads short frames; the IP total length says where the packet ends (0 on some TSO captures).
    const pkt = total > 0 ? d.subarray(0, Math.min(total, d.length)) : d;
    const frag = d.readUInt16BE(6);
    const more = (frag & 0x2000) !== 0;
    const off = (frag & 0x1fff) * 8;
    const proto = d[9]!;
    const src = ip4(d, 12);
    const dst = ip4(d, 16);
    let payload = pkt.subarray(ihl);
    if (more || off > 0) {
      const whole = this.fragment(`4/${src}/${dst}/${d.readUInt16BE(4)}/${proto}`, ts, off, more, payload, proto, src, dst);
      if (!whole) return undefined;
      payload = whole;
    }
    return this.transport(ts, proto, src, dst, payload);
  }

  private ipv6(ts: number, d: Buffer): Segment | undefined {
    const plen = d.readUInt16BE(4);
    let next = d[6]!;
    const src = ip6(d, 8);
    const dst = ip6(d, 24);
    let p = d.subarray(40, 40 + plen);
    for (let hops = 0; hops < 8; hops++) {
      if (next === 0 || next === 43 || next === 60) {
        const n = p[0]!;
        p = p.subarray((p[1]! + 1) * 8);
        next = n;
        continue;
      }
      if (next === 44) {
        const n = p[0]!;
        const fo = p.readUInt16BE(2);
        const id = p.readUInt32BE(4);
        const whole = this.fragment(`6/${src}/${dst}/${id}`, ts, fo & 0xfff8, (fo & 1) === 1, p.subarray(8), n, src, dst);
        if (!whole) return undefined;
        p = whole;
        next = n;
        continue;
      }
      break;
    }
    return this.transport(ts, next, src, dst, p);
  }

  private transport(ts: number, proto: number, src: string, dst: string, p: Buffer): Segment | undefined {
    if (proto === 17) {
      if (p.length < 8) { this.stats.undecodable++; return undefined; }
      const len = p.readUInt16BE(4);
      const payload = p.subarray(8, len >= 8 ? Math.min(len, p.length) : p.length);
      return { ts, proto: 'udp', src, sport: p.readUInt16BE(0), dst, dport: p.readUInt16BE(2), payload };
    }
    if (proto === 6) {
      if (p.length < 20) { this.stats.undecodable++; return undefined; }
      const hl = (p[12]! >> 4) * 4;
      if (hl < 20 || hl > p.length) { this.stats.undecodable++; return undefined; }
      const flags = p[13]!;
      return {
        ts, proto: 'tcp', src, sport: p.readUInt16BE(0), dst, dport: p.readUInt16BE(2), payload: p.subarray(hl),
        tcp: { seq: p.readUInt32BE(4), syn: (flags & 0x02) !== 0, fin: (flags & 0x01) !== 0, rst: (flags & 0x04) !== 0 },
      };
    }
    this.stats.otherProtocols++;
    return undefined;
  }

  /** Gathers fragments; returns the whole payload once every part is in. Bounded in count and age. */
  private fragment(key: string, ts: number, off: number, more: boolean, data: Buffer, proto: number, src: string, dst: string): Buffer | undefined {
    for (const [k, s] of this.frags) if (ts - s.ts > FRAG_TIMEOUT_MS) this.frags.delete(k);
    let set = this.frags.get(key);
    if (!set) {
      if (this.frags.size >= MAX_FRAG_SETS) this.frags.delete(this.frags.keys().next().value!);
      set = { ts, parts: [], proto, src, dst };
      this.frags.set(key, set);
    }
    if (off + data.length > MAX_DATAGRAM) { this.frags.delete(key); this.stats.undecodable++; return undefined; }
    set.parts.push({ off, data: Buffer.from(data) });
    if (!more) set.total = off + data.length;
    this.stats.fragmentsPending = this.frags.size;
    if (set.total === undefined) return undefined;
    const have = new Uint8Array(set.total);
    const out = Buffer.alloc(set.total);
    for (const part of set.parts) {
      const end = Math.min(set.total, part.off + part.data.length);
      part.data.copy(out, part.off, 0, end - part.off);
      have.fill(1, part.off, end);
    }
    if (have.indexOf(0) >= 0) return undefined;
    this.frags.delete(key);
    this.stats.fragmentsPending = this.frags.size;
    return out;
  }
}
