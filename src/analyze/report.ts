import type { Timeline } from './analyze.ts';
import type { ChannelLevels } from './levels.ts';

/** Human-readable tables of a timeline and of input levels, for `ringvault analyze` and `line-check`. */

const sec = (ms: number | undefined): string => (ms === undefined ? '' : (ms / 1000).toFixed(2));
const pad = (s: string, n: number): string => s.padEnd(n);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => pad(c ?? '', widths[i])).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

const TONE_NAME: Record<string, string> = {
  dial: 'dial tone', ringback: 'ring-back', busy: 'busy tone', congestion: 'congestion tone', alerting: 'alerting tone (caller ID follows)',
};

/** Digits closer than this are shown as one group. */
const DIGIT_GROUP_MS = 1000;

export function formatTimeline(tl: Timeline, title: string): string {
  const out: string[] = [`${title}: ${tl.channels} channel${tl.channels > 1 ? 's' : ''}, ${tl.rate} Hz, ${sec(tl.durationMs)} s`];
  out.push('', 'calls');
  if (tl.calls.length === 0) out.push('  none heard');
  else {
    out.push(table(
      ['#', 'direction', 'start s', 'answer s', 'end s', 'ended by', 'number / dialled'],
      tl.calls.map((c, i) => [
        String(i + 1), c.direction, sec(c.startMs), sec(c.answerMs), sec(c.endMs), c.open ? 'still open' : c.endReason,
        c.number ?? (c.absent ? `(${c.absent})` : '') + (c.dialled ?? ''),
      ]),
    ));
  }
  type Row = { at: number; end?: number; ch: number[]; what: string };
  const rows: Row[] = [];
  for (const r of tl.rings) rows.push({ at: r.startMs, end: r.endMs, ch: r.channels, what: 'ring' });
  for (const t of tl.tones) rows.push({ at: t.startMs, end: t.endMs, ch: t.channels, what: TONE_NAME[t.kind] ?? t.kind });
  for (const v of tl.voice) rows.push({ at: v.startMs, end: v.endMs, ch: v.channels, what: 'voice' });
  for (const c of tl.callerId) {
    const check = c.checksumOk === null ? '' : c.checksumOk ? ', checksum ok' : ', CHECKSUM BAD';
    const who = [c.number ?? (c.absent ? `number ${c.absent}` : ''), c.name ? `"${c.name}"` : c.nameAbsent ? `name ${c.nameAbsent}` : '', c.dateTime ? `sent ${c.dateTime}` : '']
      .filter(Boolean).join(' ');
    rows.push({ at: c.startMs, ch: c.channels, what: `caller ID ${c.format}${c.message ? ` ${c.message}` : ''}${check}: ${who}${c.raw ? ` (${c.raw})` : ''}` });
  }
  let group: Row | null = null;
  for (const d of tl.dtmf) {
    if (group && d.startMs - (group.end ?? group.at) <= DIGIT_GROUP_MS) {
      group.what += d.digit;
      group.end = d.startMs + d.durationMs;
      for (const c of d.channels) if (!group.ch.includes(c)) group.ch.push(c);
    } else {
      group = { at: d.startMs, end: d.startMs + d.durationMs, ch: [...d.channels], what: `DTMF ${d.digit}` };
      rows.push(group);
    }
  }
  rows.sort((a, b) => a.at - b.at);
  out.push('', 'heard');
  out.push(rows.length ? table(['start s', 'end s', 'ch', 'what'], rows.map((r) => [sec(r.at), sec(r.end), r.ch.join(','), r.what])) : '  nothing but line noise');
  return out.join('\n');
}

const dbm0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-inf');

export function formatLevels(levels: ChannelLevels[]): string {
  return ['input levels (dBm0)', table(
    ['ch', 'peak', 'rms', 'active', 'noise floor', 'clipped', 'verdict'],
    levels.map((l) => [String(l.channel), dbm0(l.peakDbm0), dbm0(l.rmsDbm0), dbm0(l.activeDbm0), dbm0(l.noiseFloorDbm0), String(l.clipped), l.verdict]),
  ), ...levels.map((l) => `  ch ${l.channel}: ${l.advice}`)].join('\n');
}
