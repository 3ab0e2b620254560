import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { RvError } from '../errors.ts';
import { readWav } from '../audio/wav.ts';
import { SAMPLE_RATE } from '../audio/frame.ts';

/** Reads any audio file for analysis: 8 kHz 16-bit mono/stereo WAV as is, anything else through sox. */

const run = promisify(execFile);

export interface LoadedAudio { pcm: Int16Array; rate: number; channels: 1 | 2; converted: boolean }

export async function loadAudioFile(file: string, opts: { sox?: string } = {}): Promise<LoadedAudio> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new RvError('RV_ERR_ANALYZE_FILE', `${file}: no such file; give the path of a WAV recording.`);
  const buf = await readFile(file);
  try {
    const w = readWav(buf);
    if (w.sampleRate === SAMPLE_RATE && (w.channels === 1 || w.channels === 2)) {
      return { pcm: w.pcm, rate: SAMPLE_RATE, channels: w.channels, converted: false };
    }
  } catch {
    // not 16-bit PCM WAV: sox may still read it (other WAV encodings, FLAC, raw with a header…)
  }
  return convert(file, opts.sox ?? 'sox');
}

/** sox to 8 kHz 16-bit: stereo stays stereo (two directions), anything else is mixed down to mono. */
async function convert(file: string, sox: string): Promise<LoadedAudio> {
  let channels: number;
  try {
    const { stdout } = await run(sox, ['--i', '-c', file], { encoding: 'utf8' });
    channels = Number.parseInt(stdout.trim(), 10);
  } catch (e) {
    throw unreadable(file, e);
  }
  const out: 1 | 2 = channels === 2 ? 2 : 1;
  try {
    const { stdout } = await run(
      sox,
      ['-V1', file, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-r', String(SAMPLE_RATE), '-c', String(out), '-'],
      { encoding: 'buffer', maxBuffer: 1 << 30 },
    );
    const pcm = new Int16Array(Math.floor(stdout.length / 2));
    for (let i = 0; i < pcm.length; i++) pcm[i] = stdout.readInt16LE(i * 2);
    return { pcm, rate: SAMPLE_RATE, channels: out, converted: true };
  } catch (e) {
    throw unreadable(file, e);
  }
}

function unreadable(file: string, e: unknown): RvError {
  const err = e as NodeJS.ErrnoException & { stderr?: string | Buffer };
  if (err.code === 'ENOENT') {
    return new RvError('RV_ERR_SOX_MISSING', `${file} is not 8 kHz 16-bit PCM WAV and sox, needed to convert it, is not installed; install sox (apt install sox) or convert the file first.`);
  }
  const why = String(err.stderr ?? err.message ?? '').trim().split('\n').pop()?.replace(/^sox (FAIL|WARN) \w+: /, '') ?? '';
  return new RvError('RV_ERR_ANALYZE_FILE', `${file}: not a readable audio file (${why || 'sox could not read it'}); give a WAV recording (any rate; sox converts it).`);
}
