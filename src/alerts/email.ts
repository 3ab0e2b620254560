import { readFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import type { EmailSettings } from './config.ts';
import { explainEmail } from './explain.ts';

/** Sends one plain-text mail over SMTP (STARTTLS required, TLS, or plain for a local relay); errors become sentences. */
export async function sendMail(s: EmailSettings, subject: string, text: string, timeoutMs = 15_000): Promise<void> {
  const ca = s.caFile ? await readFile(s.caFile) : undefined;
  const transport = nodemailer.createTransport({
    host: s.host, port: s.port,
    secure: s.security === 'tls',
    // STARTTLS is required, not opportunistic: a server that does not offer it gets no password.
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    ...(s.user ? { auth: { user: s.user, pass: s.password } } : {}),
    tls: { minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) },
    connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs,
    disableFileAccess: true, disableUrlAccess: true,
  });
  try {
    await transport.sendMail({ from: s.from, to: s.to, subject, text, headers: { 'auto-submitted': 'auto-generated' } });
  } catch (e) {
    throw explainEmail(e as Error, s.host, s.port);
  } finally {
    transport.close();
  }
}
