import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const PURPOSES = ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'] as const;
export const Purpose = Type.Union(PURPOSES.map((p) => Type.Literal(p)), { title: 'Purpose of keeping a recording' });
export type Purpose = Static<typeof Purpose>;

export const KEEP_MODES = ['all', 'sample', 'on-demand', 'never'] as const;

export const LineConfig = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', title: 'Line id', description: 'Short stable id, lower case, e.g. "line1"' }),
    name: Type.String({ minLength: 1, maxLength: 60, title: 'Name shown in the UI' }),
    source: Type.Union([Type.Literal('sim')], { title: 'Where the audio comes from', default: 'sim' }),
    channels: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 2, title: 'Audio channels', description: '2 when both directions arrive separately' }),
    keep: Type.Union(KEEP_MODES.map((m) => Type.Literal(m)), { default: 'on-demand', title: 'Keep policy' }),
    sampleN: Type.Integer({ minimum: 2, maximum: 1000, default: 10, title: 'Keep 1 in N calls when keep is "sample"' }),
    announced: Type.Array(Purpose, { default: ['complaint', 'training'], uniqueItems: true, title: 'Purposes announced to callers on this line' }),
    keepPurposes: Type.Array(Purpose, { default: ['complaint'], uniqueItems: true, title: 'Purposes a call kept on this line gets unless someone picks others' }),
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
      },
      { additionalProperties: false, default: {} },
    ),
    ring: Type.Object(
      {
        minutesPerLine: Type.Number({ minimum: 1, maximum: 240, default: 10, title: 'Minutes of audio the ring holds per line', description: 'The shortest useful window: a call longer than this loses its start unless saved' }),
      },
      { additionalProperties: false, default: {} },
    ),
    graceSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 120, title: 'Seconds after hang-up during which save still keeps the call' }),
    exclusions: Type.Array(Type.String({ pattern: '^\\+?[0-9]{3,20}$' }), { default: [], title: 'Numbers whose calls are never buffered or kept (private calls)' }),
    language: Type.Union([Type.Literal('nl'), Type.Literal('en')], { default: 'nl', title: 'Default language' }),
    sim: Type.Object(
      {
        speed: Type.Number({ minimum: 0.1, maximum: 1000, default: 1, title: 'Simulation speed (1 = real time)' }),
        randomCalls: Type.Boolean({ default: false, title: 'Place random calls on simulated lines' }),
        meanGapSec: Type.Number({ minimum: 1, maximum: 86400, default: 60, title: 'Mean seconds between random calls' }),
      },
      { additionalProperties: false, default: {} },
    ),
    lines: Type.Array(LineConfig, {
      minItems: 1,
      maxItems: 32,
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
const noDefault = <T extends TSchema>(s: T): T => {
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
  },
  { additionalProperties: false },
);
export const SettingsPatch = Type.Object(
  {
    lines: Type.Optional(Type.Array(LineSettings, { maxItems: 32 })),
    graceSeconds: Type.Optional(noDefault(Config.properties.graceSeconds)),
    exclusions: Type.Optional(noDefault(Config.properties.exclusions)),
    language: Type.Optional(noDefault(Config.properties.language)),
  },
  { additionalProperties: false },
);
export type SettingsPatch = Static<typeof SettingsPatch>;
