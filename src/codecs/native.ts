import koffi from 'koffi';
import type { Bcg729 } from './g729.ts';
import type { SpandspG722 } from './g722.ts';
import type { LibOpus } from './opus.ts';

/** A native codec library, or why it could not be used (missing package, wrong architecture). */
export type Loaded<T> = { ok: true; lib: T } | { ok: false; reason: string };

const failed = (pkg: string, soname: string, e: unknown): { ok: false; reason: string } => ({
  ok: false,
  reason: `${soname} could not be loaded (${(e as Error).message.split('\n')[0]}); install the Debian package ${pkg} (install/install.sh does).`,
});

/** bcg729 (G.729/G.729A + Annex B), Debian package libbcg729-0. */
export function loadBcg729(soname = 'libbcg729.so.0'): Loaded<Bcg729> {
  try {
    const lib = koffi.load(soname);
    const init = lib.func('void *initBcg729DecoderChannel()');
    const decode = lib.func('void bcg729Decoder(void *ctx, const uint8_t *bits, uint8_t len, uint8_t erased, uint8_t sid, uint8_t rfc3389, _Out_ int16_t *out)');
    const close = lib.func('void closeBcg729DecoderChannel(void *ctx)');
    return { ok: true, lib: { init: () => init(), decode: (c, b, l, e, s, r, o) => decode(c, b, l, e, s, r, o), close: (c) => close(c) } };
  } catch (e) {
    return failed('libbcg729-0', soname, e);
  }
}

/** spandsp's G.722 decoder, Debian package libspandsp2. */
export function loadSpandspG722(soname = 'libspandsp.so.2'): Loaded<SpandspG722> {
  try {
    const lib = koffi.load(soname);
    const init = lib.func('void *g722_decode_init(void *s, int rate, int options)');
    const decode = lib.func('int g722_decode(void *s, _Out_ int16_t *amp, const uint8_t *data, int len)');
    const free = lib.func('int g722_decode_free(void *s)');
    // 64 kbit/s, no options: the mode every SIP G.722 uses
    return { ok: true, lib: { init: () => init(null, 64000, 0), decode: (s, o, d, n) => decode(s, o, d, n) as number, free: (s) => { free(s); } } };
  } catch (e) {
    return failed('libspandsp2', soname, e);
  }
}

/** libopus, Debian package libopus0. */
export function loadLibOpus(soname = 'libopus.so.0'): Loaded<LibOpus> {
  try {
    const lib = koffi.load(soname);
    const create = lib.func('void *opus_decoder_create(int32_t fs, int channels, _Out_ int *error)');
    const decode = lib.func('int opus_decode(void *st, const uint8_t *data, int32_t len, _Out_ int16_t *pcm, int frame_size, int decode_fec)');
    const destroy = lib.func('void opus_decoder_destroy(void *st)');
    const samples = lib.func('int opus_packet_get_nb_samples(const uint8_t *packet, int32_t len, int32_t fs)');
    return {
      ok: true,
      lib: {
        create(rate) {
          const err = [0];
          const state = create(rate, 1, err);
          return err[0] === 0 && state ? { state } : { error: err[0] ?? -1 };
        },
        decode: (s, d, n, o, f) => decode(s, d, n, o, f, 0) as number,
        destroy: (s) => destroy(s),
        samples: (d, rate) => samples(d, d.length, rate) as number,
      },
    };
  } catch (e) {
    return failed('libopus0', soname, e);
  }
}
