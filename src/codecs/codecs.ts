import type { Log } from '../log.ts';
import { Downsampler2, Upsampler2 } from '../audio/resample.ts';
import { g711Decoder } from './g711.ts';
import { g722Decoder, type SpandspG722 } from './g722.ts';
import { g729Decoder, type Bcg729 } from './g729.ts';
import { opusDecoder, type LibOpus } from './opus.ts';
import { loadBcg729, loadLibOpus, loadSpandspG722, type Loaded } from './native.ts';
import { fmtpParams, isDecoder, type CallRate, type Decoder, type RtpMap, type Undecodable } from './types.ts';

export interface CodecLibraries {
  bcg729: Loaded<Bcg729>;
  g722: Loaded<SpandspG722>;
  opus: Loaded<LibOpus>;
}

const missing = (reason: string): Loaded<never> => ({ ok: false, reason });

/** Upper-case codec name as people see it; "telephone-event" stays as the RFC writes it. */
export const codecName = (encoding: string): string => (/^telephone-event$/i.test(encoding) ? 'telephone-event' : encoding.toUpperCase());

/** RTP events (RFC 4733) and comfort noise (RFC 3389) are not audio codecs: the stream handles them itself. */
export const isEventEncoding = (encoding: string): boolean => /^telephone-event$/i.test(encoding);

/**
 * The decoders this box has: G.711 always (pure TypeScript); G.722, G.729 and Opus through Debian's libspandsp2,
 * libbcg729-0 and libopus0 when they load. A codec without a decoder gives an Undecodable with a reason
 * instead, so the call is kept undecoded and marked, never decoded as something else.
 */
export class Codecs {
  private noticed = new Set<string>();

  constructor(readonly libs: CodecLibraries, private readonly log?: Log) {}

  /** Loads the native libraries (synchronously: koffi binds at once) and logs one line for each one missing. */
  static open(log?: Log): Codecs {
    const c = new Codecs({ bcg729: loadBcg729(), g722: loadSpandspG722(), opus: loadLibOpus() }, log);
    for (const [name, l] of Object.entries(c.libs) as [string, Loaded<unknown>][]) {
      if (!l.ok) log?.warn({ codec: name, code: 'RV_ERR_CODEC_LIBRARY' }, `codec library missing: ${l.reason} Calls in this codec are kept undecoded and marked "not decodable" until it is installed.`);
    }
    return c;
  }

  /** G.711 only: for tests and tools that need no native library. */
  static g711Only(): Codecs {
    const why = 'not loaded (G.711 only)';
    return new Codecs({ bcg729: missing(why), g722: missing(why), opus: missing(why) });
  }

  /** Which codecs decode here, for the README check and the status page. */
  available(): Record<'PCMU' | 'PCMA' | 'G722' | 'G729' | 'OPUS', boolean> {
    return { PCMU: true, PCMA: true, G722: this.libs.g722.ok, G729: this.libs.bcg729.ok, OPUS: this.libs.opus.ok };
  }

  /** The rate this payload's audio naturally has, or undefined for events and codecs this box cannot decode. */
  nativeRate(m: RtpMap): CallRate | undefined {
    const name = codecName(m.encoding);
    if (name === 'PCMU' || name === 'PCMA') return 8000;
    if (name === 'G729') return this.libs.bcg729.ok ? 8000 : undefined;
    if (name === 'G722') return this.libs.g722.ok ? 16000 : undefined;
    if (name === 'OPUS') {
      if (!this.libs.opus.ok) return undefined;
      // the receiver's fmtp limits what the sender encodes (RFC 7587 §6.1); 8 kHz means narrowband
      const f = fmtpParams(m.fmtp);
      const max = Number(f.get('maxplaybackrate') ?? f.get('sprop-maxcapturerate') ?? 48000);
      return Number.isFinite(max) && max <= 8000 ? 8000 : 16000;
    }
    return undefined;
  }

  /** A call's rate, fixed at its start: 16 kHz when any codec it may use is wideband, so a later switch loses nothing. */
  callRate(maps: readonly RtpMap[]): CallRate {
    return maps.some((m) => this.nativeRate(m) === 16000) ? 16000 : 8000;
  }

  /** A decoder whose output is at `rate`, resampling when the codec's own rate differs. */
  createDecoder(m: RtpMap, rate: CallRate): Decoder | Undecodable {
    const d = this.nativeDecoder(m, rate);
    if (!isDecoder(d) || d.rate === rate) return d;
    return d.rate < rate ? resampled(d, rate, new Upsampler2()) : resampled(d, rate, new Downsampler2());
  }

  /** Logs an undecodable codec once per box run (a line notice), not once per call or packet. */
  notice(u: Undecodable, line: string): void {
    const key = `${line}\n${u.codec}`;
    if (this.noticed.has(key) || this.noticed.size > 1000) return;
    this.noticed.add(key);
    this.log?.warn({ line, codec: u.codec, code: 'RV_ERR_CODEC_UNDECODABLE' }, `not decodable: ${u.codec}: ${u.reason}`);
  }

  private nativeDecoder(m: RtpMap, rate: CallRate): Decoder | Undecodable {
    const name = codecName(m.encoding);
    const no = (reason: string): Undecodable => ({ undecodable: true, codec: name, reason });
    const clockOk = (want: number): boolean => m.clockRate === want;
    if (name === 'PCMU' || name === 'PCMA') return clockOk(8000) ? g711Decoder(name) : no(`${name} at ${m.clockRate} Hz is not G.711 (which runs at 8000 Hz); the SDP is wrong.`);
    if (name === 'G722') {
      if (!clockOk(8000)) return no(`G722 with an RTP clock of ${m.clockRate} Hz is not the G.722 of RFC 3551 (clock 8000); refused rather than guessed.`);
      return this.libs.g722.ok ? g722Decoder(this.libs.g722.lib) : no(this.libs.g722.reason);
    }
    if (name === 'G729') {
      if (!clockOk(8000)) return no(`G729 at ${m.clockRate} Hz is not G.729 (8000 Hz); the SDP is wrong.`);
      return this.libs.bcg729.ok ? g729Decoder(this.libs.bcg729.lib) : no(this.libs.bcg729.reason);
    }
    if (name === 'OPUS') {
      if (!clockOk(48000)) return no(`opus with an RTP clock of ${m.clockRate} Hz is not RFC 7587 Opus (always 48000); the SDP is wrong.`);
      if (!this.libs.opus.ok) return no(this.libs.opus.reason);
      const d = opusDecoder(this.libs.opus.lib, rate);
      return typeof d === 'string' ? no(d) : d;
    }
    if (isEventEncoding(name)) return no('telephone-event carries key presses, not audio.');
    return no(`this version of ringvault has no decoder for ${name}; the RTP payload is kept sealed so a later version or an export can decode it.`);
  }
}

function resampled(d: Decoder, rate: CallRate, r: Upsampler2 | Downsampler2): Decoder {
  const out: Decoder = {
    codec: d.codec, rate, tsPerSample: (d.tsPerSample * d.rate) / rate,
    decode: (p) => r.process(d.decode(p)),
    close: () => d.close(),
  };
  const samplesOf = d.samplesOf;
  if (samplesOf) out.samplesOf = (p) => r.expected(samplesOf.call(d, p));
  const plc = d.plc;
  if (plc) out.plc = (samples) => r.process(plc.call(d, Math.round((samples * d.rate) / rate)));
  const cn = d.comfortNoise;
  if (cn) out.comfortNoise = (samples) => { const x = cn.call(d, Math.round((samples * d.rate) / rate)); return x && r.process(x); };
  return out;
}
