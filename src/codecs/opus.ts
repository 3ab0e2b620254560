import type { CallRate, Decoder } from './types.ts';

/** The libopus functions this box calls (Debian libopus0), bound through koffi. */
export interface LibOpus {
  /** a decoder state for mono output at `rate`, or a negative libopus error code */
  create(rate: number): { state: unknown } | { error: number };
  /** decodes one packet (null: conceal `frameSize` samples); returns samples or a negative error */
  decode(state: unknown, data: Uint8Array | null, len: number, out: Int16Array, frameSize: number): number;
  destroy(state: unknown): void;
  /** samples a packet decodes to at `rate` (opus_packet_get_nb_samples), or a negative error */
  samples(data: Uint8Array, rate: number): number;
}

/** 120 ms, the longest Opus packet (RFC 6716 §3.2.5), in output samples */
const maxFrame = (rate: number): number => (rate * 120) / 1000;
/** no Opus packet is larger (RFC 6716 §3.4: 1275 bytes per frame, 48 frames at most, plus lengths) */
const MAX_PACKET = 1275 * 48 + 2 * 48;

/**
 * Opus (RFC 7587): the RTP clock is always 48 kHz whatever the audio's band; libopus decodes straight to the
 * call's rate (8 kHz for narrowband calls, 16 kHz for wideband), mono (a stereo stream is mixed down), and
 * conceals lost packets.
 */
export function opusDecoder(lib: LibOpus, rate: CallRate): Decoder | string {
  const made = lib.create(rate);
  if ('error' in made) return `libopus refused a ${rate} Hz mono decoder (error ${made.error})`;
  let state: unknown = made.state;
  const buf = new Int16Array(maxFrame(rate));
  const run = (data: Uint8Array | null, frameSize: number): Int16Array => {
    if (!state) return new Int16Array(0);
    const n = lib.decode(state, data, data ? data.length : 0, buf, frameSize);
    return n > 0 ? buf.slice(0, Math.min(n, buf.length)) : new Int16Array(0);
  };
  const samplesOf = (p: Uint8Array): number => {
    if (p.length === 0 || p.length > MAX_PACKET) return 0;
    const n = lib.samples(p, rate);
    // an unreadable header says nothing; more than one packet can hold is cut as decode() cuts it
    return n > 0 ? Math.min(n, buf.length) : 0;
  };
  const plc = (samples: number): Int16Array => {
    // libopus conceals in whole 2.5 ms steps and at most one packet's length per call
    const step = rate / 400;
    const out = new Int16Array(Math.max(0, Math.min(samples, rate * 10)));
    let at = 0;
    while (at < out.length) {
      const want = Math.min(buf.length, Math.ceil((out.length - at) / step) * step);
      const got = run(null, want);
      if (got.length === 0) break;
      out.set(got.subarray(0, out.length - at), at);
      at += got.length;
    }
    return out;
  };
  return {
    codec: 'OPUS', rate, tsPerSample: 48000 / rate, samplesOf, plc,
    decode(p) {
      // an empty payload is a DTX gap marker, not a packet: nothing to put out
      if (p.length === 0 || p.length > MAX_PACKET) return new Int16Array(0);
      const want = samplesOf(p);
      const got = run(p, buf.length);
      // a packet libopus cannot read is concealed for the length its header announces, so the timeline keeps step
      return got.length === 0 && want > 0 ? plc(want) : got;
    },
    close() { if (state) lib.destroy(state); state = undefined; },
  };
}
