import { join } from 'node:path';

/** Calls live in one folder per UTC month of their id, so no folder grows without bound. */
export const MONTH_DIR = /^\d{4}-\d{2}$/;
export const QUARANTINE_DIR = 'quarantine';
export const HEADER_EXT = '.json';
export const OPEN_EXT = '.open.json';
export const AUDIO_EXT = '.audio';

export interface CallPaths { dir: string; header: string; open: string; audio: string }

export function callPaths(root: string, id: string): CallPaths {
  const dir = join(root, `${id.slice(0, 4)}-${id.slice(4, 6)}`);
  return { dir, header: join(dir, id + HEADER_EXT), open: join(dir, id + OPEN_EXT), audio: join(dir, id + AUDIO_EXT) };
}

/** Splits a file name in a month folder into call id and role; undefined for anything else. */
export function classify(name: string): { id: string; kind: 'header' | 'open' | 'audio' } | undefined {
  for (const [ext, kind] of [[OPEN_EXT, 'open'], [HEADER_EXT, 'header'], [AUDIO_EXT, 'audio']] as const) {
    if (name.endsWith(ext)) return { id: name.slice(0, -ext.length), kind };
  }
  return undefined;
}
