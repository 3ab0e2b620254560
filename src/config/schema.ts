import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AlsaConfig, LineAnalog, LineInput } from './analog.ts';
import { MAX_LINES, MAX_TRUNK_CALLS } from './trunk.ts';
import { NotificationsConfig } from '../alerts/config.ts';

export const PURPOSES = ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'] as const;
export const Purpose = Type.Union(PURPOSES.map((p) => Type.Literal(p)), { title: 'Purpose of keeping a recording' });
export type Purpose = Static<typeof Purpose>;

/** One purpose's retention: a number of days, until a date, or until released (with days between reviews). */
const RetentionPolicySchema = (what: string) => Type.Union([
  Type.Object({ kind: Type.Literal('days'), days: Type.Integer({ minimum: 1, maximum: 2557 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('until-date'), date: Type.Optional(Type.Integer({ minimum: 0, maximum: 253402300799999 })) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('until-released'), reviewEvery: Type.Optional(Type.Integer({ minimum: 1, maximum: 2557 })) }, { additionalProperties: false }),
], { title: `Retention for ${what}` });

export const KEEP_MODES = ['all', 'sample', 'on-demand', 'never'] as const;

export const LineConfig = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', title: 'Line id', description: 'Short stable id, lower case, e.g. "line1"' }),
    name: Type.String({ minLength: 1, maxLength: 60, title: 'Name shown in the UI' }),
    source: Type.Union([Type.Literal('sim'), Type.Literal('siprec'), Type.Literal('alsa'), Type.Literal('pcap')], { title: 'Where the audio comes from', default: 'sim' }),
    channels: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 2, title: 'Audio channels', description: '2 when both directions arrive separately' }),
    keep: Type.Union(KEEP_MODES.map((m) => Type.Literal(m)), { default: 'on-demand', title: 'Keep policy' }),
    sampleN: Type.Integer({ minimum: 2, maximum: 1000, default: 10, title: 'Keep 1 in N calls when keep is "sample"' }),
    announced: Type.Array(Purpose, { default: ['complaint', 'training'], uniqueItems: true, title: 'Purposes announced to callers on this line' }),
    keepPurposes: Type.Array(Purpose, { default: ['complaint'], uniqueItems: true, title: 'Purposes a call kept on this line gets unless someone picks others' }),
    input: Type.Optional(LineInput),
    analog: Type.Optional(LineAnalog),
    keepDigits: Type.Boolean({ default: false, title: 'Keep the digits keyed during a call', description: 'false = only how many digits were keyed and when (card numbers and PINs are never stored); true for lines that need them, e.g. order entry. Staff never see them.' }),
    match: Type.Optional(Type.Array(Type.String({ pattern: '^\\+?[0-9*#]{1,20}$' }), { maxItems: 64, uniqueItems: true, title: 'Numbers this line answers for', description: 'SIPREC: a session whose caller or callee is one of these goes to this line (a caller among them makes the call outgoing); empty = any free line' })),
    maxCalls: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TRUNK_CALLS, title: 'Calls this trunk line records at once', description: `siprec and pcap lines only (default 8, at most ${MAX_TRUNK_CALLS}); analog and simulated lines carry one call` })),
  },
  { additionalProperties: false },
);
export type LineConfig = Static<typeof LineConfig>;

export const Config = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data', title: 'Folder for ring, archive, vault and settings' }),
    http: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', title: 'Address the web UI listens on' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, title: 'Port of the web UI' }),
        loginsPerMinute: Type.Integer({ minimum: 1, maximum: 1000, default: 5, title: 'Login attempts allowed per client per minute' }),
        sessionHours: Type.Number({ minimum: 0.1, maximum: 720, default: 12, title: 'Hours a login stays valid without use' }),
        tls: Type.Union(
          [
            Type.Literal(false),
            Type.Object(
              {
                cert: Type.String({ minLength: 1, title: 'PEM certificate file (with any intermediates)' }),
                key: Type.String({ minLength: 1, title: 'PEM private key file' }),
              },
              { additionalProperties: false },
            ),
          ],
          { default: false, title: 'HTTPS: { cert, key } files, or false for plain HTTP', description: 'install.sh makes a self-signed certificate in /etc/ringvault/tls; the demo stays on plain HTTP' },
        ),
        redirectPort: Type.Union([Type.Literal(false), Type.Integer({ minimum: 0, maximum: 65535 })], {
          default: false, title: 'Plain-HTTP port that only redirects to HTTPS, or false for none', description: 'Used only with tls; 0 picks a free port',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    ring: Type.Object(
      {
        minutesPerLine: Type.Number({ minimum: 1, maximum: 240, default: 10, title: 'Minutes of audio the ring holds per line (per call a trunk line carries)', description: 'The shortest useful window: a call longer than this loses its start unless saved' }),
      },
      { additionalProperties: false, default: {} },
    ),
    graceSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 120, title: 'Seconds after hang-up during which save still keeps the call' }),
    exclusions: Type.Array(Type.String({ pattern: '^\\+?[0-9]{3,20}$' }), { default: [], title: 'Numbers whose calls are never buffered or kept (private calls)' }),
    language: Type.Union([Type.Literal('nl'), Type.Literal('en')], { default: 'nl', title: 'Default language' }),
    retention: Type.Object(
      {
        training: RetentionPolicySchema('training'),
        evaluation: RetentionPolicySchema('evaluation'),
        complaint: RetentionPolicySchema('complaint'),
        evidence: RetentionPolicySchema('evidence'),
        'legal-obligation': RetentionPolicySchema('legal obligation'),
      },
      {
        additionalProperties: false,
        title: 'How long a recording is kept per purpose (checked further by retention/policy.ts)',
        default: {
          training: { kind: 'days', days: 90 }, complaint: { kind: 'days', days: 90 }, evaluation: { kind: 'until-date' },
          evidence: { kind: 'until-released', reviewEvery: 92 }, 'legal-obligation': { kind: 'days', days: 1826 },
        },
      },
    ),
    rolePurposes: Type.Object(
      {
        admin: Type.Array(Purpose, { uniqueItems: true, title: 'Purposes administrators may see recordings for' }),
        manager: Type.Array(Purpose, { uniqueItems: true, title: 'Purposes managers may see recordings for' }),
        reviewer: Type.Array(Purpose, { uniqueItems: true, title: 'Purposes reviewers may see recordings for' }),
      },
      {
        additionalProperties: false,
        title: 'Which purposes each role may see (staff see only that their own calls were kept)',
        default: { admin: [...PURPOSES], manager: [...PURPOSES], reviewer: ['training', 'evaluation'] },
      },
    ),
    sim: Type.Object(
      {
        speed: Type.Number({ minimum: 0.1, maximum: 1000, default: 1, title: 'Simulation speed (1 = real time)' }),
        randomCalls: Type.Boolean({ default: false, title: 'Place random calls on simulated lines' }),
        meanGapSec: Type.Number({ minimum: 1, maximum: 86400, default: 60, title: 'Mean seconds between random calls' }),
      },
      { additionalProperties: false, default: {} },
    ),
    siprec: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0', title: 'Address the SIPREC recording server listens on (SIP and RTP)' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 5060, title: 'SIP port, UDP and TCP' }),
        udp: Type.Boolean({ default: true, title: 'Accept SIP over UDP' }),
        tcp: Type.Boolean({ default: true, title: 'Accept SIP over TCP' }),
        mediaAddr: Type.String({ default: '', maxLength: 64, title: 'Address put in SDP answers', description: 'Empty = the listen address, or the first external IPv4 address when listening on all' }),
        rtpPortMin: Type.Integer({ minimum: 1024, maximum: 65534, default: 20000, title: 'Lowest RTP port' }),
        rtpPortMax: Type.Integer({ minimum: 1025, maximum: 65535, default: 20999, title: 'Highest RTP port' }),
        rtpTimeoutSec: Type.Number({ minimum: 0.2, maximum: 3600, default: 30, title: 'Seconds without RTP after which a call whose BYE never came is ended' }),
        answerDelayMs: Type.Integer({ minimum: 0, maximum: 10000, default: 0, title: 'Milliseconds to ring before answering a recording session' }),
        maxSessions: Type.Integer({ minimum: 1, maximum: 1000, default: 64, title: 'Recording sessions at once; more are answered 503' }),
        allowFrom: Type.Array(Type.String({ pattern: '^[0-9a-fA-F:.]+(/[0-9]{1,3})?$', maxLength: 64 }), { default: [], maxItems: 64, title: 'Addresses (or IPv4 a.b.c.d/n ranges) SIP is accepted from', description: 'The SBC; a SIPREC line does not start with it empty unless allowAnyone is true. Checked per UDP message and at TCP/TLS accept' }),
        allowAnyone: Type.Boolean({ default: false, title: 'Accept SIPREC from every host when allowFrom is empty', description: 'Only on purpose: anyone on the network could then place recordings on the box' }),
        timerT1Ms: Type.Integer({ minimum: 20, maximum: 4000, default: 500, title: 'RFC 3261 T1 in ms: a 2xx not ACKed after 64·T1 (Timer H, 32 s) ends the session, nothing recorded' }),
        pausedProbeSec: Type.Number({ minimum: 0.5, maximum: 3600, default: 60, title: 'Seconds a session with every stream paused may go without a sign of life (SIP request, RTP, RTCP) before the box asks with OPTIONS; no answer within 64·T1 ends it' }),
        tcpIdleSec: Type.Number({ minimum: 0.5, maximum: 3600, default: 120, title: 'Seconds a SIP TCP/TLS connection may stay silent when it carries no recording session' }),
        tcpPerAddress: Type.Integer({ minimum: 1, maximum: 1000, default: 32, title: 'SIP TCP/TLS connections from one address at once; more are closed at accept' }),
        tls: Type.Union(
          [
            Type.Literal(false),
            Type.Object(
              {
                port: Type.Integer({ minimum: 0, maximum: 65535, default: 5061, title: 'SIP over TLS port' }),
                cert: Type.Optional(Type.String({ minLength: 1, title: 'PEM certificate; default: http.tls.cert (the box\'s certificate)' })),
                key: Type.Optional(Type.String({ minLength: 1, title: 'PEM private key; default: http.tls.key' })),
                ca: Type.Optional(Type.String({ minLength: 1, title: 'PEM CA certificates for mutual TLS: the SBC must present a certificate they signed' })),
              },
              { additionalProperties: false },
            ),
          ],
          { default: false, title: 'SIP over TLS (sips, port 5061) with the box\'s certificate, or false for none' },
        ),
      },
      { additionalProperties: false, default: {}, title: 'SIPREC recording server (lines with source "siprec")' },
    ),
    alsa: AlsaConfig,
    pcap: Type.Object(
      {
        interface: Type.String({ default: 'eth1', pattern: '^[A-Za-z0-9_.:@-]{1,32}$', title: 'Network interface that receives the mirrored trunk port', description: '"any" listens on all; tcpdump needs only CAP_NET_RAW' }),
        filter: Type.String({ default: 'udp or (tcp and port 5060)', maxLength: 500, title: 'BPF filter for tcpdump', description: 'Must let through the SIP signalling and the RTP of the calls' }),
        rtpTimeoutSec: Type.Number({ minimum: 1, maximum: 3600, default: 30, title: 'Seconds without RTP after which a call whose BYE was not seen has ended' }),
      },
      { additionalProperties: false, default: {}, title: 'Passive capture of a mirrored SIP trunk (lines with source "pcap"; a line\'s match numbers pick its calls)' },
    ),
    board: Type.Object(
      {
        driver: Type.Union([Type.Literal('sim'), Type.Literal('serial'), Type.Literal('gpio'), Type.Literal('none')], { default: 'sim', title: 'Save button and LED board', description: 'sim = the dashboard simulation panel; serial = USB button box; gpio = Pi header; none = no board' }),
        serialPath: Type.String({ default: '', maxLength: 256, title: 'Serial device of the USB button box', description: 'A stable /dev/serial/by-id/… path; empty = find /dev/ringvault-board or a by-id name with "ringvault"' }),
        gpio: Type.Object(
          {
            chip: Type.String({ default: 'gpiochip0', pattern: '^[A-Za-z0-9_/-]{1,64}$', title: 'GPIO chip (gpiodetect)' }),
            buttons: Type.Array(Type.Integer({ minimum: 0, maximum: 511 }), { default: [17, 27], maxItems: 8, title: 'Button line offsets, one per phone line in order' }),
            leds: Type.Array(Type.Integer({ minimum: 0, maximum: 511 }), { default: [22, 23], maxItems: 8, title: 'LED line offsets, one per phone line in order' }),
            sense: Type.Array(Type.Integer({ minimum: 0, maximum: 511 }), { default: [], maxItems: 8, title: 'Opto-coupler line sense offsets, one per phone line (empty = no line sense)' }),
            activeLow: Type.Boolean({ default: true, title: 'Buttons and opto inputs pull the pin low when active' }),
            debounceMs: Type.Integer({ minimum: 1, maximum: 500, default: 30, title: 'Milliseconds an input must be stable to count' }),
          },
          { additionalProperties: false, default: {} },
        ),
        units: Type.Array(
          Type.Object(
            {
              line: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', title: 'Line id this button and LED belong to' }),
              extension: Type.Optional(Type.String({ pattern: '^\\+?[0-9*#]{1,20}$', title: 'Extension (or own number) on a trunk line', description: 'The button keeps, and the LED shows, only the calls of this extension; without it a trunk button keeps every live call on the line' })),
            },
            { additionalProperties: false },
          ),
          { default: [], maxItems: 8, title: 'What button/LED n of the board is for, in order', description: 'Empty = one per configured line, in the order of lines' },
        ),
        buttonMode: Type.Union([Type.Literal('per-line'), Type.Literal('all')], { default: 'per-line', title: 'One button per line, or one button that keeps every live call' }),
        longPressMs: Type.Integer({ minimum: 300, maximum: 10000, default: 1000, title: 'Milliseconds a press must last to mean "private"' }),
        beep: Type.Boolean({ default: false, title: 'Beep on the audio output when a call starts being kept' }),
        beepDevice: Type.String({ default: 'default', minLength: 1, maxLength: 128, title: 'ALSA device for the beep (aplay -D)' }),
      },
      { additionalProperties: false, default: {} },
    ),
    health: Type.Object(
      {
        diskHoursWanted: Type.Number({ minimum: 1, maximum: 1_000_000, default: 24, title: 'Hours of recording the free disk space must hold before the box warns' }),
        checkSeconds: Type.Integer({ minimum: 5, maximum: 3600, default: 30, title: 'Seconds between disk and vault health checks' }),
      },
      { additionalProperties: false, default: {} },
    ),
    notifications: NotificationsConfig,
    lines: Type.Array(LineConfig, {
      minItems: 1,
      maxItems: MAX_LINES,
      title: 'Phone lines',
      default: [
        { id: 'line1', name: 'Line 1', source: 'sim', channels: 2, keep: 'on-demand', sampleN: 10, announced: ['complaint', 'training'], keepPurposes: ['complaint'] },
        { id: 'line2', name: 'Line 2', source: 'sim', channels: 2, keep: 'sample', sampleN: 10, announced: ['training', 'evaluation'], keepPurposes: ['training'] },
      ],
    }),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;

/** A schema without its default: a partial update must not fill in (and so reset) fields it did not send. */
export const noDefault = <T extends TSchema>(s: T): T => {
  const { default: _d, ...rest } = s as T & { default?: unknown };
  return rest as T;
};

/** What the admin may change in the UI; persisted in the settings store over the file config. */
export const LineSettings = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(noDefault(LineConfig.properties.name)),
    keep: Type.Optional(noDefault(LineConfig.properties.keep)),
    sampleN: Type.Optional(noDefault(LineConfig.properties.sampleN)),
    announced: Type.Optional(noDefault(LineConfig.properties.announced)),
    keepPurposes: Type.Optional(noDefault(LineConfig.properties.keepPurposes)),
    keepDigits: Type.Optional(noDefault(LineConfig.properties.keepDigits)),
  },
  { additionalProperties: false },
);
export const SettingsPatch = Type.Object(
  {
    lines: Type.Optional(Type.Array(LineSettings, { maxItems: MAX_LINES })),
    graceSeconds: Type.Optional(noDefault(Config.properties.graceSeconds)),
    exclusions: Type.Optional(noDefault(Config.properties.exclusions)),
    language: Type.Optional(noDefault(Config.properties.language)),
    retention: Type.Optional(noDefault(Config.properties.retention)),
    rolePurposes: Type.Optional(noDefault(Config.properties.rolePurposes)),
  },
  { additionalProperties: false },
);
export type SettingsPatch = Static<typeof SettingsPatch>;
