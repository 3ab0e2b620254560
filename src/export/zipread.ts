import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { RvError, isRvError } from '../errors.ts';

// A thin typed layer over yauzl for checking bundles: the central directory (zip64 included) is read by
// yauzl with its own checks, and this adds the limits a verifier needs. Errors are RvErrors that say
// what was wrong and what to do:
//  - RV_ERR_ZIP_OPEN     the file cannot be opened at all (missing, no permission);
//  - RV_ERR_ZIP_DAMAGED  it is not a zip, is cut short, or its structure is broken or unsafe;
//  - RV_ERR_ZIP_ENTRY    one entry cannot be unpacked (damaged data, unsupported method, zip-bomb sizes).

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated */
  method: number;
  compressedSize: number;
  /** uncompressed size, as the central directory says; yauzl holds the data to it while reading */
  size: number;
  /** offset of the local file header */
  localOffset: number;
}

/** More entries than any bundle holds (two files per call plus five); a higher count is a forged directory. */
export const MAX_ENTRIES = 200_000;
/** Deflate cannot shrink data by more than about 1032:1; a larger claimed ratio is a zip bomb. */
const MAX_DEFLATE_RATIO = 1032;
/** Smallest central directory record: a count claiming more records than fit in the file is forged. */
const CENTRAL_RECORD_MIN = 46;

const AGAIN = 'copy the file again from where it was stored, or make a new export from the box';

function damaged(path: string, why: string): RvError {
  return new RvError('RV_ERR_ZIP_DAMAGED', `${path} cannot be read as a zip file: ${why}. It may be cut short, altered, or not an export bundle; ${AGAIN}.`);
}

/** Whether `e` is one of this reader's errors (RV_ERR_ZIP_*). */
export const isZipError = (e: unknown): e is RvError => isRvError(e) && e.code.startsWith('RV_ERR_ZIP_');

/** yauzl's message without its final full stop, so it reads inside a sentence. */
const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/\.+$/, '');

export class ZipReader {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly raw: Map<ZipEntry, yauzl.Entry>,
    /** every entry, in central-directory order (duplicates kept, so a caller can spot them) */
    readonly entries: readonly ZipEntry[],
    readonly path: string,
  ) {}

  /** Opens a zip and reads its whole central directory (entry metadata only; no file data). */
  static async open(path: string): Promise<ZipReader> {
    let zip: yauzl.ZipFile;
    try {
      // strictFileNames: backslashes are refused; decodeStrings (default) makes yauzl refuse absolute
      // names and '..' segments; validateEntrySizes holds every entry's data to its declared size.
      zip = await yauzl.openPromise(path, { autoClose: false, lazyEntries: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('E')) throw new RvError('RV_ERR_ZIP_OPEN', `cannot open ${path}: ${reason(e)}. Check the file name and that you may read it.`);
      throw damaged(path, reason(e));
    }
    try {
      if (zip.entryCount > MAX_ENTRIES) throw damaged(path, `it claims ${zip.entryCount} entries, more than any bundle holds (${MAX_ENTRIES})`);
      if (zip.entryCount * CENTRAL_RECORD_MIN > zip.fileSize) throw damaged(path, `it claims ${zip.entryCount} entries, more than fit in ${zip.fileSize} bytes`);
      const raw = new Map<ZipEntry, yauzl.Entry>();
      const entries: ZipEntry[] = [];
      try {
        for await (const y of zip.eachEntry()) {
          const e: ZipEntry = { name: y.fileName, method: y.compressionMethod, compressedSize: y.compressedSize, size: y.uncompressedSize, localOffset: y.relativeOffsetOfLocalHeader };
          raw.set(e, y);
          entries.push(e);
        }
      } catch (e) {
        const msg = reason(e);
        throw damaged(path, /^(invalid relative path|invalid characters in fileName|absolute path): /.test(msg) ? `an entry has an unsafe name (${msg})` : msg);
      }
      return new ZipReader(zip, raw, entries, path);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  private yauzlEntry(e: ZipEntry): yauzl.Entry {
    const y = this.raw.get(e);
    if (!y) throw new Error('ZipReader: entry from another zip');
    return y;
  }

  private entryError(e: ZipEntry, why: string): RvError {
    return new RvError('RV_ERR_ZIP_ENTRY', `${e.name} in ${this.path} cannot be unpacked: ${why}; ${AGAIN}.`);
  }

  /**
   * The entry's uncompressed bytes, streamed in slices (never the whole entry at once). Throws
   * RV_ERR_ZIP_ENTRY before reading when the sizes look like a zip bomb or exceed `maxBytes`, and while
   * reading when the data is damaged or longer/shorter than declared.
   */
  async *data(e: ZipEntry, maxBytes = Number.MAX_SAFE_INTEGER): AsyncGenerator<Buffer> {
    const y = this.yauzlEntry(e);
    if (y.isEncrypted()) throw this.entryError(e, 'it is encrypted');
    if (!y.canDecodeFileData()) throw this.entryError(e, `it uses compression method ${y.compressionMethod}, which this checker does not read`);
    if (e.size > maxBytes) throw this.entryError(e, `it is ${e.size} bytes, more than the ${maxBytes} allowed for it`);
    if (e.method === 8 && e.size > e.compressedSize * MAX_DEFLATE_RATIO + 1024) throw this.entryError(e, `it claims to unpack ${e.compressedSize} bytes into ${e.size}, which deflate cannot do (a zip bomb)`);
    if (e.method === 0 && e.size !== e.compressedSize) throw this.entryError(e, 'its stored and unpacked sizes differ');
    let stream: Readable;
    try {
      stream = await this.zip.openReadStreamPromise(y);
    } catch (err) {
      throw this.entryError(e, reason(err));
    }
    try {
      for await (const b of stream) yield b as Buffer;
    } catch (err) {
      throw this.entryError(e, reason(err));
    } finally {
      stream.destroy();
    }
  }

  /** The file offset where the entry's (possibly compressed) data starts, after its local header. */
  async dataStart(e: ZipEntry): Promise<number> {
    try {
      return (await this.zip.readLocalFileHeaderPromise(this.yauzlEntry(e), { minimal: true })).fileDataStart;
    } catch (err) {
      throw this.entryError(e, reason(err));
    }
  }

  /** Closes the file once every open data stream has ended. */
  close(): void {
    this.zip.close();
  }
}
