/**
 * What an alert can be about. Texts carry only what is in `params` (line ids, hours, counts, error
 * codes): never a phone number, name, note or free text from elsewhere, so no personal data leaves
 * the box in an alert.
 */
export const ALERT_KINDS = [
  'line.source-lost', 'board.gone', 'disk.low', 'archive.write-failed', 'clock.unsynced', 'vault.locked',
  'requests.due-soon', 'requests.overdue', 'replication.failing', 'box.not-set-up', 'health.other', 'test',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export type AlertState = 'raised' | 'recovered' | 'reminder' | 'test';
export type Params = Record<string, string | number>;
type Lang = 'nl' | 'en';

const TEXT: Record<AlertKind, Record<Lang, { raised: string; recovered: string }>> = {
  'line.source-lost': {
    en: { raised: 'No audio from line {line}: calls on it are not recorded. Check the cable, the audio interface or the SIP trunk.', recovered: 'Line {line} is heard again; calls on it are recorded.' },
    nl: { raised: 'Geen geluid van lijn {line}: gesprekken op deze lijn worden niet opgenomen. Controleer de kabel, de audio-interface of de SIP-trunk.', recovered: 'Lijn {line} is weer hoorbaar; gesprekken worden weer opgenomen.' },
  },
  'board.gone': {
    en: { raised: 'The save-button box is not connected: presses are not seen. Recording goes on. Check its USB cable.', recovered: 'The save-button box is connected again.' },
    nl: { raised: 'Het knoppenkastje is niet aangesloten: drukken op bewaren wordt niet gezien. Opnemen gaat door. Controleer de USB-kabel.', recovered: 'Het knoppenkastje is weer aangesloten.' },
  },
  'disk.low': {
    en: { raised: 'The disk is nearly full: room for about {hoursLeft} h of recordings, {hoursWanted} h wanted. Export and delete recordings whose purpose has ended, or fit a bigger disk.', recovered: 'The disk has room for {hoursWanted} h of recordings again.' },
    nl: { raised: 'De schijf is bijna vol: ruimte voor ongeveer {hoursLeft} uur opnamen, {hoursWanted} uur gewenst. Exporteer en verwijder opnamen waarvan het doel voorbij is, of plaats een grotere schijf.', recovered: 'De schijf heeft weer ruimte voor {hoursWanted} uur opnamen.' },
  },
  'archive.write-failed': {
    en: { raised: 'Kept calls cannot be written to the archive ({code}). They wait in the ring until they can; free disk space or replace the storage.', recovered: 'The archive can be written again.' },
    nl: { raised: 'Bewaarde gesprekken kunnen niet naar het archief worden geschreven ({code}). Ze wachten in de ringbuffer; maak schijfruimte vrij of vervang de opslag.', recovered: 'Het archief kan weer worden geschreven.' },
  },
  'clock.unsynced': {
    en: { raised: 'The clock is not synchronised: recordings made now are marked and retention deletes nothing. Check the network connection and NTP.', recovered: 'The clock is synchronised again.' },
    nl: { raised: 'De klok is niet gesynchroniseerd: opnamen van nu worden gemarkeerd en er wordt niets verwijderd. Controleer de netwerkverbinding en NTP.', recovered: 'De klok is weer gesynchroniseerd.' },
  },
  'vault.locked': {
    en: { raised: 'The vault is still locked {hours} h after the box started: nobody can listen or export. A manager should unlock it on the web page.', recovered: 'The vault is unlocked.' },
    nl: { raised: 'De kluis is {hours} uur na de start nog vergrendeld: niemand kan luisteren of exporteren. Een manager moet hem ontgrendelen op de webpagina.', recovered: 'De kluis is ontgrendeld.' },
  },
  'requests.due-soon': {
    en: { raised: '{count} data-subject request(s) are due within {days} day(s). Answer them on the Requests page.', recovered: 'No data-subject request is due within {days} day(s) any more.' },
    nl: { raised: '{count} verzoek(en) van betrokkenen verlopen binnen {days} dag(en). Beantwoord ze op de pagina Verzoeken.', recovered: 'Geen verzoek van betrokkenen verloopt meer binnen {days} dag(en).' },
  },
  'requests.overdue': {
    en: { raised: '{count} data-subject request(s) are past their deadline. Answer them on the Requests page at once.', recovered: 'No data-subject request is past its deadline any more.' },
    nl: { raised: '{count} verzoek(en) van betrokkenen zijn over de termijn. Beantwoord ze direct op de pagina Verzoeken.', recovered: 'Geen verzoek van betrokkenen is meer over de termijn.' },
  },
  'replication.failing': {
    en: { raised: 'The archive cannot be replicated ({code}): the copy off the box is falling behind. Check the replica target.', recovered: 'Replication works again.' },
    nl: { raised: 'Het archief kan niet worden gerepliceerd ({code}): de kopie buiten het kastje loopt achter. Controleer het replicatiedoel.', recovered: 'Repliceren werkt weer.' },
  },
  'box.not-set-up': {
    en: { raised: 'The box has never been set up, so no call can be kept. Open the web page and run the setup.', recovered: 'The box is set up.' },
    nl: { raised: 'Het kastje is nooit ingesteld, dus er kan geen gesprek worden bewaard. Open de webpagina en doorloop de installatie.', recovered: 'Het kastje is ingesteld.' },
  },
  'health.other': {
    en: { raised: 'The box reports a problem ({code}); the dashboard says what to do.', recovered: 'The problem {code} is over.' },
    nl: { raised: 'Het kastje meldt een probleem ({code}); het dashboard zegt wat te doen.', recovered: 'Het probleem {code} is voorbij.' },
  },
  test: {
    en: { raised: 'Test alert from the Notifications page: this channel works.', recovered: '' },
    nl: { raised: 'Testmelding vanaf de pagina Meldingen: dit kanaal werkt.', recovered: '' },
  },
};

const TITLE: Record<Lang, Record<AlertState, string>> = {
  en: { raised: 'Problem', recovered: 'Resolved', reminder: 'Still a problem', test: 'Test' },
  nl: { raised: 'Probleem', recovered: 'Opgelost', reminder: 'Nog steeds een probleem', test: 'Test' },
};

/** Only ids, numbers and codes are filled in; anything else in params is dropped. */
const SAFE = /^[A-Za-z0-9_.-]{0,40}$/;
const fill = (s: string, p: Params): string => s.replace(/\{(\w+)\}/g, (m, k: string) => {
  const v = p[k];
  return v === undefined ? m : typeof v === 'number' ? String(Math.round(v * 10) / 10) : SAFE.test(v) ? v : '?';
});

export function alertText(kind: AlertKind, state: AlertState, params: Params, lang: Lang): { title: string; text: string } {
  const t = TEXT[kind][lang];
  const body = fill(state === 'recovered' ? t.recovered : t.raised, params);
  return { title: `${TITLE[lang][state]}: ${body.split(/[.:]/)[0]}`, text: body };
}

/** problem = the box cannot record or keep properly; warning = people must act; info = resolved or test. */
export function severity(kind: AlertKind, state: AlertState): 'problem' | 'warning' | 'info' {
  if (state === 'recovered' || state === 'test') return 'info';
  return kind === 'requests.due-soon' || kind === 'vault.locked' || kind === 'board.gone' ? 'warning' : 'problem';
}
