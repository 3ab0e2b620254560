import { alawDecode, ulawDecode } from '../audio/g711.ts';
import type { Decoder } from './types.ts';

/** G.711 is stateless: one byte is one 8 kHz sample. */
export function g711Decoder(law: 'PCMA' | 'PCMU'): Decoder {
  const table = law === 'PCMA' ? alawDecode : ulawDecode;
  return { codec: law, rate: 8000, tsPerSample: 1, decode: (p) => table(p), samplesOf: (p) => p.length, close() {} };
}
