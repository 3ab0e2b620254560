import type { Config, Purpose } from '../config/schema.ts';
import { PURPOSES } from '../config/schema.ts';
import { validateRetention, type RetentionPolicy } from '../retention/policy.ts';

/** The recording policy staff and customers are shown, generated from the running settings (nl and en). */
export type Lang = 'nl' | 'en';
export interface PolicySection { id: string; heading: string; paragraphs: string[]; table?: { head: string[]; rows: string[][] } }
export interface PolicyDoc { lang: Lang; title: string; generatedAt: number; intro: string; sections: PolicySection[] }

const T = {
  en: {
    title: 'Recording policy',
    intro: (d: string) => `How this office records business phone calls, who may listen and how long recordings are kept. Generated from the recorder's settings on ${d}; it changes when the settings change.`,
    purposes: { training: 'training', evaluation: 'evaluation', complaint: 'complaint handling', evidence: 'evidence (contract)', 'legal-obligation': 'legal obligation' } as Record<Purpose, string>,
    lines: 'What is recorded',
    linesP: ['Every call on these lines is held briefly in an encrypted buffer and wiped unless it is kept. A call is kept only as the line\'s rule says, and only for purposes announced on that line.'],
    lineHead: ['Line', 'Which calls are kept', 'Purposes announced', 'Purpose when kept'],
    keep: (k: string, n: number) => ({ all: 'every call', sample: `1 in ${n} calls, drawn at random`, 'on-demand': 'only when a staff member presses save (the whole call)', never: 'none; the line is not recorded' } as Record<string, string>)[k] ?? k,
    privateH: 'Private calls',
    privateP: (n: number) => [`Private calls may not be recorded. ${n === 0 ? 'No numbers are yet' : n === 1 ? 'One number is' : `${n} numbers are`} on the exclusion list; calls with them are never buffered or kept. A long press on the button makes the current call private: it is wiped at once.`],
    staffKept: 'Staff are told afterwards which of their calls were kept and why, sampled calls included (page "My calls").',
    whoH: 'Who may listen',
    whoP: ['A person sees a recording only when it was kept for a purpose their role allows.'],
    whoHead: ['Role', 'May see and play recordings kept for'],
    roles: { admin: 'Administrator', manager: 'Manager', reviewer: 'Reviewer', staff: 'Staff' },
    staffRole: 'only that their own calls were kept, and why; no audio',
    none: 'nothing',
    retH: 'How long recordings are kept',
    retP: ['A recording is deleted (crypto-shredded) when every purpose it was kept for has expired. Nothing is deleted while the clock is not synchronised or while a legal hold applies.'],
    retHead: ['Purpose', 'Kept for'],
    days: (d: number) => (d % 365 === 0 || d === 1826 || d === 2191 || d === 2557 ? `${Math.round(d / 365.25)} years (${d} days)` : `${d} days`),
    untilDate: (p: string, d?: string) => (d ? `until the next ${p === 'evaluation' ? 'evaluation' : 'set'} date (${d})` : `until the next ${p === 'evaluation' ? 'evaluation' : 'set'} date; 92 days when no date is set`),
    untilReleased: (r?: number) => `until the contract ends or the keep is released${r ? `; reviewed every ${r} days` : ''}`,
    holdH: 'Legal hold and your rights',
    holdP: ['A legal hold stops deletion of a recording, or of every recording of a phone number, for a case. Releasing a hold needs two different managers.',
      'Customers and staff may ask to see their recordings, to have them erased (unless a legal obligation or legal hold requires keeping them; the reason is recorded), to add a note, or to restrict their use. Requests are answered within one month.'],
    secH: 'Security',
    secP: (c: Config) => [
      'Every kept recording is encrypted at rest with its own key; its personal details (numbers, notes) are encrypted too. Listening, searching by number and exporting need the vault unlocked with a personal passphrase.',
      `The short buffer holds at most ${c.ring.minutesPerLine} minutes per line, encrypted with a key that exists only while the recorder runs. A call that is not kept is wiped ${c.graceSeconds} seconds after it ends.`,
      'Every login, playback, export, deletion, legal hold, request and settings change is written to an audit log that cannot be edited unnoticed (hash-chained).',
    ],
  },
  nl: {
    title: 'Opnamebeleid',
    intro: (d: string) => `Hoe dit kantoor zakelijke telefoongesprekken opneemt, wie mag luisteren en hoe lang opnames worden bewaard. Opgesteld uit de instellingen van de recorder op ${d}; het verandert mee met de instellingen.`,
    purposes: { training: 'training', evaluation: 'beoordeling', complaint: 'klachtafhandeling', evidence: 'bewijs (overeenkomst)', 'legal-obligation': 'wettelijke plicht' } as Record<Purpose, string>,
    lines: 'Wat wordt opgenomen',
    linesP: ['Elk gesprek op deze lijnen staat kort in een versleutelde buffer en wordt gewist, tenzij het bewaard wordt. Een gesprek wordt alleen bewaard zoals de regel van de lijn zegt, en alleen voor doelen die op die lijn zijn aangekondigd.'],
    lineHead: ['Lijn', 'Welke gesprekken worden bewaard', 'Aangekondigde doelen', 'Doel bij bewaren'],
    keep: (k: string, n: number) => ({ all: 'elk gesprek', sample: `1 op de ${n} gesprekken, willekeurig gekozen`, 'on-demand': 'alleen als een medewerker op bewaren drukt (het hele gesprek)', never: 'geen; de lijn wordt niet opgenomen' } as Record<string, string>)[k] ?? k,
    privateH: 'Privégesprekken',
    privateP: (n: number) => [`Privégesprekken mogen niet worden opgenomen. ${n === 0 ? 'Er staan nog geen nummers' : n === 1 ? 'Eén nummer staat' : `${n} nummers staan`} op de uitzonderingslijst; gesprekken daarmee worden nooit gebufferd of bewaard. Lang drukken op de knop maakt het lopende gesprek privé: het wordt meteen gewist.`],
    staffKept: 'Medewerkers zien achteraf welke van hun gesprekken zijn bewaard en waarom, steekproefgesprekken inbegrepen (pagina "Mijn gesprekken").',
    whoH: 'Wie mag luisteren',
    whoP: ['Iemand ziet een opname alleen als die bewaard is voor een doel dat zijn of haar rol toestaat.'],
    whoHead: ['Rol', 'Mag opnames zien en afspelen die bewaard zijn voor'],
    roles: { admin: 'Beheerder', manager: 'Leidinggevende', reviewer: 'Beoordelaar', staff: 'Medewerker' },
    staffRole: 'alleen dat de eigen gesprekken zijn bewaard, en waarom; geen geluid',
    none: 'niets',
    retH: 'Hoe lang opnames worden bewaard',
    retP: ['Een opname wordt vernietigd (cryptografisch gewist) zodra elk doel waarvoor hij bewaard is, verlopen is. Er wordt niets gewist zolang de klok niet gelijkloopt of een juridische bewaarplicht (legal hold) geldt.'],
    retHead: ['Doel', 'Bewaard'],
    days: (d: number) => (d % 365 === 0 || d === 1826 || d === 2191 || d === 2557 ? `${Math.round(d / 365.25)} jaar (${d} dagen)` : `${d} dagen`),
    untilDate: (p: string, d?: string) => (d ? `tot de volgende ${p === 'evaluation' ? 'beoordelingsdatum' : 'ingestelde datum'} (${d})` : `tot de volgende ${p === 'evaluation' ? 'beoordelingsdatum' : 'ingestelde datum'}; 92 dagen als er geen datum is`),
    untilReleased: (r?: number) => `tot het einde van de overeenkomst of tot vrijgave${r ? `; elke ${r} dagen herbeoordeeld` : ''}`,
    holdH: 'Juridische bewaarplicht en uw rechten',
    holdP: ['Een juridische bewaarplicht (legal hold) houdt een opname, of alle opnames van een telefoonnummer, vast voor een zaak. Opheffen vraagt twee verschillende managers.',
      'Klanten en medewerkers kunnen vragen hun opnames in te zien, te laten wissen (tenzij een wettelijke plicht of bewaarplicht dat verhindert; de reden wordt vastgelegd), een aanvulling toe te voegen of het gebruik te beperken. Verzoeken worden binnen een maand beantwoord.'],
    secH: 'Beveiliging',
    secP: (c: Config) => [
      'Elke bewaarde opname is versleuteld opgeslagen met een eigen sleutel; de persoonsgegevens (nummers, notities) ook. Luisteren, zoeken op nummer en exporteren kan alleen met de kluis ontgrendeld met een persoonlijke wachtzin.',
      `De korte buffer bevat hooguit ${c.ring.minutesPerLine} minuten per lijn, versleuteld met een sleutel die alleen bestaat zolang de recorder draait. Een gesprek dat niet bewaard wordt, is ${c.graceSeconds} seconden na afloop gewist.`,
      'Elke aanmelding, afspeelbeurt, export, verwijdering, bewaarplicht, verzoek en wijziging van instellingen komt in een auditlog dat niet ongemerkt te wijzigen is (hashketen).',
    ],
  },
};

export function policyDocument(cfg: Config, lang: Lang, now: number): PolicyDoc {
  const s = T[lang];
  const date = (t: number) => new Date(t).toISOString().slice(0, 10);
  const pl = (ps: readonly string[]) => ps.map((p) => s.purposes[p as Purpose] ?? p).join(', ') || s.none;
  const retention = validateRetention(cfg.retention);
  const keptFor = (p: Purpose, r: RetentionPolicy): string => {
    if (r.kind === 'days') return s.days(r.days);
    if (r.kind === 'until-date') return s.untilDate(p, r.date === undefined ? undefined : date(r.date));
    return s.untilReleased(r.reviewEvery);
  };
  return {
    lang, title: s.title, generatedAt: now, intro: s.intro(date(now)),
    sections: [
      {
        id: 'lines', heading: s.lines, paragraphs: [...s.linesP, s.staffKept],
        table: { head: s.lineHead, rows: cfg.lines.map((l) => [l.name, s.keep(l.keep, l.sampleN), pl(l.announced), l.keep === 'never' ? s.none : pl(l.keepPurposes)]) },
      },
      { id: 'private', heading: s.privateH, paragraphs: s.privateP(cfg.exclusions.length) },
      {
        id: 'roles', heading: s.whoH, paragraphs: s.whoP,
        table: { head: s.whoHead, rows: [...(['admin', 'manager', 'reviewer'] as const).map((r) => [s.roles[r], pl(cfg.rolePurposes[r])]), [s.roles.staff, s.staffRole]] },
      },
      { id: 'retention', heading: s.retH, paragraphs: s.retP, table: { head: s.retHead, rows: PURPOSES.map((p) => [s.purposes[p], keptFor(p, retention[p])]) } },
      { id: 'rights', heading: s.holdH, paragraphs: s.holdP },
      { id: 'security', heading: s.secH, paragraphs: s.secP(cfg) },
    ],
  };
}
