import { createHmac, randomUUID } from 'node:crypto';
import type { AlertEvent } from './dedupe.ts';
import { alertText, severity, type Params } from './kinds.ts';

/** What one channel delivers at once: the events of one check (a power blip faulting every line is one mail). */
export interface Delivery { id: string; events: AlertEvent[]; createdAt: number }

export const newDelivery = (events: AlertEvent[], at: number): Delivery => ({ id: randomUUID(), events, createdAt: at });

const SAFE = /^[A-Za-z0-9_.-]{0,40}$/;
const safeParams = (p: Params): Params => Object.fromEntries(Object.entries(p).filter(([, v]) => typeof v === 'number' || SAFE.test(v)));

export interface AlertJson {
  key: string; kind: string; state: string; severity: string; line?: string; at: string; title: string; text: string; params: Params; returned?: number;
}

export function alertJson(e: AlertEvent, lang: 'nl' | 'en'): AlertJson {
  const { title, text } = alertText(e.kind, e.state, e.params, lang);
  return {
    key: e.key, kind: e.kind, state: e.state, severity: severity(e.kind, e.state), ...(e.line ? { line: e.line } : {}),
    at: new Date(e.at).toISOString(), title, text, params: safeParams(e.params), ...(e.returned ? { returned: e.returned } : {}),
  };
}

/** The webhook body: `timestamp` (Unix seconds) is inside the signed bytes and repeated in a header. */
export function webhookBody(d: Delivery, box: string, lang: 'nl' | 'en', timestamp: number, dropped: number): string {
  return JSON.stringify({ version: 1, id: d.id, timestamp, box, ...(dropped ? { dropped } : {}), alerts: d.events.map((e) => alertJson(e, lang)) });
}

export const SIGNATURE_HEADER = 'x-ringvault-signature';
export const TIMESTAMP_HEADER = 'x-ringvault-timestamp';
export const DELIVERY_HEADER = 'x-ringvault-delivery';

/** HMAC-SHA256 over the exact body bytes, hex, as `sha256=<hex>`. */
export const signBody = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

export function emailContent(d: Delivery, box: string, lang: 'nl' | 'en', dropped: number): { subject: string; text: string } {
  const alerts = d.events.map((e) => alertJson(e, lang));
  const first = alerts[0]!;
  const subject = alerts.length === 1 ? `[${box}] ${first.title}` : `[${box}] ${alerts.length} ${lang === 'nl' ? 'meldingen' : 'alerts'}: ${first.title}`;
  const lines = alerts.map((a) => `${a.title}\n${a.text}\n(${a.kind}${a.line ? `, ${a.line}` : ''}, ${a.at}${a.returned ? `; ${lang === 'nl' ? 'teruggekomen' : 'came back'} ${a.returned}×` : ''})`);
  if (dropped) lines.push(lang === 'nl' ? `${dropped} eerdere melding(en) zijn vervallen omdat het kanaal te lang onbereikbaar was.` : `${dropped} earlier alert(s) were dropped because this channel was unreachable too long.`);
  lines.push(lang === 'nl' ? `— ringvault ${box}. Deze melding bevat geen persoonsgegevens.` : `— ringvault ${box}. This alert carries no personal data.`);
  return { subject, text: lines.join('\n\n') + '\n' };
}
