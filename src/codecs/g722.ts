import type { Decoder } from './types.ts';

/** The spandsp G.722 functions this box calls (Debian libspandsp2), bound through koffi. */
export interface SpandspG722 {
  init(): unknown;
  decode(state: unknown, out: Int16Array, data: Uint8Array, len: number): number;
  free(state: unknown): void;
}

/** a payload longer than this (1 s at 64 kbit/s) is cut: no sane packet is larger */
const MAX_BYTES = 8000;

/** G.722 at 64 kbit/s: one byte is two 16 kHz samples; the RTP clock says 8000 (RFC 3551 §4.5.2). */
export function g722Decoder(lib: SpandspG722): Decoder {
  let state: unknown = lib.init();
  return {
    codec: 'G722', rate: 16000, tsPerSample: 0.5,
    decode(p) {
      if (!state || p.length === 0) return new Int16Array(0);
      const data = p.length > MAX_BYTES ? p.subarray(0, MAX_BYTES) : p;
      const out = new Int16Array(data.length * 2);
      const n = lib.decode(state, out, data, data.length);
      return n >= 0 && n < out.length ? out.subarray(0, n) : out;
    },
    samplesOf: (p) => 2 * Math.min(p.length, MAX_BYTES),
    close() { if (state) lib.free(state); state = undefined; },
  };
}
