import { LINKTYPE } from './decode.ts';

/**
 * Builds capture files: the generated captures of the tests and the bench, and a way to hand a
 * reproducer to someone. Each layer is a small pure function; the file writers only frame records.
 */

const v4 = (a: string): number[] => a.split('.').map(Number);
function v6(a: string): Buffer {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function udp(sport: number, dport: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function tcp(sport: number, dport: number, seq: number, flags: { syn?: boolean; fin?: boolean; ack?: boolean; psh?: boolean; rst?: boolean }, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h[12] = 5 << 4;
  h[13] = (flags.fin ? 1 : 0) | (flags.syn ? 2 : 0) | (flags.rst ? 4 : 0) | (flags.psh ? 8 : 0) | (flags.ack ?? true ? 16 : 0);
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, payload]);
}

/** An IPv4 packet (protocol 17 UDP / 6 TCP); `frag` makes it one fragment of a larger datagram. */
export function ipv4(src: string, dst: string, proto: number, body: Uint8Array, o: { id?: number; fragOffset?: number; more?: boolean } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + body.length, 2);
  h.writeUInt16BE(o.id ?? 0, 4);
  h.writeUInt16BE((o.more ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3), 6);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(v4(src)).copy(h, 12);
  Buffer.from(v4(dst)).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, body]);
}

/** Splits a UDP datagram into IPv4 fragments of at most `mtu` bytes of payload (a multiple of 8). */
export function ipv4Fragments(src: string, dst: string, proto: number, body: Uint8Array, id: number, mtu = 1480): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += mtu) {
    out.push(ipv4(src, dst, proto, body.subarray(off, off + mtu), { id, fragOffset: off, more: off + mtu < body.length }));
  }
  return out;
}

export function ipv6(src: string, dst: string, next: number, body: Uint8Array): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(body.length, 4);
  h[6] = next;
  h[7] = 64;
  v6(src).copy(h, 8);
  v6(dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

/** Wraps an IP packet in the link-layer header of `linkType` (VLAN tags for Ethernet when given). */
export function frame(linkType: number, ip: Buffer, o: { vlans?: number[] } = {}): Buffer {
  const isV6 = ip[0]! >> 4 === 6;
  const etype = isV6 ? 0x86dd : 0x0800;
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      const tags = (o.vlans ?? []).map((vid, i, all) => {
        const t = Buffer.alloc(4);
        t.writeUInt16BE(i === 0 && all.length > 1 ? 0x88a8 : 0x8100, 0);
        t.writeUInt16BE(vid & 0x0fff, 2);
        return t;
      });
      const mac = Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
      const et = Buffer.alloc(2);
      et.writeUInt16BE(etype, 0);
      // Each tag's TPID sits where the EtherType would be; the last carries the real EtherType after it.
      const parts: Buffer[] = [mac];
      for (const t of tags) parts.push(t);
      parts.push(et, ip);
      return Buffer.concat(parts);
    }
    case LINKTYPE.LINUX_SLL: {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0); // sent to us
      h.writeUInt16BE(1, 2); // ARPHRD_ETHER
      h.writeUInt16BE(6, 4);
      Buffer.from([2, 0, 0, 0, 0, 1]).copy(h, 6);
      h.writeUInt16BE(etype, 14);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.LINUX_SLL2: {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(etype, 0);
      h.writeUInt32BE(1, 4); // interface index
      h.writeUInt16BE(1, 8);
      h[10] = 0;
      h[11] = 6;
      Buffer.from([2, 0, 0, 0, 0, 1]).copy(h, 12);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.NULL: {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(isV6 ? 30 : 2, 0);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.LOOP: {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(isV6 ? 30 : 2, 0);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.RAW: case LINKTYPE.IPV4: case LINKTYPE.IPV6: return ip;
    default: throw new Error(`no writer for link type ${linkType}`);
  }
}

export interface Record { ts: number; data: Buffer }

/** A classic pcap file (pcap-savefile(5)). */
export function pcapFile(linkType: number, records: Iterable<Record>, o: { bigEndian?: boolean; nanos?: boolean; snaplen?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const w32 = (b: Buffer, v: number, at: number) => (o.bigEndian ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const w16 = (b: Buffer, v: number, at: number) => (o.bigEndian ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const h = Buffer.alloc(24);
  w32(h, o.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, o.snaplen ?? 262144, 16);
  w32(h, linkType, 20);
  parts.push(h);
  for (const r of records) {
    const rh = Buffer.alloc(16);
    const sec = Math.floor(r.ts / 1000);
    const frac = o.nanos ? Math.round((r.ts - sec * 1000) * 1e6) : Math.round((r.ts - sec * 1000) * 1e3);
    w32(rh, sec, 0);
    w32(rh, Math.min(frac, o.nanos ? 999_999_999 : 999_999), 4);
    w32(rh, r.data.length, 8);
    w32(rh, r.data.length, 12);
    parts.push(rh, r.data);
  }
  return Buffer.concat(parts);
}

/** A pcapng file: one section, one interface (µs, or ns with if_tsresol 9), Enhanced Packet Blocks. */
export function pcapngFile(linkType: number, records: Iterable<Record>, o: { bigEndian?: boolean; nanos?: boolean } = {}): Buffer {
  const w32 = (b: Buffer, v: number, at: number) => (o.bigEndian ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const w16 = (b: Buffer, v: number, at: number) => (o.bigEndian ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const block = (type: number, body: Buffer): Buffer => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const b = Buffer.alloc(12 + padded.length);
    w32(b, type, 0);
    w32(b, b.length, 4);
    padded.copy(b, 8);
    w32(b, b.length, b.length - 4);
    return b;
  };
  const shb = Buffer.alloc(16);
  w32(shb, 0x1a2b3c4d, 0);
  w16(shb, 1, 4);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  const idbOpts = o.nanos ? Buffer.from([0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  if (o.nanos) { w16(idbOpts, 9, 0); w16(idbOpts, 1, 2); idbOpts[4] = 9; }
  const idb = Buffer.concat([Buffer.alloc(8), idbOpts]);
  w16(idb, linkType, 0);
  w32(idb, 262144, 4);
  const parts = [block(0x0a0d0d0a, shb), block(1, idb)];
  for (const r of records) {
    const units = BigInt(Math.round(r.ts * (o.nanos ? 1e6 : 1e3)));
    const e = Buffer.alloc(20);
    w32(e, 0, 0);
    w32(e, Number(units >> 32n), 4);
    w32(e, Number(units & 0xffffffffn), 8);
    w32(e, r.data.length, 12);
    w32(e, r.data.length, 16);
    parts.push(block(6, Buffer.concat([e, r.data])));
  }
  return Buffer.concat(parts);
}
