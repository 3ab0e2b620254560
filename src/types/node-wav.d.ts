// node-wav 0.0.2 ships no types; only what src/audio/wav.ts uses is declared.
declare module 'node-wav' {
  interface EncodeOptions {
    sampleRate?: number;
    /** 8, 16, 24 or 32; ignored when `float` is set */
    bitDepth?: number;
    float?: boolean;
  }
  interface Decoded {
    sampleRate: number;
    channelData: Float32Array[];
  }
  /** channel data in -1..1 (clamped); returns a complete RIFF/WAVE file with a 44-byte header */
  function encode(channelData: readonly Float32Array[], opts: EncodeOptions): Buffer;
  function decode(buffer: Buffer | ArrayBuffer): Decoded;
  const wav: { encode: typeof encode; decode: typeof decode };
  export default wav;
}
