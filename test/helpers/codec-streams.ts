/**
 * RTP streams made by real encoders, with an independent reference decode of the same bits:
 * Opus and G.722 by ffmpeg (its tee muxer sends one encoder's packets both as RTP and into a file,
 * which ffmpeg then decodes); G.729 (+ Annex B with VAD) by a tiny C program compiled against Debian's
 * libbcg729-dev, whose own decoder gives the reference.
 */
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { parseRtp, buildRtp, type RtpPacket } from '../../src/rtp/packet.ts';

export interface EncodedStream { packets: RtpPacket[]; ref: Int16Array; refRate: number }

export const SPEECH = path.join(import.meta.dirname, '..', '..', 'assets', 'speech');

const run = (cmd: string, args: string[]): Buffer => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

export function rawS16(file: string, rate: number): Int16Array {
  const b = run('sox', [file, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-c', '1', '-r', String(rate), '-']);
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2).slice();
}

/** ffmpeg encodes `wav` once and sends the packets by RTP to a socket here and into `container`; returns both. */
async function ffmpegRtp(dir: string, wav: string, codecArgs: string[], container: string, pt?: number): Promise<{ packets: RtpPacket[]; file: string }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  sock.setRecvBufferSize(8 << 20);
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  const file = path.join(dir, `ref.${container}`);
  const rtpOpts = pt === undefined ? 'f=rtp' : `f=rtp:payload_type=${pt}`;
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', wav, '-map', '0:a', ...codecArgs, '-f', 'tee',
    `[${rtpOpts}]rtp://127.0.0.1:${sock.address().port}|[f=${container}]${file}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  ff.stderr.on('data', (d) => { err += String(d); });
  const code = await new Promise<number | null>((r) => ff.on('close', r));
  if (code !== 0) throw new Error(`ffmpeg failed: ${err}`);
  await new Promise((r) => setTimeout(r, 200));
  sock.close();
  const packets = got.map((b) => parseRtp(b)).filter((p): p is RtpPacket => p !== null).sort((a, b) => ((a.seq - b.seq) << 16) >> 16);
  return { packets, file };
}

function ffmpegDecode(file: string, inArgs: string[], rate: number): Int16Array {
  const b = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...inArgs, '-i', file, '-f', 's16le', '-ac', '1', '-ar', String(rate), '-']);
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2).slice();
}

/**
 * Opus (libopus via ffmpeg, 20 ms frames) from a speech file; reference: ffmpeg's libopus decode at 48 kHz (Opus's
 * own rate: a decode straight to 8 or 16 kHz is offset from it by a fraction of a sample, so compare at 48 kHz).
 */
export async function opusStream(dir: string, wav: string, pt = 111): Promise<EncodedStream> {
  const { packets, file } = await ffmpegRtp(dir, wav, ['-c:a', 'libopus', '-b:a', '32k', '-application', 'voip', '-frame_duration', '20', '-ac', '1'], 'ogg', pt);
  return { packets, ref: ffmpegDecode(file, ['-c:a', 'libopus'], 48000), refRate: 48000 };
}

/** G.722 (ffmpeg's encoder) from a 16 kHz speech file; reference: ffmpeg's G.722 decoder. */
export async function g722Stream(dir: string, wav16: string): Promise<EncodedStream> {
  const { packets, file } = await ffmpegRtp(dir, wav16, ['-c:a', 'g722', '-ar', '16000', '-ac', '1'], 'g722');
  return { packets, ref: ffmpegDecode(file, ['-f', 'g722'], 16000), refRate: 16000 };
}

const BCG729_TOOL = `
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <bcg729/encoder.h>
#include <bcg729/decoder.h>
/* argv[1]: vad 0|1. stdin: s16le 8 kHz; stdout: per 10 ms frame one length byte (10, 2 or 0) and the bits;
   stderr gets nothing; the reference decode (bcg729's own decoder, erasure for untransmitted frames) goes to argv[2]. */
int main(int argc, char **argv) {
  bcg729EncoderChannelContextStruct *e = initBcg729EncoderChannel(argv[1][0] == '1');
  bcg729DecoderChannelContextStruct *d = initBcg729DecoderChannel();
  FILE *ref = fopen(argv[2], "wb");
  int16_t in[80], out[80]; uint8_t bits[10]; uint8_t len;
  while (fread(in, 2, 80, stdin) == 80) {
    bcg729Encoder(e, in, bits, &len);
    fputc(len, stdout); fwrite(bits, 1, len, stdout);
    if (len == 0) { uint8_t none[10] = {0}; bcg729Decoder(d, none, 0, 0, 1, 0, out); } /* untransmitted: comfort noise goes on; bcg729 reads the buffer even at length 0, so it is zeros, as the box passes */
    else bcg729Decoder(d, bits, len, 0, len == 2, 0, out);
    fwrite(out, 2, 80, ref);
  }
  fclose(ref);
  return 0;
}
`;

/**
 * G.729 from an 8 kHz speech file by bcg729's encoder (with VAD: Annex B SID frames, and silence not sent),
 * packed two 10 ms frames per RTP packet as RFC 3551 §4.5.6 says (a SID frame last in its packet).
 */
export function g729Stream(dir: string, wav8: string, vad: boolean, pt = 18): EncodedStream {
  const src = path.join(dir, 'g729tool.c');
  const bin = path.join(dir, 'g729tool');
  if (!fs.existsSync(bin)) {
    fs.writeFileSync(src, BCG729_TOOL);
    run('gcc', ['-O1', '-o', bin, src, '-lbcg729']);
  }
  const refFile = path.join(dir, `g729ref-${vad ? 1 : 0}.raw`);
  const pcm = run('sox', [wav8, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-c', '1', '-r', '8000', '-']);
  const coded = execFileSync(bin, [vad ? '1' : '0', refFile], { input: pcm, maxBuffer: 64 << 20 });
  const frames: Uint8Array[] = [];
  for (let i = 0; i < coded.length;) { const n = coded[i]!; frames.push(coded.subarray(i + 1, i + 1 + n)); i += 1 + n; }
  const packets: RtpPacket[] = [];
  let seq = 4000;
  const ssrc = 0x729729;
  let cur: Uint8Array[] = [];
  let first = 0;
  const send = (): void => {
    if (cur.length) packets.push(parseRtp(buildRtp({ pt, seq: seq++ & 0xffff, ts: 8000 + first * 80, ssrc, payload: Buffer.concat(cur) }))!);
    cur = [];
  };
  frames.forEach((f, i) => {
    // an untransmitted frame ends a packet; a SID frame is always last in its packet; two speech frames fill one
    if (f.length === 0) { send(); return; }
    if (!cur.length) first = i;
    cur.push(f);
    if (f.length === 2 || cur.length === 2) send();
  });
  send();
  const r = fs.readFileSync(refFile);
  return { packets, ref: new Int16Array(r.buffer, r.byteOffset, r.length / 2).slice(), refRate: 8000 };
}

function resample(x: Int16Array, from: number, to: number): Int16Array {
  const b = execFileSync('sox', ['-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-c', '1', '-r', String(from), '-', '-t', 'raw', '-r', String(to), '-'], { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), maxBuffer: 64 << 20 });
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2).slice();
}

/**
 * Correlation of the kept audio (`got` at `rate`) with the reference after alignment: a coarse lag found at
 * `rate`, refined at the reference's rate when that is higher (so a fraction-of-a-sample offset does not count).
 */
export function alignedCorrelation(s: EncodedStream, got: Int16Array, rate: number, seconds = 6): { corr: number; lag: number } {
  const cut = (x: Int16Array, r: number): Int16Array => x.subarray(0, Math.min(x.length, r * seconds));
  const ref = s.refRate === rate ? s.ref : resample(s.ref, s.refRate, rate);
  const coarse = bestCorrelation(cut(ref, rate), cut(got, rate), rate / 20);
  if (s.refRate === rate) return coarse;
  const k = s.refRate / rate;
  const up = resample(got, rate, s.refRate);
  let best = { corr: -1, lag: 0 };
  for (let lag = Math.round(coarse.lag * k - 2 * k); lag <= Math.round(coarse.lag * k + 2 * k); lag++) {
    const r = bestCorrelation(cut(s.ref, s.refRate), cut(lag >= 0 ? up.subarray(lag) : up, s.refRate), 0);
    if (r.corr > best.corr) best = { corr: r.corr, lag };
  }
  return best;
}

/** Normalised cross-correlation of `a` with `b` shifted by the lag (within ±maxLag) that fits best. */
export function bestCorrelation(a: Int16Array, b: Int16Array, maxLag: number): { corr: number; lag: number } {
  let best = { corr: -1, lag: 0 };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = Math.max(0, -lag); i < a.length && i + lag < b.length; i++) {
      const x = a[i]!, y = b[i + lag]!;
      ab += x * y; aa += x * x; bb += y * y;
    }
    const c = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
    if (c > best.corr) best = { corr: c, lag };
  }
  return best;
}
