import { XMLParser } from 'fast-xml-parser';
import { RvError } from '../errors.ts';
import { numberFromUri } from './message.ts';

/** One party of the recorded call, as the recording metadata (RFC 7865) names it. */
export interface SiprecParticipant {
  id: string;
  /** addresses of record (sip:/tel: URIs), in document order */
  aors: string[];
  /** display names */
  names: string[];
  /** stream ids this participant sends / receives */
  send: string[];
  recv: string[];
  /** the SRC says this participant placed the call (Acme/Oracle `callingParty`, Avaya `callerOrig` extension data) */
  calling?: boolean;
}
export interface SiprecStreamRef { id: string; label?: string }
export interface SiprecMetadata {
  participants: SiprecParticipant[];
  streams: SiprecStreamRef[];
  /** the original call's From header, when the SRC copies it (Ribbon/Sonus `callData/fromhdr`) */
  fromHeader?: string;
}

const MAX_XML = 64 * 1024;
const ARRAYS = new Set(['participant', 'stream', 'participantstreamassoc', 'send', 'recv', 'nameID', 'nameid', 'aor', 'name', 'label']);

const parser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false,
  trimValues: true, isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;
const asArray = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string | undefined => {
  if (typeof v === 'string' || typeof v === 'number') return String(v).trim() || undefined;
  if (v && typeof v === 'object' && '#text' in v) return text((v as Node)['#text']);
  return undefined;
};
/** A child by local name, any case (vendors write nameID, nameId, NameID). */
const child = (n: Node, name: string): unknown => {
  const k = Object.keys(n).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : n[k];
};
const attr = (n: Node, ...names: string[]): string | undefined => {
  for (const name of names) {
    const v = child(n, `@_${name}`);
    if (v !== undefined) return text(v);
  }
  return undefined;
};
const nodes = (v: unknown): Node[] => asArray(v).filter((x): x is Node => !!x && typeof x === 'object') as Node[];
const texts = (v: unknown): string[] => asArray(v).map(text).filter((x): x is string => !!x);

/**
 * Reads SIPREC recording metadata, namespace- and prefix-agnostic. Accepts RFC 7865 (participant_id,
 * stream_id, participantstreamassoc, nameID@aor) and the older draft form several SBCs still send
 * (id/session attributes, send/recv and aor inside participant).
 */
export function parseSiprecMetadata(xml: string | Buffer): SiprecMetadata {
  const s = Buffer.isBuffer(xml) ? xml.toString('utf8') : xml;
  if (s.length > MAX_XML) throw new RvError('RV_ERR_SIPREC_METADATA', `The recording metadata is ${s.length} bytes, more than the ${MAX_XML} read; it was ignored.`, 400);
  // Metadata never needs a DTD; refusing one rules out entity expansion attacks.
  if (/<!DOCTYPE|<!ENTITY/i.test(s)) throw new RvError('RV_ERR_SIPREC_METADATA', 'The recording metadata carries a DOCTYPE, which RFC 7865 metadata never has; it was ignored.', 400);
  let doc: Node;
  try { doc = parser.parse(s, true) as Node; } catch (e) {
    throw new RvError('RV_ERR_SIPREC_METADATA', `The recording metadata is not well-formed XML (${(e as Error).message.split('\n')[0]}); it was ignored.`, 400);
  }
  const root = child(doc, 'recording');
  if (!root || typeof root !== 'object') throw new RvError('RV_ERR_SIPREC_METADATA', 'The recording metadata has no <recording> element (RFC 7865); it was ignored.', 400);
  const rec = root as Node;
  const participants: SiprecParticipant[] = [];
  for (const p of nodes(child(rec, 'participant'))) {
    const id = attr(p, 'participant_id', 'id');
    if (!id) continue;
    const aors: string[] = [];
    const names: string[] = [];
    for (const n of nodes(child(p, 'nameID'))) {
      const a = attr(n, 'aor');
      if (a) aors.push(a);
      names.push(...texts(child(n, 'name')));
    }
    // Older drafts: <aor> and <name> straight under participant, sometimes a bare string nameID.
    aors.push(...texts(child(p, 'aor')));
    for (const n of asArray(child(p, 'nameID'))) if (typeof n === 'string' && /^(sips?|tel):/i.test(n)) aors.push(n);
    names.push(...texts(child(p, 'name')));
    const part: SiprecParticipant = { id, aors, names, send: texts(child(p, 'send')), recv: texts(child(p, 'recv')) };
    const calling = findText(child(p, 'extensiondata'), /^(callingparty|callerorig)$/i);
    if (calling !== undefined) part.calling = /^true$/i.test(calling);
    participants.push(part);
  }
  for (const a of nodes(child(rec, 'participantstreamassoc'))) {
    const id = attr(a, 'participant_id', 'id');
    const p = participants.find((x) => x.id === id);
    if (!p) continue;
    p.send.push(...texts(child(a, 'send')));
    p.recv.push(...texts(child(a, 'recv')));
  }
  const streams: SiprecStreamRef[] = [];
  for (const st of nodes(child(rec, 'stream'))) {
    const id = attr(st, 'stream_id', 'id');
    if (!id) continue;
    const label = texts(child(st, 'label'))[0];
    streams.push(label === undefined ? { id } : { id, label });
  }
  const out: SiprecMetadata = { participants, streams };
  const from = findText(rec, /^fromhdr$/i);
  if (from) out.fromHeader = from;
  return out;
}

/** The text of the first element whose local name matches, anywhere below `n` (vendor extension data). */
function findText(n: unknown, name: RegExp, depth = 0): string | undefined {
  if (depth > 8) return undefined;
  for (const x of asArray(n)) {
    if (!x || typeof x !== 'object') continue;
    for (const [k, v] of Object.entries(x as Node)) {
      if (k.startsWith('@_')) continue;
      if (name.test(k)) { const t = texts(v)[0]; if (t !== undefined) return t; }
      const deeper = findText(v, name, depth + 1);
      if (deeper !== undefined) return deeper;
    }
  }
  return undefined;
}

/**
 * Merges metadata sent later (UPDATE, re-INVITE, partial datamode) into what is known:
 * new participants and streams are added, known ones gain what the update adds.
 */
export function mergeSiprecMetadata(known: SiprecMetadata, update: SiprecMetadata): SiprecMetadata {
  const out: SiprecMetadata = structuredClone(known);
  if (update.fromHeader) out.fromHeader = update.fromHeader;
  for (const p of update.participants) {
    const k = out.participants.find((x) => x.id === p.id);
    if (!k) { out.participants.push(structuredClone(p)); continue; }
    if (p.calling !== undefined) k.calling = p.calling;
    for (const f of ['aors', 'names', 'send', 'recv'] as const) for (const v of p[f]) if (!k[f].includes(v)) k[f].push(v);
  }
  for (const s of update.streams) {
    const k = out.streams.find((x) => x.id === s.id);
    if (!k) out.streams.push({ ...s });
    else if (s.label !== undefined) k.label = s.label;
  }
  return out;
}

/** What a participant is known by: a number from its first sip:/tel: URI, else a numeric display name. */
export function participantNumber(p: SiprecParticipant): string | undefined {
  for (const a of p.aors) {
    // Some SBCs (Ribbon) leave out the scheme: "2249888500@172.16.198.55".
    const n = numberFromUri(/^(sips?|tel):/i.test(a) ? a : `sip:${a}`);
    if (n) return n;
  }
  for (const n of p.names) {
    const d = n.replace(/[\s\-.()]/g, '');
    if (/^\+?[0-9]{3,20}$/.test(d)) return d;
  }
  return undefined;
}

/**
 * The participant sending each SDP stream, by the stream's a=label. Returns, per m-line index, the participant
 * (or undefined). Without any association, participants are given to the streams in document order.
 */
export function participantsForStreams(meta: SiprecMetadata, labels: Array<string | undefined>): Array<SiprecParticipant | undefined> {
  const byLabel = (label: string | undefined): SiprecParticipant | undefined => {
    if (label === undefined) return undefined;
    // The label ties the SDP stream to a metadata stream; some SBCs use the label itself as the stream id.
    const ids = new Set(meta.streams.filter((s) => s.label === label).map((s) => s.id));
    ids.add(label);
    return meta.participants.find((p) => p.send.some((id) => ids.has(id)));
  };
  const out = labels.map(byLabel);
  // Streams no association names get the participants no stream took, in document order (what most SRCs mean).
  const free = meta.participants.filter((p) => !out.includes(p));
  return out.map((p) => p ?? free.shift());
}

export interface SiprecRoles {
  caller?: SiprecParticipant;
  callee?: SiprecParticipant;
  /** per SDP m-line: 0 = the caller's channel (left), 1 = the callee's (right) */
  channels: Array<0 | 1>;
}

/**
 * Who placed the call and which stream carries whom. The caller is the participant the SRC marks as
 * calling, else the one matching the copied From header, else the first participant listed (RFC 8068 flows).
 * A stream goes to the channel of the participant sending it; streams no one sends fill the free channel.
 */
export function siprecRoles(meta: SiprecMetadata, labels: Array<string | undefined>): SiprecRoles {
  const ps = meta.participants;
  let caller = ps.find((p) => p.calling === true);
  if (!caller && meta.fromHeader) {
    const fromUser = /<([^>]+)>/.exec(meta.fromHeader)?.[1] ?? meta.fromHeader;
    const n = numberFromUri(/^(sips?|tel):/i.test(fromUser) ? fromUser : `sip:${fromUser}`);
    caller = ps.find((p) => n !== undefined && participantNumber(p) === n);
  }
  caller ??= ps.find((p) => p.calling !== false) ?? ps[0];
  const callee = ps.find((p) => p !== caller && p.calling !== true);
  const senders = participantsForStreams(meta, labels);
  const channels = senders.map((p, i): 0 | 1 => (p === caller ? 0 : p === callee ? 1 : i === 0 ? 0 : 1));
  // Two streams on one channel would mix the parties; keep m-line order instead.
  if (channels.length === 2 && channels[0] === channels[1]) return { caller, callee, channels: [0, 1] };
  const out: SiprecRoles = { channels };
  if (caller) out.caller = caller;
  if (callee) out.callee = callee;
  return out;
}
