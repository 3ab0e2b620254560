/** What an SDP a=rtpmap (+ a=fmtp) line says about one payload type. */
export interface RtpMap {
  /** encoding name as written in the SDP (any case): PCMU, PCMA, G722, G729, opus, telephone-event, … */
  encoding: string;
  /** RTP clock rate from the rtpmap (G.722 says 8000 although it carries 16 kHz audio, RFC 3551 §4.5.2) */
  clockRate: number;
  channels?: number;
  /** the a=fmtp parameters of this payload type, as written (e.g. "annexb=no", "maxplaybackrate=16000") */
  fmtp?: string;
}

import type { CallRate } from '../audio/frame.ts';

export type { CallRate };

/**
 * One payload decoder, stateful (one per stream): the next payload continues where the last one ended.
 * Never throws on what the network sends: a payload it cannot read gives silence or concealment of its length.
 */
export interface Decoder {
  /** the codec name, upper case, as shown to people (PCMU, PCMA, G722, G729, OPUS) */
  readonly codec: string;
  /** rate of the samples decode() returns */
  readonly rate: CallRate;
  /** RTP timestamp units per output sample: clockRate / rate (G.722: 0.5, Opus at 16 kHz: 3) */
  readonly tsPerSample: number;
  /** 16-bit PCM, mono, at `rate`; may be empty (a SID frame of zero length, an unreadable payload) */
  decode(payload: Uint8Array): Int16Array;
  /** how many samples decode(payload) will give, read from the payload without decoding it, when the codec can tell */
  samplesOf?(payload: Uint8Array): number;
  /** concealment for `samples` lost samples, when the codec has it; else the caller fills silence */
  plc?(samples: number): Int16Array;
  /**
   * Comfort noise for a gap the sender left on purpose (discontinuous transmission after a SID frame, G.729
   * Annex B), or undefined when the codec is not in such a pause; the gap is then a loss.
   */
  comfortNoise?(samples: number): Int16Array | undefined;
  /** frees native or WASM memory; the decoder is unusable after */
  close(): void;
}

/** A codec this box cannot decode: the call keeps its RTP payload sealed and says why. */
export interface Undecodable {
  readonly undecodable: true;
  readonly codec: string;
  /** a sentence for the call's note and the log */
  readonly reason: string;
}

export const isDecoder = (d: Decoder | Undecodable): d is Decoder => !('undecodable' in d);

/** Parses "a=1;b=2" fmtp text into lower-cased keys. */
export function fmtpParams(fmtp: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (fmtp ?? '').split(/[;\s]+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) m.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return m;
}
