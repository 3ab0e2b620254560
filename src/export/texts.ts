/** The human-readable parts of an export bundle: metadata.csv for Excel and README.txt, in Dutch or English. */

export type ExportLang = 'nl' | 'en';
export const EXPORT_LANGS: readonly ExportLang[] = ['nl', 'en'];

export interface ExportedCall {
  id: string; file: string; start: string; end: string; durationSeconds: number; line: string;
  direction?: 'in' | 'out'; caller?: string; called?: string; extension?: string;
  channels: 1 | 2; channelLayout: string; purposes: string[]; keptBy: string; keptAt: string; clockSynced: boolean;
  notes: { at: string; text: string }[];
}

const COLUMNS: Record<ExportLang, string[]> = {
  nl: ['id', 'bestand', 'begin (UTC)', 'einde (UTC)', 'duur (s)', 'lijn', 'richting', 'beller', 'gebeld', 'toestel', 'kanalen', 'doelen', 'bewaard door', 'klok gesynchroniseerd', 'aanvullingen'],
  en: ['id', 'file', 'start (UTC)', 'end (UTC)', 'duration (s)', 'line', 'direction', 'caller', 'called', 'extension', 'channels', 'purposes', 'kept by', 'clock synchronised', 'notes'],
};
const YES: Record<ExportLang, [string, string]> = { nl: ['ja', 'nee'], en: ['yes', 'no'] };
const DIRECTION: Record<ExportLang, Record<'in' | 'out', string>> = { nl: { in: 'inkomend', out: 'uitgaand' }, en: { in: 'inbound', out: 'outbound' } };

/** "2026-11-23 14:03:12": Excel reads this as a date and time, unlike ISO's T and Z. */
const excelTime = (iso: string): string => iso.slice(0, 19).replace('T', ' ');

/**
 * One CSV cell, always quoted. A leading =, +, -, @ (a formula to Excel) or a leading 0 of a phone
 * number (which Excel would drop) gets an apostrophe, which Excel hides and which makes the cell text.
 */
export function csvCell(v: string | number): string {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s) || /^0\d/.test(s)) s = `'${s}`;
  return `"${s.replaceAll('"', '""')}"`;
}

/** For Dutch Excel: UTF-8 byte-order mark, `;` between cells, CRLF line ends, a decimal comma in nl. */
export function metadataCsv(calls: readonly ExportedCall[], lang: ExportLang): Buffer {
  const [yes, no] = YES[lang];
  const num = (n: number) => (lang === 'nl' ? String(n).replace('.', ',') : String(n));
  const rows = [COLUMNS[lang].map(csvCell).join(';')];
  for (const c of calls) {
    rows.push([
      c.id, c.file, excelTime(c.start), excelTime(c.end), num(c.durationSeconds), c.line, c.direction ? DIRECTION[lang][c.direction] : '',
      c.caller ?? '', c.called ?? '', c.extension ?? '', c.channels, c.purposes.join(', '), c.keptBy, c.clockSynced ? yes : no,
      c.notes.map((n) => `${excelTime(n.at)}: ${n.text}`).join(' | '),
    ].map((v) => (typeof v === 'number' ? `"${v}"` : csvCell(v))).join(';'));
  }
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows.join('\r\n') + '\r\n', 'utf8')]);
}

export function readmeText(o: { lang: ExportLang; calls: number; boxId: string; keyFingerprint: string; request?: string; createdAt: Date }): string {
  const when = excelTime(o.createdAt.toISOString());
  const nl = `Export van gespreksopnamen
==========================

Gemaakt op ${when} (UTC) door opnamekastje ${o.boxId}${o.request ? `, voor verzoek ${o.request}` : ''}.
Aantal opnamen: ${o.calls}.

Inhoud
------
recordings/   één WAV-bestand per opname (PCM 16-bit, 8000 Hz; 16000 Hz bij breedband-gesprekken).
              Bij stereo is links de beller, rechts de gebelde; mono bevat beide kanten.
notes/        aanvullingen bij een opname (een opname zelf kan niet worden gecorrigeerd).
rtp/          alleen als een deel van een gesprek in een codec was die het kastje niet kon
              decoderen: de RTP-pakketten zoals verzonden (JSON, payload in base64).
metadata.json alle gegevens per opname: tijden, lijn, nummers, doelen, aanvullingen.
metadata.csv  dezelfde gegevens voor Excel (puntkomma's, UTF-8). Een ' vóór een telefoonnummer
              zorgt dat Excel het als tekst laat staan; metadata.json bevat de exacte waarden.
manifest.json SHA-256 van elk bestand, en de publieke sleutel van het kastje.
manifest.sig  de Ed25519-handtekening van het kastje over manifest.json.

Controleren
-----------
Op het kastje:   ringvault verify-export <dit-bestand>.zip
Elders:          ringvault verify-export <dit-bestand>.zip --key "<vingerafdruk>"

Een geldige handtekening bewijst alleen dat niets veranderd is sinds iemand tekende. Dat het
kastje zelf tekende, blijkt pas als de sleutel die van het kastje is. Vraag daarom de beheerder
van het kastje om het kastje-id en de vingerafdruk van de sleutel zoals de pagina "Over" in de
webpagina van het kastje ze toont (telefonisch, of op papier; niet uit dit zip-bestand, want
een vervalser zet er zijn eigen waarden in), en geef die aan verify-export: --box-id <id> of
--key "<vingerafdruk>". Dit zip-bestand noemt:
  kastje-id:                     ${o.boxId}
  vingerafdruk van de sleutel:   ${o.keyFingerprint}

Zelf, met standaardgereedschap:
  1. pak het zip-bestand uit en vergelijk "sha256sum <bestand>" met manifest.json;
  2. zet "publicKeyPem" uit manifest.json in key.pem en voer uit:
     openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile manifest.sig
     ("Signature Verified Successfully" betekent: ongewijzigd sinds het kastje dit maakte);
  3. "sha256sum" van de 32 ruwe sleutelbytes (publicKey in manifest.json, base64) moet de
     vingerafdruk op de pagina "Over" van het kastje zijn.
Een gewijzigd, ontbrekend of extra bestand wordt zo altijd gevonden.
`;
  const en = `Export of call recordings
=========================

Made on ${when} (UTC) by recorder box ${o.boxId}${o.request ? `, for request ${o.request}` : ''}.
Number of recordings: ${o.calls}.

Contents
--------
recordings/   one WAV file per recording (PCM 16-bit, 8000 Hz; 16000 Hz for wideband calls). In
              stereo the left channel is the caller, the right the called party; mono holds both.
notes/        supplementary notes to a recording (a recording itself cannot be corrected).
rtp/          only when part of a call was in a codec the box could not decode: its RTP packets
              as sent (JSON, payloads in base64).
metadata.json everything known per recording: times, line, numbers, purposes, notes.
metadata.csv  the same for Excel (semicolons, UTF-8). A ' before a phone number keeps Excel
              from turning it into a number; metadata.json holds the exact values.
manifest.json the SHA-256 of every file, and the box's public key.
manifest.sig  the box's Ed25519 signature over manifest.json.

How to verify
-------------
On the box:      ringvault verify-export <this-file>.zip
Elsewhere:       ringvault verify-export <this-file>.zip --key "<fingerprint>"

A valid signature only proves that nothing changed since someone signed. That the box itself
signed shows only when the key is the box's own. So ask the box's administrator for the box id
and key fingerprint as the "About" page of the box's web page shows them (by phone or on paper;
not from this zip, where a forger would put their own), and give them to verify-export:
--box-id <id> or --key "<fingerprint>". This zip names:
  box id:            ${o.boxId}
  key fingerprint:   ${o.keyFingerprint}

By hand, with standard tools:
  1. unzip the file and compare "sha256sum <file>" with manifest.json;
  2. put "publicKeyPem" from manifest.json into key.pem and run:
     openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile manifest.sig
     ("Signature Verified Successfully" means: unchanged since the box made it);
  3. "sha256sum" of the 32 raw key bytes (publicKey in manifest.json, base64) must be the
     fingerprint on the box's "About" page.
Any altered, missing or extra file is found this way.
`;
  return (o.lang === 'nl' ? nl : en).replaceAll('\n', '\r\n');
}
