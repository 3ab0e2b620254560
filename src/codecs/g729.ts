import type { Decoder } from './types.ts';

/** The bcg729 functions this box calls (Debian libbcg729-0), bound through koffi. */
export interface Bcg729 {
  init(): unknown;
  decode(ctx: unknown, bits: Uint8Array, len: number, erased: number, sid: number, rfc3389: number, out: Int16Array): void;
  close(ctx: unknown): void;
}

const FRAME_BYTES = 10;
const SID_BYTES = 2;
const FRAME_SAMPLES = 80;
/** at most this many frames from one payload: 200 ms, more than any sane ptime; the rest is ignored */
const MAX_FRAMES = 20;

/** Speech frames and whether a SID frame ends the payload; any other odd tail is not G.729 and is dropped rather than guessed. */
function layout(p: Uint8Array): { speech: number; sid: 0 | 1 } {
  const speech = Math.min(MAX_FRAMES, Math.floor(p.length / FRAME_BYTES));
  const rest = p.length - speech * FRAME_BYTES;
  return { speech, sid: speech < MAX_FRAMES && rest === SID_BYTES ? 1 : 0 };
}

/**
 * G.729 / G.729A with Annex B (RFC 3551 §4.5.6): a payload is N 10-byte speech frames, then optionally one
 * 2-byte SID frame (comfort-noise parameters). bcg729 decodes both and conceals erased frames.
 */
export function g729Decoder(lib: Bcg729): Decoder {
  let ctx: unknown = lib.init();
  const frame = new Int16Array(FRAME_SAMPLES);
  // after a SID frame the sender stops until speech returns (Annex B DTX): the decoder goes on making comfort noise
  let dtx = false;
  const run = (bits: Uint8Array, len: number, erased: number, sid: number, out: Int16Array, at: number): void => {
    lib.decode(ctx, bits, len, erased, sid, 0, frame);
    out.set(frame, at);
  };
  const frames = (samples: number): number => Math.min(MAX_FRAMES * 50, Math.ceil(samples / FRAME_SAMPLES));
  return {
    codec: 'G729', rate: 8000, tsPerSample: 1,
    decode(p) {
      if (!ctx) return new Int16Array(0);
      const { speech, sid } = layout(p);
      const out = new Int16Array((speech + sid) * FRAME_SAMPLES);
      for (let i = 0; i < speech; i++) run(p.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES), FRAME_BYTES, 0, 0, out, i * FRAME_SAMPLES);
      if (sid) run(p.subarray(speech * FRAME_BYTES, speech * FRAME_BYTES + SID_BYTES), SID_BYTES, 0, 1, out, speech * FRAME_SAMPLES);
      if (speech + sid > 0) dtx = sid === 1;
      return out;
    },
    samplesOf(p) {
      const { speech, sid } = layout(p);
      return (speech + sid) * FRAME_SAMPLES;
    },
    plc(samples) {
      const n = Math.min(MAX_FRAMES, frames(samples));
      const out = new Int16Array(n * FRAME_SAMPLES);
      if (!ctx) return out.subarray(0, samples);
      const none = new Uint8Array(FRAME_BYTES);
      for (let i = 0; i < n; i++) run(none, FRAME_BYTES, 1, 0, out, i * FRAME_SAMPLES);
      return out.subarray(0, Math.min(samples, out.length));
    },
    comfortNoise(samples) {
      if (!dtx || !ctx) return undefined;
      const n = frames(samples);
      const out = new Int16Array(n * FRAME_SAMPLES);
      // an untransmitted frame: no bits, the SID flag set, as bcg729 documents for DTX
      const none = new Uint8Array(FRAME_BYTES);
      for (let i = 0; i < n; i++) run(none, 0, 0, 1, out, i * FRAME_SAMPLES);
      return out.subarray(0, Math.min(samples, out.length));
    },
    close() { if (ctx) lib.close(ctx); ctx = undefined; },
  };
}
