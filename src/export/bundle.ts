import { createHash } from 'node:crypto';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { RvError } from '../errors.ts';
import { wavHeader } from '../audio/wav.ts';
import type { CallHeader, CallMeta } from '../archive/format.ts';
import { FORMAT, MANIFEST, SIGNATURE, boxIdOf, ed25519Pem, keyFingerprintOf, type Manifest } from './manifest.ts';
import { metadataCsv, readmeText, type ExportLang, type ExportedCall } from './texts.ts';

/** What a bundle reads calls from: the running Archive, or the read-only view the CLI uses beside a running box. */
export interface ExportSource {
  get(id: string): CallHeader | undefined;
  meta(id: string): Promise<CallMeta>;
  readPcm(id: string): AsyncIterable<{ at: number; pcm: Buffer }>;
}

/** The box's signing key (Vault has this shape). */
export interface ExportSigner {
  sign(message: Uint8Array): Promise<Uint8Array>;
  signPublicKey(): Promise<Uint8Array>;
}

export interface ExportProgress { filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }

export interface BundleOptions {
  source: ExportSource;
  signer: ExportSigner;
  callIds: readonly string[];
  lang: ExportLang;
  /** the data-subject request this answers, written into the manifest and README */
  request?: string;
  createdAt: number;
  onProgress?: (p: ExportProgress) => void;
}

export interface BundleResult { calls: number; files: number; bytes: number; wavBytes: number; boxId: string }

/** A supplementary note (Art. 16 GDPR): a recording cannot be corrected, so a note travels with it. */
export interface SupplementaryNote { at: number; text: string; request?: string }

export function notesOf(meta: CallMeta): SupplementaryNote[] {
  const raw = meta.notes;
  if (!Array.isArray(raw)) return [];
  return raw.filter((n): n is SupplementaryNote => typeof n === 'object' && n !== null && typeof (n as SupplementaryNote).text === 'string' && typeof (n as SupplementaryNote).at === 'number');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
/** Bytes of audio decrypted ahead of the zip writer, so reading the archive overlaps writing the bundle. */
const READ_AHEAD = 256 * 1024;
export const wavName = (id: string): string => `recordings/${id}.wav`;
export const notesName = (id: string): string => `notes/${id}.txt`;
/** the RTP packets of codecs the box could not decode, as sent (JSON: payloads in base64) */
export const rtpName = (id: string): string => `rtp/${id}.json`;
/** WAV bytes of a call: the 44-byte header and 16-bit samples per channel. */
export const wavBytesOf = (h: Pick<CallHeader, 'samples' | 'channels'>): number => 44 + h.samples * 2 * h.channels;

/** Refuses restricted or unknown calls before a single byte is written. */
export function checkExportable(source: ExportSource, ids: readonly string[]): CallHeader[] {
  if (ids.length === 0) throw new RvError('RV_ERR_NOTHING_TO_EXPORT', 'There are no recordings to export for this selection; check the number and the dates.', 404);
  const headers: CallHeader[] = [];
  const restricted: string[] = [];
  for (const id of new Set(ids)) {
    const h = source.get(id);
    if (!h) throw new RvError('RV_ERR_NO_SUCH_CALL', `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    if (h.restricted) restricted.push(id);
    headers.push(h);
  }
  if (restricted.length > 0) {
    throw new RvError('RV_ERR_RESTRICTED', `Export is blocked: ${restricted.length} recording(s) are restricted by a data-subject request (${restricted.slice(0, 5).join(', ')}${restricted.length > 5 ? ', …' : ''}); lift the restriction first.`, 403);
  }
  return headers.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1));
}

function exportedCall(h: CallHeader, meta: CallMeta): ExportedCall {
  const dir = meta.direction === 'in' || meta.direction === 'out' ? meta.direction : undefined;
  return {
    id: h.id, file: wavName(h.id), start: new Date(h.startedAt).toISOString(), end: new Date(h.endedAt).toISOString(),
    durationSeconds: Math.round(h.durationMs / 10) / 100, line: h.line, direction: dir,
    caller: str(meta.caller), called: str(meta.called), extension: str(meta.extension),
    channels: h.channels, channelLayout: h.channels === 2 ? 'left=caller,right=called' : 'mono',
    purposes: [...h.purposes], keptBy: h.keptBy, keptAt: new Date(h.keptAt).toISOString(), clockSynced: h.clockSynced,
    notes: notesOf(meta).map((n) => ({ at: new Date(n.at).toISOString(), text: n.text })),
  };
}

/** PCM from the archive, one chunk at a time, behind a WAV header; checks the sample count the header promised. */
async function* wavStream(source: ExportSource, h: CallHeader): AsyncGenerator<Buffer> {
  const dataBytes = h.samples * 2 * h.channels;
  yield wavHeader({ sampleRate: h.sampleRate, channels: h.channels, dataBytes });
  let n = 0;
  for await (const c of source.readPcm(h.id)) {
    n += c.pcm.length;
    // Each chunk is a fresh buffer from the decryption, so it is handed on without a copy.
    yield c.pcm;
  }
  if (n !== dataBytes) throw new RvError('RV_ERR_ARCHIVE_TAMPERED', `Kept call ${h.id} holds ${n} bytes of audio, its header says ${dataBytes}; check the archive.`, 500);
}

/**
 * Writes the export bundle as a zip into `out`, streaming each recording chunk by chunk:
 * recordings/<id>.wav, notes/<id>.txt, metadata.json, metadata.csv, README.txt, manifest.json, manifest.sig.
 * Entries are stored (not deflated): PCM barely compresses, and a Pi's CPU is better spent decrypting.
 */
export async function writeBundle(out: Writable, o: BundleOptions): Promise<BundleResult> {
  const headers = checkExportable(o.source, o.callIds);
  const publicKey = await o.signer.signPublicKey();
  const boxId = boxIdOf(publicKey);
  const calls: ExportedCall[] = [];
  // RTP of a codec the box could not decode travels as sent, so whoever receives the export can decode it
  const undecoded: { name: string; data: Buffer }[] = [];
  for (const h of headers) {
    const meta = await o.source.meta(h.id);
    calls.push(exportedCall(h, meta));
    if (meta.undecodedRtp) undecoded.push({ name: rtpName(h.id), data: Buffer.from(JSON.stringify({ call: h.id, codecs: meta.undecodable ?? [], ...(meta.undecodedRtp as object) }) + '\n', 'utf8') });
  }

  const mtime = new Date(o.createdAt);
  const entry = { mtime, compress: false } as const;
  const files: Manifest['files'] = [];
  const zip = new yazl.ZipFile();
  const texts: { name: string; data: Buffer }[] = [];
  for (const c of calls) {
    if (c.notes.length > 0) texts.push({ name: notesName(c.id), data: Buffer.from(c.notes.map((n) => `${n.at}\r\n${n.text}\r\n`).join('\r\n'), 'utf8') });
  }
  texts.push(...undecoded);
  texts.push({ name: 'metadata.json', data: Buffer.from(JSON.stringify({ format: FORMAT, boxId, request: o.request, exportedAt: mtime.toISOString(), calls }, null, 2) + '\n', 'utf8') });
  texts.push({ name: 'metadata.csv', data: metadataCsv(calls, o.lang) });
  texts.push({ name: 'README.txt', data: Buffer.from(readmeText({ lang: o.lang, calls: calls.length, boxId, keyFingerprint: keyFingerprintOf(publicKey), request: o.request, createdAt: mtime }), 'utf8') });

  const wavTotal = headers.reduce((s, h) => s + wavBytesOf(h), 0);
  const progress: ExportProgress = { filesDone: 0, filesTotal: headers.length + texts.length + 2, bytesDone: 0, bytesTotal: wavTotal + texts.reduce((s, t) => s + t.data.length, 0) + 8192 };
  const report = () => o.onProgress?.({ ...progress, bytesTotal: Math.max(progress.bytesTotal, progress.bytesDone) });

  const record = (name: string, bytes: number, sha256: string) => {
    files.push({ name, bytes, sha256 });
    progress.filesDone++;
    report();
  };
  for (const h of headers) {
    const name = wavName(h.id);
    async function* hashed(): AsyncGenerator<Buffer> {
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const b of wavStream(o.source, h)) {
        hash.update(b);
        bytes += b.length;
        yield b;
      }
      record(name, bytes, hash.digest('hex'));
    }
    zip.addReadStreamLazy(name, { ...entry, size: wavBytesOf(h) }, (cb) => cb(null, Readable.from(hashed(), { objectMode: false, highWaterMark: READ_AHEAD })));
  }
  for (const t of texts) {
    zip.addReadStreamLazy(t.name, { ...entry, size: t.data.length }, (cb) => {
      record(t.name, t.data.length, createHash('sha256').update(t.data).digest('hex'));
      cb(null, Readable.from([t.data]));
    });
  }
  // yazl pumps entries in order, so by the time it asks for the manifest every file above has been hashed.
  let manifestBytes: Buffer | undefined;
  zip.addReadStreamLazy(MANIFEST, entry, (cb) => {
    const m: Manifest = {
      format: FORMAT, boxId, createdAt: mtime.toISOString(), ...(o.request ? { request: o.request } : {}), calls: calls.length,
      signing: { algorithm: 'Ed25519', publicKey: Buffer.from(publicKey).toString('base64'), publicKeyPem: ed25519Pem(publicKey) },
      files: [...files],
    };
    manifestBytes = Buffer.from(JSON.stringify(m, null, 2) + '\n', 'utf8');
    progress.filesDone++;
    report();
    cb(null, Readable.from([manifestBytes]));
  });
  zip.addReadStreamLazy(SIGNATURE, entry, (cb) => {
    o.signer.sign(manifestBytes!).then((sig) => {
      progress.filesDone++;
      report();
      cb(null, Readable.from([Buffer.from(sig)]));
    }, (e: unknown) => cb(e, Readable.from([])));
  });
  zip.end();

  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      progress.bytesDone += chunk.length;
      if (progress.bytesDone - lastReport >= 256 * 1024) { lastReport = progress.bytesDone; report(); }
      done(null, chunk);
    },
  });
  let lastReport = 0;
  // A failing recording (say, a tampered chunk) ends the whole zip with that error instead of a truncated file.
  zip.on('error', (e: Error) => (zip.outputStream as Readable).destroy(e));
  await pipeline(zip.outputStream as Readable, counter, out);
  report();
  return { calls: calls.length, files: files.length + 2, bytes: progress.bytesDone, wavBytes: wavTotal, boxId };
}
