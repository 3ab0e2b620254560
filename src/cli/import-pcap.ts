import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { userInfo } from 'node:os';
import { Codecs } from '../codecs/codecs.ts';
import { dataPaths } from '../box.ts';
import { sendControl } from '../control.ts';
import type { Config, LineConfig } from '../config/schema.ts';
import { defaultConfig, loadConfigFile } from '../config/load.ts';
import { SettingsStore } from '../config/settings.ts';
import { Vault } from '../vault/vault.ts';
import { Archive, type KeptCallWriter } from '../archive/archive.ts';
import { AuditLog } from '../audit/audit.ts';
import { Chunker } from '../calls/chunker.ts';
import { isExcluded, resolvePurposes } from '../policy/keep.ts';
import { isRvError, RvError } from '../errors.ts';
import { CapturePipeline } from '../pcap/pipeline.ts';
import type { PassiveCall } from '../pcap/passive.ts';
import type { RtpStats } from '../rtp/stream.ts';

export interface ImportOptions {
  file: string;
  config: Config;
  line?: string;
  purposes?: string[];
  dryRun: boolean;
  rtpTimeoutMs?: number;
}

export interface DirectionReport { codec: string | null; packets: number; lost: number; reordered: number; duplicates: number; late: number; jitterMs: number }

export interface ImportedCall {
  callId: string;
  ref: string;
  caller: string | null;
  callerName: string | null;
  called: string | null;
  transport: 'udp' | 'tcp';
  answered: boolean;
  start: string;
  durationMs: number;
  endReason: string;
  status: number | null;
  /** caller's voice (left channel), then callee's (right channel) */
  directions: { caller: DirectionReport | null; callee: DirectionReport | null };
  digits: { caller: string; callee: string; events: Array<{ digit: string; at: string; durationMs: number; by: 'caller' | 'callee' }> };
  /** id of the kept call in the archive; null with --dry-run or when not answered */
  keptAs: string | null;
  /** why an answered call was not kept, when it was not: "excluded" (a number on the exclusion list) */
  notKept?: 'excluded';
  /** the rate the call's audio is kept at: 16000 when its SDP offered a wideband codec */
  rate: number;
  /** every codec decoded, in the order heard (a re-INVITE may switch codec) */
  codecs: string[];
  /** codecs heard that this box cannot decode: "not decodable" */
  undecodable: string[];
  /** what the tracker noticed: early media, two streams in one direction kept apart, a switch between them */
  notes: string[];
  /** ms of early media (after a 183) the kept call holds before the answer */
  earlyMediaMs?: number;
}

export interface ImportReport {
  file: string;
  line: string;
  purposes: string[];
  dryRun: boolean;
  calls: ImportedCall[];
  capture: Record<string, unknown>;
  warnings: string[];
}

const dir = (s: RtpStats | undefined): DirectionReport | null =>
  s ? { codec: s.codec ?? null, packets: s.packets, lost: s.lost, reordered: s.reordered, duplicates: s.duplicates, late: s.late, jitterMs: s.jitterMs } : null;

function reportOf(c: PassiveCall, keptAs: string | null): ImportedCall {
  const start = c.answeredAt ?? c.invitedAt;
  return {
    callId: c.callId, ref: c.ref, caller: c.caller ?? null, callerName: c.callerName ?? null, called: c.called ?? null, transport: c.transport,
    answered: c.answeredAt !== undefined, start: new Date(start).toISOString(),
    durationMs: c.answeredAt !== undefined ? Math.round((c.endedAt ?? start) - c.answeredAt) : 0,
    endReason: c.endReason ?? 'unknown', status: c.status ?? null,
    directions: { caller: dir(c.rtp[0]), callee: dir(c.rtp[1]) },
    digits: {
      caller: c.digits.filter((d) => d.channel === 0).map((d) => d.digit).join(''),
      callee: c.digits.filter((d) => d.channel === 1).map((d) => d.digit).join(''),
      events: c.digits.map((d) => ({ digit: d.digit, at: new Date(d.at).toISOString(), durationMs: d.durationMs, by: d.channel === 0 ? 'caller' : 'callee' })),
    },
    keptAs,
    rate: c.rate,
    codecs: [...new Set([...(c.rtp[0]?.codecs ?? []), ...(c.rtp[1]?.codecs ?? [])])],
    undecodable: [...c.undecodable],
    notes: [...c.notes],
    ...(c.earlyMs ? { earlyMediaMs: c.earlyMs } : {}),
  };
}

function pickLine(cfg: Config, id: string | undefined): LineConfig {
  if (id !== undefined) {
    const l = cfg.lines.find((x) => x.id === id);
    if (!l) throw new RvError('RV_ERR_UNKNOWN_LINE', `There is no line "${id}"; the configured lines are ${cfg.lines.map((x) => x.id).join(', ')}. Pick one with --line.`, 404);
    return l;
  }
  return cfg.lines.find((x) => x.source === 'pcap') ?? cfg.lines[0]!;
}

interface Keeping { writer: Promise<KeptCallWriter>; chain: Promise<unknown>; chunker: Chunker; pending: number }

/**
 * Reads a capture file and keeps every answered call found in it: stereo (caller left), sealed to the
 * box's public key (so the vault may stay locked), kept by 'import' for the purposes chosen.
 */
export async function importPcap(dataDir: string, o: ImportOptions): Promise<ImportReport> {
  const p = dataPaths(dataDir);
  const settings = new SettingsStore(p.settings);
  await settings.load();
  const cfg = settings.effective(o.config);
  const line = pickLine(cfg, o.line);
  if (line.keep === 'never') throw new RvError('RV_ERR_LINE_NEVER_KEEPS', `Line ${line.id} is set to never keep calls; pick another line with --line or change its keep policy.`, 409);
  const purposes = resolvePurposes(line, o.purposes);
  const size = await stat(o.file).then((s) => s.size, (e: NodeJS.ErrnoException) => {
    throw new RvError('RV_ERR_PCAP_FILE', `Cannot read the capture ${o.file} (${e.code}); check the path.`, 404);
  });
  if (size === 0) throw new RvError('RV_ERR_PCAP_FORMAT', `${o.file} is empty; it holds no capture.`, 422);

  let archive: Archive | undefined;
  let audit: AuditLog | undefined;
  if (!o.dryRun) {
    const vault = new Vault(p.vault);
    if (!(await vault.isInitialized())) throw new RvError('RV_ERR_NOT_SET_UP', `The box in ${dataDir} is not set up yet; run "ringvault init" first (or import with --dry-run to only look).`, 409);
    // The running box holds the archive catalog and the audit chain in memory; a second writer would fork them.
    if (await sendControl(p.socket, { cmd: 'status' }).catch(() => undefined)) {
      throw new RvError('RV_ERR_BOX_RUNNING', `ringvault is running with the data in ${dataDir}; stop it first (systemctl stop ringvault), import, and start it again. --dry-run works while it runs.`, 409);
    }
    archive = new Archive({ dir: p.archive, vault });
    await archive.open();
    audit = new AuditLog(p.audit);
    await audit.open();
  }

  const calls: ImportedCall[] = [];
  const keeping = new Map<PassiveCall, Keeping>();
  const warnings: string[] = [];
  const all: Promise<unknown>[] = [];
  const actor = `cli:${userInfo().username.slice(0, 32)}`;
  const metaOf = (c: PassiveCall) => ({
    direction: 'in', caller: c.caller, called: c.called, digits: c.digits.map((d) => d.digit).join('') || undefined,
    callerName: c.callerName, callId: c.callId, importedFrom: basename(o.file), ...(c.undecodable.length ? { undecodable: [...c.undecodable] } : {}),
    ...(c.notes.length ? { notes: [...c.notes] } : {}),
    ...(c.undecodedRtp ? { undecodedRtp: c.undecodedRtp } : {}),
  });
  const codecs = Codecs.open({ debug() {}, info() {}, error() {}, warn: (_o: object | string, msg?: string) => { warnings.push(String(msg ?? _o)); } });

  const pipeline = new CapturePipeline({
    rtpTimeoutMs: o.rtpTimeoutMs ?? cfg.pcap.rtpTimeoutSec * 1000, codecs,
    onStart: (c) => {
      // Private calls (a number on the exclusion list) are never kept, imported or not.
      if (!archive || isExcluded({ caller: c.caller, called: c.called }, cfg.exclusions)) return;
      const writer = archive.beginCall({ line: line.id, startedAt: Math.round(c.mediaFrom ?? c.answeredAt!), channels: 2, sampleRate: c.rate, meta: metaOf(c), purposes, keptBy: 'import', clockSynced: true });
      const k: Keeping = {
        writer, pending: 0,
        chain: writer,
        chunker: new Chunker(2, (chunk) => {
          k.pending++;
          k.chain = k.chain.then(async () => { const w = await writer; await w.append({ at: chunk.at, pcm: chunk.pcm }); }).finally(() => { k.pending--; });
        }, c.rate),
      };
      keeping.set(c, k);
    },
    onAudio: (c, index, pcm) => {
      keeping.get(c)?.chunker.push({ at: (c.mediaFrom ?? c.answeredAt!) + (index * 1000) / c.rate, channels: 2, pcm });
    },
    onEnd: (c) => {
      const k = keeping.get(c);
      if (!k) {
        const entry = reportOf(c, null);
        if (c.answeredAt !== undefined && isExcluded({ caller: c.caller, called: c.called }, cfg.exclusions)) entry.notKept = 'excluded';
        calls.push(entry);
        return;
      }
      keeping.delete(c);
      k.chunker.flush();
      const entry = reportOf(c, null);
      calls.push(entry);
      const done = k.chain.then(async () => {
        const w = await k.writer;
        await w.setMeta(metaOf(c));
        const h = await w.finish(Math.round(c.endedAt!));
        entry.keptAs = h.id;
        await audit!.append({ actor, action: 'call.import', target: h.id, detail: { line: line.id, purposes, file: basename(o.file), durationMs: h.durationMs } });
      });
      all.push(done.catch((e: Error) => { warnings.push(`call ${c.ref} could not be kept: ${isRvError(e) ? e.message : e.message}`); }));
    },
  });

  try {
    for await (const chunk of createReadStream(o.file, { highWaterMark: 256 * 1024 })) {
      try {
        pipeline.push(chunk as Buffer);
      } catch (e) {
        if (isRvError(e) && e.code === 'RV_ERR_PCAP_DAMAGED') { warnings.push(e.message); break; }
        throw e;
      }
      // Disk writes are slower than parsing: wait for them so memory stays bounded.
      if ([...keeping.values()].reduce((n, k) => n + k.pending, 0) > 32) await Promise.all([...keeping.values()].map((k) => k.chain.catch(() => undefined)));
    }
    pipeline.end();
    await Promise.all(all);
  } finally {
    await audit?.close();
  }
  const counts = pipeline.counts();
  if (counts.truncated) warnings.push('The capture ends in the middle of a packet (the capture was cut off); the last, partial packet was skipped.');
  calls.sort((a, b) => a.start.localeCompare(b.start));
  return { file: o.file, line: line.id, purposes, dryRun: o.dryRun, calls, capture: counts, warnings };
}

const fmtDir = (who: string, d: DirectionReport | null): string =>
  d ? `  ${who}: ${d.codec ?? '?'}, ${d.packets} packets, ${d.lost} lost, ${d.reordered} reordered, ${d.duplicates} duplicate, jitter ${d.jitterMs} ms`
    : `  ${who}: no RTP`;

/** The report as a person reads it. */
export function formatReport(r: ImportReport): string {
  const out: string[] = [];
  const answered = r.calls.filter((c) => c.answered);
  out.push(`${r.file}: ${answered.length} call${answered.length === 1 ? '' : 's'} found${r.calls.length > answered.length ? ` (and ${r.calls.length - answered.length} not answered)` : ''}; ${r.dryRun ? 'dry run, nothing kept' : `kept on line ${r.line} for ${r.purposes.join(', ')}`}`);
  for (const c of r.calls) {
    out.push('');
    out.push(`Call-ID ${c.callId}${c.ref !== c.callId ? ` (${c.ref.slice(c.callId.length + 1)}. use)` : ''}`);
    out.push(`  from ${c.caller ?? 'unknown'}${c.callerName ? ` "${c.callerName}"` : ''} to ${c.called ?? 'unknown'} over ${c.transport.toUpperCase()}`);
    if (!c.answered) { out.push(`  not answered (${c.status ?? 'no final response'}, ${c.endReason}); not kept`); continue; }
    out.push(`  start ${c.start}, ${(c.durationMs / 1000).toFixed(2)} s, ended by ${c.endReason}; ${c.codecs.join(' → ') || 'no audio'} at ${c.rate / 1000} kHz`);
    for (const u of c.undecodable) out.push(`  not decodable: ${u} (this version has no decoder for it; that part of the call is silent)`);
    out.push(fmtDir('caller → callee', c.directions.caller));
    out.push(fmtDir('callee → caller', c.directions.callee));
    if (c.digits.events.length) out.push(`  digits: caller ${c.digits.caller || '-'}, callee ${c.digits.callee || '-'}`);
    out.push(c.keptAs ? `  kept as ${c.keptAs}` : c.notKept === 'excluded' ? '  not kept: a number of this call is on the exclusion list (private calls)' : `  ${r.dryRun ? 'not kept (dry run)' : 'NOT kept (see warnings)'}`);
  }
  for (const w of r.warnings) out.push('', `warning: ${w}`);
  return out.join('\n');
}

export const IMPORT_HELP = `usage: ringvault import-pcap FILE [--purpose P]... [--line ID] [--json] [--dry-run] [--data DIR | --config FILE]

Keeps every answered call in a capture file (pcap or pcapng, SIP over UDP or TCP with G.711 RTP)
as a kept call, caller on the left channel, and prints per call what was found. The vault may stay
locked; the box must not be running (stop it first), except with --dry-run.

  --purpose P   why the calls are kept (repeat for more); each must be announced on the line.
                Default: the line's keep purposes
  --line ID     the line the calls belong to (default: the first "pcap" line, else the first line)
  --json        print the report as JSON
  --dry-run     only report; keep nothing`;

/** `ringvault import-pcap …`: returns the exit code. */
export async function importPcapCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      purpose: { type: 'string', multiple: true }, line: { type: 'string' }, json: { type: 'boolean' }, 'dry-run': { type: 'boolean' },
      data: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(IMPORT_HELP); return 0; }
  if (positionals.length !== 1) { console.error(`ringvault import-pcap: give exactly one capture file.\n\n${IMPORT_HELP}`); return 2; }
  const file = values.config ?? process.env.RINGVAULT_CONFIG;
  const config = file ? await loadConfigFile(file) : defaultConfig();
  const dataDir = resolve(values.data ?? process.env.RINGVAULT_DATA ?? config.dataDir);
  const report = await importPcap(dataDir, {
    file: resolve(positionals[0]!), config, dryRun: values['dry-run'] ?? false,
    ...(values.line !== undefined ? { line: values.line } : {}),
    ...(values.purpose ? { purposes: values.purpose } : {}),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.calls.some((c) => c.answered && !c.keptAs && !c.notKept) && !report.dryRun ? 1 : 0;
}
