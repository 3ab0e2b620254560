import { RvError } from '../errors.ts';

/** Sources whose line is a trunk: several calls at once, each its own unit of keep, purpose and hold. */
export const TRUNK_SOURCES: readonly string[] = ['siprec', 'pcap'];
export const DEFAULT_TRUNK_CALLS = 8;
/** Most calls one trunk line carries at once; bench/trunk.ts shows one core carries this many with room to spare. */
export const MAX_TRUNK_CALLS = 64;
/** Most lines a box configures (an analog line is one call, a trunk line up to MAX_TRUNK_CALLS). */
export const MAX_LINES = 64;

export const isTrunk = (l: { source: string }): boolean => TRUNK_SOURCES.includes(l.source);

/** Calls a line carries at once: 1 for an analog or simulated line, maxCalls (default 8) for a trunk. */
export const callsOf = (l: { source: string; maxCalls?: number | undefined }): number => (isTrunk(l) ? l.maxCalls ?? DEFAULT_TRUNK_CALLS : 1);

interface TrunkCheckable {
  lines: readonly { id: string; source: string; maxCalls?: number | undefined }[];
  board: { units: readonly { line: string; extension?: string | undefined }[] };
}

/** Cross-key checks for trunks and the board's button map; names the key, what was found and what to do. */
export function checkTrunks(cfg: TrunkCheckable, source: string): void {
  const fail = (msg: string): never => { throw new RvError('RV_ERR_CONFIG', `${source}: ${msg}`); };
  for (const l of cfg.lines) {
    if (l.maxCalls !== undefined && l.maxCalls > 1 && !isTrunk(l)) {
      fail(`lines.${l.id}.maxCalls: found ${l.maxCalls} on a "${l.source}" line, which carries one call at a time; remove maxCalls (only siprec and pcap lines are trunks).`);
    }
  }
  const seen = new Set<string>();
  cfg.board.units.forEach((u, i) => {
    const line = cfg.lines.find((l) => l.id === u.line);
    if (!line) fail(`board.units.${i}.line: found "${u.line}", which is not a configured line; expected one of ${cfg.lines.map((l) => l.id).join(', ')}.`);
    if (u.extension !== undefined && !isTrunk(line!)) fail(`board.units.${i}.extension: line "${u.line}" is a "${line!.source}" line with one call at a time; an extension picks a call only on a siprec or pcap trunk, so remove it.`);
    const key = unitKey(u);
    if (seen.has(key)) fail(`board.units.${i}: button ${i + 1} repeats line "${u.line}"${u.extension ? ` extension ${u.extension}` : ''}; give every button its own line or extension.`);
    seen.add(key);
  });
}

/** The name a board driver uses for a button/LED: the line id, or "line:extension" for a trunk extension's button. */
export const unitKey = (u: { line: string; extension?: string | undefined }): string => (u.extension ? `${u.line}:${u.extension}` : u.line);
