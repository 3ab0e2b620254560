/** What went wrong with one arecord run, in words a technician can act on. */
export interface CaptureFault { code: string; message: string }

/** stderr phrases that mean the device itself is missing or unusable */
const DEVICE_GONE = /no such device|cannot open audio device|audio open error|unknown pcm|cannot get card index|no such file or directory/i;

const CHECK = 'Check the line cable and the USB audio interface, and that `arecord -l` lists the card';

/** Classifies an arecord exit from its code, signal and the last stderr lines. */
export function describeExit(
  device: string,
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): CaptureFault {
  const said = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
  const detail = said ? ` (arecord said: ${said})` : '';
  if (DEVICE_GONE.test(stderr)) {
    return {
      code: 'RV_ERR_ALSA_DEVICE',
      message: `Audio device "${device}" cannot be opened or was unplugged${detail}. ${CHECK} (and that the device name in the config is right). Retrying.`,
    };
  }
  if (signal) {
    return {
      code: 'RV_ERR_ALSA_KILLED',
      message: `The capture process for "${device}" was killed (${signal})${detail}. ${CHECK}; check system memory and other tools holding the device. Restarting it.`,
    };
  }
  return {
    code: 'RV_ERR_ALSA_EXIT',
    message: `The capture process for "${device}" stopped unexpectedly with exit code ${code}${detail}. ${CHECK}. Restarting it.`,
  };
}

/** The spawn itself failed: usually alsa-utils is not installed. */
export function describeSpawnError(bin: string, err: NodeJS.ErrnoException): CaptureFault {
  return {
    code: 'RV_ERR_ALSA_SPAWN',
    message: `Cannot run "${bin}" (${err.code ?? err.message}). Install alsa-utils (apt-get install alsa-utils) or set the arecord path. Retrying.`,
  };
}

/** arecord prints "overrun!!! (at least N ms long)" when the kernel buffer overflowed and audio was lost. */
export const isOverrunLine = (line: string): boolean => /overrun!!!/i.test(line);
