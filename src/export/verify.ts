import { createHash } from 'node:crypto';
import { FORMAT, MANIFEST, SIGNATURE, boxIdOf, keyFingerprintOf, normalizeFingerprint, verifySignature, type Manifest } from './manifest.ts';
import { ZipReader, isZipError, type ZipEntry } from './zipread.ts';

export interface VerifyProblem { file?: string; kind: 'altered' | 'missing' | 'extra' | 'signature' | 'manifest' | 'zip' | 'other-box' | 'not-pinned-box'; message: string }

/** What the recipient knows of the box from elsewhere (its About page): its id, or its key's full fingerprint. */
export interface BoxPin { boxId?: string; keyFingerprint?: string }

export interface VerifyResult {
  ok: boolean;
  file: string;
  boxId?: string;
  /** SHA-256 of the signing key in the bundle, grouped: compare with the box's About page */
  keyFingerprint?: string;
  /** set when a pin was given: whether the bundle's key is the pinned one */
  pinned?: boolean;
  request?: string;
  calls?: number;
  /** files the manifest lists that were found intact */
  filesOk: number;
  /** set when the check ran with this box's key: whether the bundle was signed by this box */
  signedByThisBox?: boolean;
  problems: VerifyProblem[];
}

const MAX_MANIFEST = 16 << 20;

/** A small entry (manifest, signature) in memory; the limit is checked before anything is read. */
async function readEntry(zip: ZipReader, e: ZipEntry, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of zip.data(e, max)) parts.push(b);
  return Buffer.concat(parts);
}

function parseManifest(bytes: Buffer): Manifest | string {
  let m: unknown;
  try { m = JSON.parse(bytes.toString('utf8')); } catch { return 'manifest.json is not JSON'; }
  const x = m as Manifest;
  if (typeof m !== 'object' || m === null || x.format !== FORMAT) return `manifest.json is not a ${FORMAT} manifest`;
  if (!x.signing || typeof x.signing.publicKey !== 'string' || !Array.isArray(x.files)) return 'manifest.json lacks the signing key or the file list';
  for (const f of x.files) {
    if (typeof f?.name !== 'string' || typeof f.sha256 !== 'string' || typeof f.bytes !== 'number') return 'manifest.json has a malformed file entry';
  }
  return x;
}

/**
 * Checks an export bundle: the zip structure, the manifest signature, and every file's SHA-256.
 * Names each altered, missing or extra file. With `boxPublicKey` it also says whether this box signed it.
 */
export async function verifyExport(path: string, opts: { boxPublicKey?: Uint8Array; pin?: BoxPin } = {}): Promise<VerifyResult> {
  const r: VerifyResult = { ok: false, file: path, filesOk: 0, problems: [] };
  let zip: ZipReader;
  try {
    zip = await ZipReader.open(path);
  } catch (e) {
    if (!isZipError(e)) throw e;
    r.problems.push({ kind: 'zip', message: e.code === 'RV_ERR_ZIP_DAMAGED' ? `the zip is damaged: ${e.message}` : e.message });
    return r;
  }
  try {
    const entries = zip.entries;
    const byName = new Map<string, ZipEntry>();
    for (const e of entries) {
      if (byName.has(e.name)) r.problems.push({ file: e.name, kind: 'extra', message: `${e.name} appears twice in the zip` });
      byName.set(e.name, e);
    }
    const me = byName.get(MANIFEST);
    const se = byName.get(SIGNATURE);
    if (!me) { r.problems.push({ file: MANIFEST, kind: 'missing', message: 'manifest.json is missing, so nothing can be checked' }); return r; }
    if (!se) r.problems.push({ file: SIGNATURE, kind: 'missing', message: 'manifest.sig (the signature) is missing' });
    const manifestBytes = await readEntry(zip, me, MAX_MANIFEST);
    const parsed = parseManifest(manifestBytes);
    if (typeof parsed === 'string') { r.problems.push({ file: MANIFEST, kind: 'manifest', message: parsed }); return r; }
    const m = parsed;
    r.boxId = m.boxId;
    r.request = m.request;
    r.calls = m.calls;
    const key = Buffer.from(m.signing.publicKey, 'base64');
    r.keyFingerprint = keyFingerprintOf(key);
    // The key in the bundle proves nothing by itself: a forger signs with their own. A pin is the trust.
    if (opts.pin && (opts.pin.boxId !== undefined || opts.pin.keyFingerprint !== undefined)) {
      const want = opts.pin.keyFingerprint !== undefined ? normalizeFingerprint(opts.pin.keyFingerprint) : undefined;
      const wantId = opts.pin.boxId !== undefined ? normalizeFingerprint(opts.pin.boxId) : undefined;
      r.pinned = (want === undefined || want === normalizeFingerprint(r.keyFingerprint)) && (wantId === undefined || wantId === boxIdOf(key));
      if (!r.pinned) {
        r.problems.push({ kind: 'not-pinned-box', message: `signed with key ${r.keyFingerprint} (box ${boxIdOf(key)}), not by the box you named (${[wantId && `box id ${wantId}`, want && `key ${want}`].filter(Boolean).join(', ')}): this bundle was not made by that box` });
      }
    }
    if (se) {
      const sig = await readEntry(zip, se, 1024);
      if (!verifySignature(manifestBytes, sig, key)) r.problems.push({ file: MANIFEST, kind: 'signature', message: 'the signature does not match manifest.json: the manifest or its signature was altered' });
    }
    if (boxIdOf(key) !== m.boxId) r.problems.push({ file: MANIFEST, kind: 'manifest', message: `the box id ${m.boxId} does not belong to the key in the manifest` });
    if (opts.boxPublicKey) {
      r.signedByThisBox = Buffer.from(opts.boxPublicKey).equals(key);
      if (!r.signedByThisBox) r.problems.push({ kind: 'other-box', message: `signed by box ${m.boxId}, not by this box (${boxIdOf(opts.boxPublicKey)})` });
    }
    const listed = new Set<string>();
    for (const f of m.files) {
      listed.add(f.name);
      const e = byName.get(f.name);
      if (!e) { r.problems.push({ file: f.name, kind: 'missing', message: `${f.name} is listed in the manifest but not in the zip` }); continue; }
      // The size is in the central directory: a mismatch is an alteration, found without reading the data.
      if (e.size !== f.bytes) { r.problems.push({ file: f.name, kind: 'altered', message: `${f.name} was altered: it is ${e.size} bytes, the signed manifest says ${f.bytes}` }); continue; }
      const hash = createHash('sha256');
      let bytes = 0;
      try {
        for await (const b of zip.data(e, f.bytes)) { hash.update(b); bytes += b.length; }
      } catch (err) {
        if (!isZipError(err)) throw err;
        r.problems.push({ file: f.name, kind: 'altered', message: `${f.name} was altered or damaged: ${err.message}` });
        continue;
      }
      if (bytes !== f.bytes || hash.digest('hex') !== f.sha256) r.problems.push({ file: f.name, kind: 'altered', message: `${f.name} was altered: its content does not match the signed SHA-256` });
      else r.filesOk++;
    }
    for (const name of byName.keys()) {
      if (!listed.has(name) && name !== MANIFEST && name !== SIGNATURE) r.problems.push({ file: name, kind: 'extra', message: `${name} is in the zip but not in the signed manifest (added afterwards)` });
    }
  } catch (e) {
    if (!isZipError(e)) throw e;
    r.problems.push({ kind: 'zip', message: `the zip is damaged: ${e.message}` });
  } finally {
    zip.close();
  }
  r.ok = r.problems.length === 0;
  return r;
}
