import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { RvError } from '../errors.ts';
import type { SipTlsOptions } from './transport.ts';

/** Reads the SIP-over-TLS certificate, key and optional CA, saying which file is wrong and how to fix it. */
export async function readSipTls(t: { port: number; cert: string; key: string; ca?: string }): Promise<SipTlsOptions> {
  const read = async (path: string, what: string, marker: RegExp, kind: string): Promise<Buffer> => {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (e) {
      throw new RvError('RV_ERR_CONFIG', `siprec.tls.${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code}); check the path (it defaults to http.tls.${what}).`);
    }
    if (!marker.test(data.toString('latin1'))) throw new RvError('RV_ERR_CONFIG', `siprec.tls.${what}: ${path} is not a PEM ${kind}; give the PEM file (it starts with "-----BEGIN").`);
    return data;
  };
  const out: SipTlsOptions = {
    port: t.port,
    cert: await read(t.cert, 'cert', /-----BEGIN CERTIFICATE-----/, 'certificate'),
    key: await read(t.key, 'key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key'),
  };
  if (t.ca) out.ca = await read(t.ca, 'ca', /-----BEGIN CERTIFICATE-----/, 'CA certificate');
  try {
    createSecureContext({ cert: out.cert, key: out.key, ...(out.ca ? { ca: out.ca } : {}) });
  } catch (e) {
    throw new RvError('RV_ERR_CONFIG', `siprec.tls: ${t.cert} and ${t.key} do not make a usable pair (${(e as Error).message}); give the key that belongs to the certificate.`);
  }
  return out;
}
