import { createCipheriv, createHmac, timingSafeEqual, type Cipher } from 'node:crypto';

/**
 * SRTP (RFC 3711) for the two SDES suites SBCs offer (RFC 4568): AES-128 counter mode with
 * HMAC-SHA1 tags of 80 or 32 bits, the default key derivation (key derivation rate 0), the
 * receiver's rollover-counter estimate (§3.3.1) and a replay list (§3.3.2). RTP only: SRTCP is
 * recognised by its packet type and never decrypted (the recorder needs it only as a sign of life).
 */
export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: { tagLen: 10 },
  AES_CM_128_HMAC_SHA1_32: { tagLen: 4 },
} as const;
export type SrtpSuite = keyof typeof SRTP_SUITES;
export const isSrtpSuite = (s: string): s is SrtpSuite => Object.hasOwn(SRTP_SUITES, s);

export interface SrtpKey {
  suite: SrtpSuite;
  /** 16 bytes */
  masterKey: Buffer;
  /** 14 bytes */
  masterSalt: Buffer;
  /** bytes of MKI between payload and tag (RFC 4568 `|value:length`), 0 without */
  mkiLen?: number;
}

/** Labels of the key derivation (RFC 3711 §4.3.1, RTP only). */
export const LABEL = { encryption: 0x00, auth: 0x01, salt: 0x02 } as const;

/** The session key for `label` from the master key and salt, key derivation rate 0 (RFC 3711 §4.3.1, §4.3.3). */
export function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  // x = (label || r) XOR master salt, r = 0; the AES-CM input block is x · 2^16.
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, 14);
  iv[7]! ^= label;
  return createCipheriv('aes-128-ctr', masterKey, iv).update(Buffer.alloc(length));
}

/** The AES-CM counter block of a packet: (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16) (RFC 3711 §4.1.1). */
export function packetIv(sessionSalt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16);
  sessionSalt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const hi = Math.floor(index / 0x100000000) & 0xffff;
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ hi, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ (index >>> 0)) >>> 0, 10);
  return iv;
}

/** Parses an SDES `inline:` key parameter (RFC 4568 §6.1): base64 key||salt, optional lifetime and MKI. */
export function parseInlineKey(suite: SrtpSuite, keyParams: string): SrtpKey | undefined {
  const m = /^inline:([A-Za-z0-9+/=]+)(?:\|([^|]+))?(?:\|(\d+):(\d+))?$/.exec(keyParams.trim().split(/\s+/)[0] ?? '');
  if (!m) return undefined;
  let lifetime: string | undefined = m[2];
  let mkiLen = m[4];
  if (lifetime && /^\d+:\d+$/.test(lifetime) && !mkiLen) { mkiLen = lifetime.split(':')[1]; lifetime = undefined; }
  if (lifetime && !/^(2\^\d+|\d+)$/.test(lifetime)) return undefined;
  const raw = Buffer.from(m[1]!, 'base64');
  if (raw.length !== 30) return undefined;
  const key: SrtpKey = { suite, masterKey: raw.subarray(0, 16), masterSalt: raw.subarray(16, 30) };
  const n = mkiLen === undefined ? 0 : Number(mkiLen);
  if (n < 0 || n > 128) return undefined;
  if (n) key.mkiLen = n;
  return key;
}

/** Length of an RTP header with its CSRCs and extension; undefined when it does not fit in `len`. */
function headerLength(p: Buffer, len: number): number | undefined {
  if (len < 12 || p[0]! >> 6 !== 2) return undefined;
  let h = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) {
    if (h + 4 > len) return undefined;
    h += 4 + 4 * p.readUInt16BE(h + 2);
  }
  return h <= len ? h : undefined;
}

interface SessionKeys { enc: Buffer; auth: Buffer; salt: Buffer; tagLen: number; mkiLen: number; ecb: Cipher }

function sessionKeys(k: SrtpKey): SessionKeys {
  const enc = deriveKey(k.masterKey, k.masterSalt, LABEL.encryption, 16);
  const ecb = createCipheriv('aes-128-ecb', enc, null);
  ecb.setAutoPadding(false);
  return {
    enc, ecb,
    auth: deriveKey(k.masterKey, k.masterSalt, LABEL.auth, 20),
    salt: deriveKey(k.masterKey, k.masterSalt, LABEL.salt, 14),
    tagLen: SRTP_SUITES[k.suite].tagLen,
    mkiLen: k.mkiLen ?? 0,
  };
}

/**
 * XORs `data` with the AES-CM keystream of a packet into `out` at `at`. The counter's low 16 bits are zero
 * in every packet IV (§4.1.1), so block b's counter is the IV with b there; one reused ECB cipher makes the
 * keystream, which is the same as AES-128-CTR from that IV without a cipher object per packet.
 */
function cm(keys: SessionKeys, iv: Buffer, data: Buffer, out: Buffer, at: number): void {
  const blocks = (data.length + 15) >> 4;
  const ctr = Buffer.allocUnsafe(blocks * 16);
  for (let b = 0; b < blocks; b++) {
    iv.copy(ctr, b * 16, 0, 14);
    ctr[b * 16 + 14] = b >> 8;
    ctr[b * 16 + 15] = b & 0xff;
  }
  const ks = keys.ecb.update(ctr);
  for (let i = 0; i < data.length; i++) out[at + i] = data[i]! ^ ks[i]!;
}

function tag(keys: SessionKeys, data: Buffer, roc: number): Buffer {
  const r = Buffer.alloc(4);
  r.writeUInt32BE(roc >>> 0);
  return createHmac('sha1', keys.auth).update(data).update(r).digest().subarray(0, keys.tagLen);
}

/** Packets remembered per source for replay checks (RFC 3711 §3.3.2 asks for at least 64). */
const REPLAY_WINDOW = 128;
/** Sources (SSRCs) with their own rollover counter per stream; the least recently used is forgotten. */
const MAX_SOURCES = 16;

interface SourceState { roc: number; sl: number; max: number; seen: Float64Array }

export type UnprotectResult = { ok: true; packet: Buffer } | { ok: false; why: 'malformed' | 'auth' | 'replay' };

/** The receiving side of one SRTP stream: authenticates, checks for replays, decrypts. */
export class SrtpReceiver {
  private readonly keys: SessionKeys;
  private readonly sources = new Map<number, SourceState>();
  readonly stats = { ok: 0, authFailed: 0, replayed: 0, malformed: 0 };

  constructor(key: SrtpKey) { this.keys = sessionKeys(key); }

  unprotect(p: Buffer): UnprotectResult {
    const r = this.check(p);
    if (!r.ok) this.stats[r.why === 'auth' ? 'authFailed' : r.why === 'replay' ? 'replayed' : 'malformed']++;
    else this.stats.ok++;
    return r;
  }

  private check(p: Buffer): UnprotectResult {
    const { tagLen, mkiLen } = this.keys;
    const end = p.length - tagLen - mkiLen;
    const h = headerLength(p, end);
    if (h === undefined) return { ok: false, why: 'malformed' };
    const seq = p.readUInt16BE(2);
    const ssrc = p.readUInt32BE(8);
    const known = this.sources.get(ssrc);
    // §3.3.1: the index is guessed from the highest sequence number seen and the rollover counter.
    let v = 0;
    if (known) {
      const { roc, sl } = known;
      if (sl < 32768) v = seq - sl > 32768 ? roc - 1 : roc;
      else v = sl - 32768 > seq ? roc + 1 : roc;
      if (v < 0) return { ok: false, why: 'replay' };
    }
    const index = v * 65536 + seq;
    if (known && (index <= known.max - REPLAY_WINDOW || known.seen[index % REPLAY_WINDOW] === index)) return { ok: false, why: 'replay' };
    const want = tag(this.keys, p.subarray(0, end), v);
    const got = p.subarray(end + mkiLen, end + mkiLen + tagLen);
    if (!timingSafeEqual(want, got)) return { ok: false, why: 'auth' };
    const out = Buffer.allocUnsafe(end);
    p.copy(out, 0, 0, h);
    cm(this.keys, packetIv(this.keys.salt, ssrc, index), p.subarray(h, end), out, h);
    // Only an authentic packet moves the state (§3.3.1, §3.3.2).
    const st = known ?? { roc: 0, sl: seq, max: -1, seen: new Float64Array(REPLAY_WINDOW).fill(-1) };
    if (!known) {
      if (this.sources.size >= MAX_SOURCES) this.sources.delete(this.sources.keys().next().value!);
    } else this.sources.delete(ssrc);
    this.sources.set(ssrc, st);
    if (v === st.roc + 1) { st.roc = v; st.sl = seq; } else if (v === st.roc && seq > st.sl) st.sl = seq;
    st.seen[index % REPLAY_WINDOW] = index;
    st.max = Math.max(st.max, index);
    return { ok: true, packet: out };
  }
}

/** The sending side (tests, bench): encrypts and tags RTP, counting rollovers of the sequence number. */
export class SrtpSender {
  private readonly keys: SessionKeys;
  private readonly sources = new Map<number, { roc: number; last: number }>();

  constructor(key: SrtpKey) { this.keys = sessionKeys(key); }

  protect(rtp: Buffer): Buffer {
    const h = headerLength(rtp, rtp.length);
    if (h === undefined) throw new Error('not an RTP packet');
    const seq = rtp.readUInt16BE(2);
    const ssrc = rtp.readUInt32BE(8);
    const s = this.sources.get(ssrc) ?? { roc: 0, last: seq };
    if (seq < s.last && s.last - seq > 32768) s.roc++;
    s.last = seq;
    this.sources.set(ssrc, s);
    const index = s.roc * 65536 + seq;
    const out = Buffer.alloc(rtp.length + this.keys.mkiLen + this.keys.tagLen);
    rtp.copy(out, 0, 0, h);
    cm(this.keys, packetIv(this.keys.salt, ssrc, index), rtp.subarray(h), out, h);
    tag(this.keys, out.subarray(0, rtp.length), s.roc).copy(out, rtp.length + this.keys.mkiLen);
    return out;
  }
}
