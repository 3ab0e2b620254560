// src/main.ts
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname as dirname2, join as join12, resolve as resolve2 } from "node:path";
import { readFileSync } from "node:fs";
import { readFile as readFile10, stat as stat3 } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import pino from "pino";

// src/config/load.ts
import { readFile } from "node:fs/promises";
import { Value } from "@sinclair/typebox/value";

// src/config/schema.ts
import { Type as Type2 } from "@sinclair/typebox";

// src/config/analog.ts
import { Type } from "@sinclair/typebox";

// src/errors.ts
var RvError = class extends Error {
  constructor(code, message, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
    this.name = "RvError";
  }
  code;
  status;
};
var isRvError = (e) => e instanceof RvError;

// src/config/analog.ts
var CALLER_ID_FORMATS = ["v23-fsk", "dtmf-clip", "bell202-fsk"];
var AlsaDeviceConfig = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,31}$", title: "Device id", description: 'Short id lines refer to, e.g. "tap"' }),
    device: Type.String({ minLength: 1, maxLength: 128, pattern: "^[^\\s]+$", title: "ALSA capture device as arecord -D takes it", description: 'e.g. "plughw:CARD=Device,DEV=0" or a dsnoop name from board/asound.conf' }),
    rate: Type.Integer({ minimum: 8e3, maximum: 192e3, multipleOf: 8e3, default: 8e3, title: "Capture rate in Hz", description: "A multiple of 8000; higher rates are low-passed and decimated to 8000" }),
    channels: Type.Integer({ minimum: 1, maximum: 8, default: 2, title: "Channels the device captures" }),
    backoffFirstMs: Type.Integer({ minimum: 50, maximum: 6e4, default: 500, title: "First wait before restarting a failed capture, ms", description: "Doubles on each failure up to backoffMaxMs" }),
    backoffMaxMs: Type.Integer({ minimum: 50, maximum: 6e5, default: 1e4, title: "Longest wait between restarts of a failed capture, ms" }),
    stallMs: Type.Integer({ minimum: 200, maximum: 6e4, default: 1500, title: "A running capture that delivers no audio this long is restarted and its lines show a fault, ms" }),
    runSeconds: Type.Integer({ minimum: 0, maximum: 86400, default: 0, title: "Stop capturing after this many seconds (0 = run until the box stops)", description: "For tests and line checks; a box on a real line keeps 0" })
  },
  { additionalProperties: false }
);
var AlsaConfig = Type.Object(
  {
    devices: Type.Array(AlsaDeviceConfig, { default: [], maxItems: 8, title: "USB audio interfaces that tap analog lines" })
  },
  { additionalProperties: false, default: {}, title: 'Analog capture (lines with source "alsa")' }
);
var LineInput = Type.Object(
  {
    device: Type.String({ default: "", maxLength: 32, title: "Id of the alsa device this line is wired to" }),
    channels: Type.Array(Type.Integer({ minimum: 0, maximum: 7 }), {
      minItems: 1,
      maxItems: 2,
      uniqueItems: true,
      default: [0],
      title: "Device channel(s) carrying the line, counted from 0",
      description: "One channel: the line with both directions mixed. Two: [far end, our phone] where the tap separates the directions"
    })
  },
  { additionalProperties: false, default: {}, title: 'Where an analog line comes in (source "alsa" only)' }
);
var LineAnalog = Type.Object(
  {
    minCallSeconds: Type.Number({ minimum: 0, maximum: 120, default: 3, title: "Calls shorter than this are not stored, s", description: "Stray off-hooks, a ring nobody answered, a wrong number hung up at once" }),
    hangoverMs: Type.Integer({ minimum: 3e3, maximum: 5e3, default: 4e3, title: "Silence that ends a call when no busy tone or line sense says so, ms" }),
    callerId: Type.Array(Type.Union(CALLER_ID_FORMATS.map((f) => Type.Literal(f))), {
      default: ["v23-fsk", "dtmf-clip"],
      uniqueItems: true,
      maxItems: 3,
      title: "Caller-ID formats the exchange sends",
      description: "v23-fsk = ETSI FSK (NL/EU), dtmf-clip = DTMF CLIP (A\u2026C or \u2026#), bell202-fsk = North American FSK"
    }),
    lineSense: Type.Boolean({ default: false, title: "The control board senses this line (off-hook, on-hook, ring)", description: "When true and the board reports line sense, it decides call start and end; the audio still gives caller ID and digits" })
  },
  { additionalProperties: false, default: {}, title: 'Call detection on an analog line (source "alsa" only)' }
);
function checkAnalog(cfg, source) {
  const fail3 = (msg) => {
    throw new RvError("RV_ERR_CONFIG", `${source}: ${msg}`);
  };
  const devices = /* @__PURE__ */ new Map();
  for (const d of cfg.alsa.devices) {
    if (devices.has(d.id)) fail3(`alsa.devices: the id "${d.id}" is used twice; give every device its own id.`);
    if (d.backoffFirstMs > d.backoffMaxMs) fail3(`alsa.devices.${d.id}.backoffFirstMs: found ${d.backoffFirstMs}, above backoffMaxMs ${d.backoffMaxMs}; expected at most backoffMaxMs.`);
    devices.set(d.id, d);
  }
  const taken = /* @__PURE__ */ new Map();
  for (const l of cfg.lines) {
    if (l.source !== "alsa") continue;
    const input = l.input ?? { device: "", channels: [0] };
    const known = [...devices.keys()].join(", ") || "none; add one under alsa.devices";
    if (!input.device) fail3(`lines.${l.id}.input.device: found nothing; an alsa line must name the device it is wired to (configured: ${known}).`);
    const dev = devices.get(input.device);
    if (!dev) fail3(`lines.${l.id}.input.device: found "${input.device}", which is not under alsa.devices; expected one of: ${known}.`);
    for (const ch of input.channels) {
      if (ch >= dev.channels) fail3(`lines.${l.id}.input.channels: found channel ${ch}, but device "${dev.id}" captures ${dev.channels} channel(s) (0\u2013${dev.channels - 1}); fix the channel or the device's channel count.`);
      const key = `${dev.id}:${ch}`;
      const other = taken.get(key);
      if (other) fail3(`lines.${l.id}.input.channels: channel ${ch} of device "${dev.id}" is already line ${other}; every channel carries at most one line.`);
      taken.set(key, l.id);
    }
    if (input.channels.length !== l.channels) {
      fail3(`lines.${l.id}.channels: found ${l.channels}, but input.channels lists ${input.channels.length}; set channels to ${input.channels.length} (1 = directions mixed on one channel, 2 = one channel per direction).`);
    }
  }
}

// src/config/schema.ts
var PURPOSES = ["training", "evaluation", "complaint", "evidence", "legal-obligation"];
var Purpose = Type2.Union(PURPOSES.map((p) => Type2.Literal(p)), { title: "Purpose of keeping a recording" });
var RetentionPolicySchema = (what) => Type2.Union([
  Type2.Object({ kind: Type2.Literal("days"), days: Type2.Integer({ minimum: 1, maximum: 2557 }) }, { additionalProperties: false }),
  Type2.Object({ kind: Type2.Literal("until-date"), date: Type2.Optional(Type2.Integer({ minimum: 0, maximum: 253402300799999 })) }, { additionalProperties: false }),
  Type2.Object({ kind: Type2.Literal("until-released"), reviewEvery: Type2.Optional(Type2.Integer({ minimum: 1, maximum: 2557 })) }, { additionalProperties: false })
], { title: `Retention for ${what}` });
var KEEP_MODES = ["all", "sample", "on-demand", "never"];
var LineConfig = Type2.Object(
  {
    id: Type2.String({ pattern: "^[a-z0-9][a-z0-9-]{0,31}$", title: "Line id", description: 'Short stable id, lower case, e.g. "line1"' }),
    name: Type2.String({ minLength: 1, maxLength: 60, title: "Name shown in the UI" }),
    source: Type2.Union([Type2.Literal("sim"), Type2.Literal("siprec"), Type2.Literal("alsa"), Type2.Literal("pcap")], { title: "Where the audio comes from", default: "sim" }),
    channels: Type2.Union([Type2.Literal(1), Type2.Literal(2)], { default: 2, title: "Audio channels", description: "2 when both directions arrive separately" }),
    keep: Type2.Union(KEEP_MODES.map((m) => Type2.Literal(m)), { default: "on-demand", title: "Keep policy" }),
    sampleN: Type2.Integer({ minimum: 2, maximum: 1e3, default: 10, title: 'Keep 1 in N calls when keep is "sample"' }),
    announced: Type2.Array(Purpose, { default: ["complaint", "training"], uniqueItems: true, title: "Purposes announced to callers on this line" }),
    keepPurposes: Type2.Array(Purpose, { default: ["complaint"], uniqueItems: true, title: "Purposes a call kept on this line gets unless someone picks others" }),
    input: Type2.Optional(LineInput),
    analog: Type2.Optional(LineAnalog),
    match: Type2.Optional(Type2.Array(Type2.String({ pattern: "^\\+?[0-9*#]{1,20}$" }), { maxItems: 64, uniqueItems: true, title: "Numbers this line answers for", description: "SIPREC: a session whose caller or callee is one of these goes to this line (a caller among them makes the call outgoing); empty = any free line" }))
  },
  { additionalProperties: false }
);
var Config = Type2.Object(
  {
    dataDir: Type2.String({ minLength: 1, default: "./data", title: "Folder for ring, archive, vault and settings" }),
    http: Type2.Object(
      {
        host: Type2.String({ default: "127.0.0.1", title: "Address the web UI listens on" }),
        port: Type2.Integer({ minimum: 0, maximum: 65535, default: 8080, title: "Port of the web UI" }),
        loginsPerMinute: Type2.Integer({ minimum: 1, maximum: 1e3, default: 5, title: "Login attempts allowed per client per minute" }),
        sessionHours: Type2.Number({ minimum: 0.1, maximum: 720, default: 12, title: "Hours a login stays valid without use" }),
        tls: Type2.Union(
          [
            Type2.Literal(false),
            Type2.Object(
              {
                cert: Type2.String({ minLength: 1, title: "PEM certificate file (with any intermediates)" }),
                key: Type2.String({ minLength: 1, title: "PEM private key file" })
              },
              { additionalProperties: false }
            )
          ],
          { default: false, title: "HTTPS: { cert, key } files, or false for plain HTTP", description: "install.sh makes a self-signed certificate in /etc/ringvault/tls; the demo stays on plain HTTP" }
        ),
        redirectPort: Type2.Union([Type2.Literal(false), Type2.Integer({ minimum: 0, maximum: 65535 })], {
          default: false,
          title: "Plain-HTTP port that only redirects to HTTPS, or false for none",
          description: "Used only with tls; 0 picks a free port"
        })
      },
      { additionalProperties: false, default: {} }
    ),
    ring: Type2.Object(
      {
        minutesPerLine: Type2.Number({ minimum: 1, maximum: 240, default: 10, title: "Minutes of audio the ring holds per line", description: "The shortest useful window: a call longer than this loses its start unless saved" })
      },
      { additionalProperties: false, default: {} }
    ),
    graceSeconds: Type2.Integer({ minimum: 0, maximum: 3600, default: 120, title: "Seconds after hang-up during which save still keeps the call" }),
    exclusions: Type2.Array(Type2.String({ pattern: "^\\+?[0-9]{3,20}$" }), { default: [], title: "Numbers whose calls are never buffered or kept (private calls)" }),
    language: Type2.Union([Type2.Literal("nl"), Type2.Literal("en")], { default: "nl", title: "Default language" }),
    retention: Type2.Object(
      {
        training: RetentionPolicySchema("training"),
        evaluation: RetentionPolicySchema("evaluation"),
        complaint: RetentionPolicySchema("complaint"),
        evidence: RetentionPolicySchema("evidence"),
        "legal-obligation": RetentionPolicySchema("legal obligation")
      },
      {
        additionalProperties: false,
        title: "How long a recording is kept per purpose (checked further by retention/policy.ts)",
        default: {
          training: { kind: "days", days: 90 },
          complaint: { kind: "days", days: 90 },
          evaluation: { kind: "until-date" },
          evidence: { kind: "until-released", reviewEvery: 92 },
          "legal-obligation": { kind: "days", days: 1826 }
        }
      }
    ),
    rolePurposes: Type2.Object(
      {
        admin: Type2.Array(Purpose, { uniqueItems: true, title: "Purposes administrators may see recordings for" }),
        manager: Type2.Array(Purpose, { uniqueItems: true, title: "Purposes managers may see recordings for" }),
        reviewer: Type2.Array(Purpose, { uniqueItems: true, title: "Purposes reviewers may see recordings for" })
      },
      {
        additionalProperties: false,
        title: "Which purposes each role may see (staff see only that their own calls were kept)",
        default: { admin: [...PURPOSES], manager: [...PURPOSES], reviewer: ["training", "evaluation"] }
      }
    ),
    sim: Type2.Object(
      {
        speed: Type2.Number({ minimum: 0.1, maximum: 1e3, default: 1, title: "Simulation speed (1 = real time)" }),
        randomCalls: Type2.Boolean({ default: false, title: "Place random calls on simulated lines" }),
        meanGapSec: Type2.Number({ minimum: 1, maximum: 86400, default: 60, title: "Mean seconds between random calls" })
      },
      { additionalProperties: false, default: {} }
    ),
    siprec: Type2.Object(
      {
        host: Type2.String({ default: "0.0.0.0", title: "Address the SIPREC recording server listens on (SIP and RTP)" }),
        port: Type2.Integer({ minimum: 0, maximum: 65535, default: 5060, title: "SIP port, UDP and TCP" }),
        udp: Type2.Boolean({ default: true, title: "Accept SIP over UDP" }),
        tcp: Type2.Boolean({ default: true, title: "Accept SIP over TCP" }),
        mediaAddr: Type2.String({ default: "", maxLength: 64, title: "Address put in SDP answers", description: "Empty = the listen address, or the first external IPv4 address when listening on all" }),
        rtpPortMin: Type2.Integer({ minimum: 1024, maximum: 65534, default: 2e4, title: "Lowest RTP port" }),
        rtpPortMax: Type2.Integer({ minimum: 1025, maximum: 65535, default: 20999, title: "Highest RTP port" }),
        rtpTimeoutSec: Type2.Number({ minimum: 0.2, maximum: 3600, default: 30, title: "Seconds without RTP after which a call whose BYE never came is ended" }),
        answerDelayMs: Type2.Integer({ minimum: 0, maximum: 1e4, default: 0, title: "Milliseconds to ring before answering a recording session" }),
        maxSessions: Type2.Integer({ minimum: 1, maximum: 1e3, default: 64, title: "Recording sessions at once; more are answered 503" }),
        allowFrom: Type2.Array(Type2.String({ pattern: "^[0-9a-fA-F:.]+(/[0-9]{1,3})?$", maxLength: 64 }), { default: [], maxItems: 64, title: "Addresses (or IPv4 a.b.c.d/n ranges) SIP is accepted from", description: "Empty = any; set it to the SBC so nobody else can place recordings on the box" })
      },
      { additionalProperties: false, default: {}, title: 'SIPREC recording server (lines with source "siprec")' }
    ),
    alsa: AlsaConfig,
    pcap: Type2.Object(
      {
        interface: Type2.String({ default: "eth1", pattern: "^[A-Za-z0-9_.:@-]{1,32}$", title: "Network interface that receives the mirrored trunk port", description: '"any" listens on all; tcpdump needs only CAP_NET_RAW' }),
        filter: Type2.String({ default: "udp or (tcp and port 5060)", maxLength: 500, title: "BPF filter for tcpdump", description: "Must let through the SIP signalling and the RTP of the calls" }),
        rtpTimeoutSec: Type2.Number({ minimum: 1, maximum: 3600, default: 30, title: "Seconds without RTP after which a call whose BYE was not seen has ended" })
      },
      { additionalProperties: false, default: {}, title: `Passive capture of a mirrored SIP trunk (lines with source "pcap"; a line's match numbers pick its calls)` }
    ),
    board: Type2.Object(
      {
        driver: Type2.Union([Type2.Literal("sim"), Type2.Literal("serial"), Type2.Literal("gpio"), Type2.Literal("none")], { default: "sim", title: "Save button and LED board", description: "sim = the dashboard simulation panel; serial = USB button box; gpio = Pi header; none = no board" }),
        serialPath: Type2.String({ default: "", maxLength: 256, title: "Serial device of the USB button box", description: 'A stable /dev/serial/by-id/\u2026 path; empty = find /dev/ringvault-board or a by-id name with "ringvault"' }),
        gpio: Type2.Object(
          {
            chip: Type2.String({ default: "gpiochip0", pattern: "^[A-Za-z0-9_/-]{1,64}$", title: "GPIO chip (gpiodetect)" }),
            buttons: Type2.Array(Type2.Integer({ minimum: 0, maximum: 511 }), { default: [17, 27], maxItems: 8, title: "Button line offsets, one per phone line in order" }),
            leds: Type2.Array(Type2.Integer({ minimum: 0, maximum: 511 }), { default: [22, 23], maxItems: 8, title: "LED line offsets, one per phone line in order" }),
            sense: Type2.Array(Type2.Integer({ minimum: 0, maximum: 511 }), { default: [], maxItems: 8, title: "Opto-coupler line sense offsets, one per phone line (empty = no line sense)" }),
            activeLow: Type2.Boolean({ default: true, title: "Buttons and opto inputs pull the pin low when active" }),
            debounceMs: Type2.Integer({ minimum: 1, maximum: 500, default: 30, title: "Milliseconds an input must be stable to count" })
          },
          { additionalProperties: false, default: {} }
        ),
        buttonMode: Type2.Union([Type2.Literal("per-line"), Type2.Literal("all")], { default: "per-line", title: "One button per line, or one button that keeps every live call" }),
        longPressMs: Type2.Integer({ minimum: 300, maximum: 1e4, default: 1e3, title: 'Milliseconds a press must last to mean "private"' }),
        beep: Type2.Boolean({ default: false, title: "Beep on the audio output when a call starts being kept" }),
        beepDevice: Type2.String({ default: "default", minLength: 1, maxLength: 128, title: "ALSA device for the beep (aplay -D)" })
      },
      { additionalProperties: false, default: {} }
    ),
    health: Type2.Object(
      {
        diskHoursWanted: Type2.Number({ minimum: 1, maximum: 1e6, default: 24, title: "Hours of recording the free disk space must hold before the box warns" }),
        checkSeconds: Type2.Integer({ minimum: 5, maximum: 3600, default: 30, title: "Seconds between disk and vault health checks" })
      },
      { additionalProperties: false, default: {} }
    ),
    lines: Type2.Array(LineConfig, {
      minItems: 1,
      maxItems: 32,
      title: "Phone lines",
      default: [
        { id: "line1", name: "Line 1", source: "sim", channels: 2, keep: "on-demand", sampleN: 10, announced: ["complaint", "training"], keepPurposes: ["complaint"] },
        { id: "line2", name: "Line 2", source: "sim", channels: 2, keep: "sample", sampleN: 10, announced: ["training", "evaluation"], keepPurposes: ["training"] }
      ]
    })
  },
  { additionalProperties: false }
);
var noDefault = (s) => {
  const { default: _d, ...rest } = s;
  return rest;
};
var LineSettings = Type2.Object(
  {
    id: Type2.String(),
    name: Type2.Optional(noDefault(LineConfig.properties.name)),
    keep: Type2.Optional(noDefault(LineConfig.properties.keep)),
    sampleN: Type2.Optional(noDefault(LineConfig.properties.sampleN)),
    announced: Type2.Optional(noDefault(LineConfig.properties.announced)),
    keepPurposes: Type2.Optional(noDefault(LineConfig.properties.keepPurposes))
  },
  { additionalProperties: false }
);
var SettingsPatch = Type2.Object(
  {
    lines: Type2.Optional(Type2.Array(LineSettings, { maxItems: 32 })),
    graceSeconds: Type2.Optional(noDefault(Config.properties.graceSeconds)),
    exclusions: Type2.Optional(noDefault(Config.properties.exclusions)),
    language: Type2.Optional(noDefault(Config.properties.language)),
    retention: Type2.Optional(noDefault(Config.properties.retention)),
    rolePurposes: Type2.Optional(noDefault(Config.properties.rolePurposes))
  },
  { additionalProperties: false }
);

// src/config/load.ts
function parseConfig(raw, source) {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RvError("RV_ERR_CONFIG", `${source}: the config must be a JSON object, found ${Array.isArray(raw) ? "an array" : typeof raw}.`);
  }
  const withDefaults = Value.Default(Config, structuredClone(raw));
  const problems = [...Value.Errors(Config, withDefaults)];
  if (problems.length > 0) {
    const seen = /* @__PURE__ */ new Set();
    const lines = [];
    for (const e of problems) {
      const key = e.path.replace(/^\//, "").replaceAll("/", ".") || "(root)";
      if (seen.has(key) || lines.length >= 8) continue;
      seen.add(key);
      if (e.message.startsWith("Unexpected property")) {
        lines.push(`  ${key}: unknown key; remove it (check the spelling against the README)`);
        continue;
      }
      const found = e.value === void 0 ? "nothing" : JSON.stringify(e.value);
      const what = e.message.replace(/^Expected /, "");
      lines.push(`  ${key}: found ${found}; expected ${what}${e.schema.title ? ` \u2014 ${e.schema.title}` : ""}`);
    }
    throw new RvError("RV_ERR_CONFIG", `${source}: invalid configuration; fix these keys and start again:
${lines.join("\n")}`);
  }
  const cfg = withDefaults;
  const ids = /* @__PURE__ */ new Set();
  for (const line of cfg.lines) {
    if (ids.has(line.id)) throw new RvError("RV_ERR_CONFIG", `${source}: lines: the id "${line.id}" is used twice; give every line its own id.`);
    ids.add(line.id);
    const stray = line.keepPurposes.filter((p) => !line.announced.includes(p));
    if (stray.length) throw new RvError("RV_ERR_CONFIG", `${source}: lines.${line.id}.keepPurposes: found ${stray.join(", ")}, which the line does not announce; expected a subset of announced (${line.announced.join(", ")}).`);
  }
  checkAnalog(cfg, source);
  return cfg;
}
async function loadConfigFile(path) {
  let text4;
  try {
    text4 = await readFile(path, "utf8");
  } catch (e) {
    throw new RvError("RV_ERR_CONFIG", `${path}: cannot read the config file (${e.code}); check the path given with --config.`);
  }
  let raw;
  try {
    raw = JSON.parse(text4);
  } catch (e) {
    throw new RvError("RV_ERR_CONFIG", `${path}: not valid JSON (${e.message}); fix the syntax and start again.`);
  }
  return parseConfig(raw, path);
}
var defaultConfig = () => parseConfig({}, "built-in defaults");

// src/box.ts
import { mkdir as mkdir2 } from "node:fs/promises";
import { join as join8 } from "node:path";

// src/config/settings.ts
import { readFile as readFile2 } from "node:fs/promises";
import { Low } from "lowdb";
import { Value as Value2 } from "@sinclair/typebox/value";

// src/archive/durable.ts
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
var TEMP_SUFFIX = ".tmp";
var isTempName = (name) => name.endsWith(TEMP_SUFFIX);
async function fsyncDir(dir) {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
async function ensureDir(dir, mode = 448) {
  const target = resolve(dir);
  const first = await mkdir(target, { recursive: true, mode });
  if (first === void 0) return;
  const top = resolve(first);
  for (let d = target; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === top || d === dirname(d)) break;
  }
}
async function writeFileDurable(path, data, mode = 384) {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = join(dir, `${basename(path)}.${randomBytes(4).toString("hex")}${TEMP_SUFFIX}`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => void 0);
    await unlink(tmp).catch(() => void 0);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => void 0);
    throw e;
  }
  await fsyncDir(dir);
}

// src/config/settings.ts
var ROLES = ["admin", "manager", "reviewer", "staff"];
var DurableJsonFile = class {
  constructor(path) {
    this.path = path;
  }
  path;
  async read() {
    let text4;
    try {
      text4 = await readFile2(this.path, "utf8");
    } catch (e) {
      if (e.code === "ENOENT") return null;
      throw e;
    }
    try {
      return JSON.parse(text4);
    } catch (e) {
      throw new RvError("RV_ERR_SETTINGS", `${this.path}: the settings file is not valid JSON (${e.message}); restore it from a backup or fix the syntax.`);
    }
  }
  async write(data) {
    await writeFileDurable(this.path, JSON.stringify(data, null, 2) + "\n");
  }
};
var SettingsStore = class {
  db;
  constructor(path) {
    this.db = new Low(new DurableJsonFile(path), { version: 1, users: [], overrides: {} });
  }
  async load() {
    await this.db.read();
    const data = this.db.data;
    if (!Value2.Check(SettingsPatch, data.overrides ?? {})) {
      const first = [...Value2.Errors(SettingsPatch, data.overrides)][0];
      throw new RvError("RV_ERR_SETTINGS", `settings.json: overrides${first?.path.replaceAll("/", ".") ?? ""}: ${first?.message ?? "invalid"}; fix or delete the key and start again.`);
    }
    data.users ??= [];
  }
  get users() {
    return this.db.data.users;
  }
  get overrides() {
    return this.db.data.overrides;
  }
  async update(fn) {
    fn(this.db.data);
    await this.db.write();
  }
  /** The running config: file config with the UI's overrides on top. */
  effective(base) {
    return applyOverrides(base, this.db.data.overrides);
  }
};
function applyOverrides(base, o) {
  const lines = base.lines.map((l) => ({ ...l, ...o.lines?.find((x) => x.id === l.id) ?? {} }));
  return {
    ...base,
    lines,
    graceSeconds: o.graceSeconds ?? base.graceSeconds,
    exclusions: o.exclusions ?? base.exclusions,
    language: o.language ?? base.language,
    retention: o.retention ?? base.retention,
    rolePurposes: o.rolePurposes ?? base.rolePurposes
  };
}

// src/vault/vault.ts
import { createHash as createHash3, randomBytes as randomBytes4 } from "node:crypto";
import { readdir, readFile as readFile3, unlink as unlink2 } from "node:fs/promises";
import { join as join2 } from "node:path";
import nacl2 from "tweetnacl";

// src/archive/ids.ts
import { randomBytes as randomBytes2 } from "node:crypto";
var SORTABLE_ID = /^\d{8}T\d{6}-[0-9a-f]{8,32}$/;
var MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);
var isValidIdTime = (ms) => Number.isFinite(ms) && ms >= 0 && ms <= MAX_MS;
function newSortableId(ms) {
  if (!isValidIdTime(ms)) throw new RangeError(`time ${ms} cannot name an id`);
  const stamp = new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, "");
  return `${stamp}-${randomBytes2(4).toString("hex")}`;
}

// src/vault/recovery-key.ts
import { createHash } from "node:crypto";
var ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
var PREFIX = "RV1";
var RECOVERY_KEY_BYTES = 32;
var CHECK_BYTES = 3;
var CHARS = (RECOVERY_KEY_BYTES + CHECK_BYTES) * 8 / 5;
var GROUP = 4;
var check = (key) => createHash("sha256").update("ringvault-recovery-check/1").update(key).digest().subarray(0, CHECK_BYTES);
function encode(bytes) {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[acc >> bits & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}
function decode(chars) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const c of chars) {
    acc = acc << 5 | ALPHABET.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push(acc >> bits & 255);
    }
    acc &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}
function formatRecoveryKey(key) {
  if (key.length !== RECOVERY_KEY_BYTES) throw new Error(`a recovery key is ${RECOVERY_KEY_BYTES} bytes`);
  const body = encode(Buffer.concat([key, check(key)]));
  const groups = body.match(new RegExp(`.{${GROUP}}`, "g")) ?? [];
  return [PREFIX, ...groups].join("-");
}
function parseRecoveryKey(text4) {
  let s = text4.toUpperCase().replace(/[\s_-]+/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
  if (s.length === PREFIX.length + CHARS && s.startsWith(PREFIX)) s = s.slice(PREFIX.length);
  if (s.length !== CHARS || [...s].some((c) => !ALPHABET.includes(c))) return { ok: false, reason: "shape" };
  const raw = decode(s);
  const key = raw.subarray(0, RECOVERY_KEY_BYTES);
  if (!check(key).equals(raw.subarray(RECOVERY_KEY_BYTES))) return { ok: false, reason: "typo" };
  return { ok: true, key: Buffer.from(key) };
}

// src/vault/keyslot.ts
import { createHash as createHash2, randomBytes as randomBytes3, scrypt } from "node:crypto";
import nacl from "tweetnacl";
var KDF = { N: 1 << 15, r: 8, p: 1 };
var b64 = (u) => Buffer.from(u).toString("base64");
var unb64 = (s) => Buffer.from(s, "base64");
function derive(passphrase, salt, p) {
  const maxmem = 256 * p.N * p.r;
  return new Promise((res, rej) => scrypt(passphrase.normalize("NFKC"), salt, nacl.secretbox.keyLength, { N: p.N, r: p.r, p: p.p, maxmem }, (e, k) => e ? rej(e) : res(k)));
}
var recoveryWrapKey = (key) => createHash2("sha256").update("ringvault-recovery-wrap/1").update(key).digest();
function seal(secret, wrapKey) {
  const nonce = randomBytes3(nacl.secretbox.nonceLength);
  return { nonce: b64(nonce), box: b64(nacl.secretbox(secret, nonce, wrapKey)) };
}
function unseal(slot, wrapKey) {
  const nonce = unb64(slot.nonce);
  if (nonce.length !== nacl.secretbox.nonceLength) return null;
  return nacl.secretbox.open(unb64(slot.box), nonce, wrapKey);
}
async function sealWithPassphrase(user, passphrase, secret, now = Date.now()) {
  const salt = randomBytes3(16);
  const k = await derive(passphrase, salt, KDF);
  try {
    return { v: 1, kind: "passphrase", user, kdf: { name: "scrypt", ...KDF, salt: b64(salt) }, ...seal(secret, k), createdAt: now };
  } finally {
    k.fill(0);
  }
}
async function openWithPassphrase(slot, passphrase) {
  const k = await derive(passphrase, unb64(slot.kdf.salt), slot.kdf);
  try {
    return unseal(slot, k);
  } finally {
    k.fill(0);
  }
}
function sealWithRecovery(recoveryKey, secret, now = Date.now()) {
  const k = recoveryWrapKey(recoveryKey);
  try {
    return { v: 1, kind: "recovery", ...seal(secret, k), createdAt: now };
  } finally {
    k.fill(0);
  }
}
function openWithRecovery(slot, recoveryKey) {
  const k = recoveryWrapKey(recoveryKey);
  try {
    return unseal(slot, k);
  } finally {
    k.fill(0);
  }
}
var isPow2 = (n) => Number.isInteger(n) && n > 1 && (n & n - 1) === 0;
function parseKeyslot(text4) {
  let x;
  try {
    x = JSON.parse(text4);
  } catch {
    return void 0;
  }
  if (typeof x !== "object" || x === null) return void 0;
  const s = x;
  if (s.v !== 1 || typeof s.nonce !== "string" || typeof s.box !== "string") return void 0;
  if (s.kind === "recovery") return s;
  if (s.kind !== "passphrase" || typeof s.user !== "string") return void 0;
  const k = s.kdf;
  if (!k || k.name !== "scrypt" || typeof k.salt !== "string") return void 0;
  const { N: N2, r, p } = k;
  if (typeof N2 !== "number" || !isPow2(N2) || N2 > 1 << 20) return void 0;
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1 || r > 16) return void 0;
  if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 4) return void 0;
  return s;
}

// src/vault/vault.ts
var MIN_PASSPHRASE = 8;
var MAX_SECRET = 1024;
var SLOT_PREFIX = "user-";
var RECOVERY_SLOT = "recovery.json";
var b642 = (u) => Buffer.from(u).toString("base64");
var equal = (a, b) => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
var isEnoent = (e) => e.code === "ENOENT";
var slotFileOf = (user) => `${SLOT_PREFIX}${createHash3("sha256").update(user, "utf8").digest("hex").slice(0, 32)}.json`;
var locked = () => new RvError("RV_ERR_VAULT_LOCKED", "The vault is locked; unlock it with a passphrase or the recovery key first.", 423);
var uninitialized = () => new RvError("RV_ERR_VAULT_UNINITIALIZED", "The vault is not set up yet; run the first-start setup (web page or `ringvault init`).", 409);
function checkPassphrase(passphrase) {
  if (typeof passphrase !== "string" || [...passphrase].length < MIN_PASSPHRASE) {
    throw new RvError("RV_ERR_WEAK_PASSPHRASE", `A passphrase needs at least ${MIN_PASSPHRASE} characters; a few random words are best.`, 400);
  }
  if (passphrase.length > MAX_SECRET) throw new RvError("RV_ERR_WEAK_PASSPHRASE", `A passphrase may be at most ${MAX_SECRET} characters; choose a shorter one.`, 400);
}
function checkUser(user) {
  if (typeof user !== "string" || user.length === 0 || user.length > 128) {
    throw new RvError("RV_ERR_BAD_USERNAME", "A keyslot needs a user name of 1 to 128 characters.", 400);
  }
}
var Vault = class {
  constructor(dir) {
    this.dir = dir;
  }
  dir;
  secretKey;
  epochKeys = /* @__PURE__ */ new Map();
  info;
  signer;
  tail = Promise.resolve();
  get infoPath() {
    return join2(this.dir, "vault.json");
  }
  get signKeyPath() {
    return join2(this.dir, "sign.key");
  }
  get slotsDir() {
    return join2(this.dir, "keyslots");
  }
  get epochsDir() {
    return join2(this.dir, "epochs");
  }
  get unlocked() {
    return this.secretKey !== void 0;
  }
  /** Runs changes to the keyslots one after another, so two admins cannot interleave them. */
  serial(fn) {
    const run = async () => {
      await this.sweepTemps();
      return fn();
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => void 0);
    return p;
  }
  /** A temp slot file left by a power cut holds a wrapped key under a passphrase that may since have been retired. */
  async sweepTemps() {
    let names2;
    try {
      names2 = await readdir(this.slotsDir);
    } catch (e) {
      if (isEnoent(e)) return;
      throw e;
    }
    for (const name of names2.filter(isTempName)) await unlink2(join2(this.slotsDir, name)).catch(() => void 0);
  }
  async isInitialized() {
    try {
      await this.loadInfo();
      return true;
    } catch (e) {
      if (e instanceof RvError && e.code === "RV_ERR_VAULT_UNINITIALIZED") return false;
      throw e;
    }
  }
  async loadInfo() {
    if (this.info) return this.info;
    let text4;
    try {
      text4 = await readFile3(this.infoPath, "utf8");
    } catch (e) {
      if (isEnoent(e)) throw uninitialized();
      throw e;
    }
    let info;
    try {
      const j = JSON.parse(text4);
      const box = Buffer.from(String(j.boxPublicKey), "base64");
      const sign = Buffer.from(String(j.signPublicKey), "base64");
      if (j.v !== 1 || box.length !== nacl2.box.publicKeyLength || sign.length !== nacl2.sign.publicKeyLength) throw new Error("bad fields");
      info = { v: 1, createdAt: Number(j.createdAt), boxPublicKey: new Uint8Array(box), signPublicKey: new Uint8Array(sign) };
    } catch {
      throw new RvError("RV_ERR_VAULT_CORRUPT", `${this.infoPath} is damaged; restore the vault folder from a backup.`, 500);
    }
    this.info = info;
    return info;
  }
  init(user, passphrase) {
    return this.serial(async () => {
      checkUser(user);
      checkPassphrase(passphrase);
      if (await this.isInitialized()) throw new RvError("RV_ERR_VAULT_EXISTS", "The vault is already set up; unlock it instead, or use the recovery key.", 409);
      await ensureDir(this.slotsDir);
      await ensureDir(this.epochsDir);
      for (const name of await readdir(this.slotsDir)) await unlink2(join2(this.slotsDir, name));
      const box = nacl2.box.keyPair.fromSecretKey(randomBytes4(nacl2.box.secretKeyLength));
      const seed = randomBytes4(nacl2.sign.seedLength);
      const signer = nacl2.sign.keyPair.fromSeed(seed);
      const recovery = randomBytes4(RECOVERY_KEY_BYTES);
      try {
        await writeFileDurable(this.signKeyPath, seed, 384);
        await this.writeSlot(slotFileOf(user), await sealWithPassphrase(user, passphrase, box.secretKey));
        await this.writeSlot(RECOVERY_SLOT, sealWithRecovery(recovery, box.secretKey));
        const now = Date.now();
        await writeFileDurable(this.infoPath, JSON.stringify({ v: 1, createdAt: now, boxPublicKey: b642(box.publicKey), signPublicKey: b642(signer.publicKey) }, null, 2) + "\n");
        this.info = { v: 1, createdAt: now, boxPublicKey: box.publicKey, signPublicKey: signer.publicKey };
        this.signer = signer;
        this.setSecret(box.secretKey);
        return { recoveryKey: formatRecoveryKey(recovery) };
      } finally {
        seed.fill(0);
        recovery.fill(0);
      }
    });
  }
  async writeSlot(name, slot) {
    await writeFileDurable(join2(this.slotsDir, name), JSON.stringify(slot, null, 2) + "\n", 384);
  }
  async readSlot(name) {
    try {
      return parseKeyslot(await readFile3(join2(this.slotsDir, name), "utf8"));
    } catch (e) {
      if (isEnoent(e)) return void 0;
      throw e;
    }
  }
  async passphraseSlots() {
    let names2;
    try {
      names2 = await readdir(this.slotsDir);
    } catch (e) {
      if (isEnoent(e)) return [];
      throw e;
    }
    const out = [];
    for (const name of names2.sort()) {
      if (!name.startsWith(SLOT_PREFIX) || isTempName(name)) continue;
      const s = await this.readSlot(name);
      out.push({ name, slot: s?.kind === "passphrase" ? s : void 0 });
    }
    return out;
  }
  async unlock(secret) {
    const info = await this.loadInfo();
    const wrong = (typo) => new RvError("RV_ERR_WRONG_PASSPHRASE", typo ? "That recovery key has a typo (its check characters do not match); compare it group by group with the printed copy." : "That passphrase or recovery key does not open the vault; check Caps Lock and the keyboard layout, and try again.", 401);
    if (typeof secret !== "string" || secret.length === 0 || secret.length > MAX_SECRET) throw wrong(false);
    const parsed = parseRecoveryKey(secret);
    let unreadable = 0;
    let found;
    if (parsed.ok) {
      const slot = await this.readSlot(RECOVERY_SLOT);
      const sk = slot?.kind === "recovery" ? openWithRecovery(slot, parsed.key) : null;
      parsed.key.fill(0);
      if (sk) found = { sk, via: "recovery" };
    }
    const slots = found ? [] : await this.passphraseSlots();
    for (const { slot } of slots) {
      if (found) break;
      if (!slot) {
        unreadable++;
        continue;
      }
      const sk = await openWithPassphrase(slot, secret);
      if (sk) found = { sk, via: "passphrase", user: slot.user };
    }
    if (!found) {
      if (slots.length > 0 && unreadable === slots.length) {
        throw new RvError("RV_ERR_VAULT_CORRUPT", `Every keyslot in ${this.slotsDir} is damaged; restore the vault folder from a backup, then use the recovery key.`, 500);
      }
      throw wrong(!parsed.ok && parsed.reason === "typo");
    }
    if (!equal(nacl2.box.keyPair.fromSecretKey(found.sk).publicKey, info.boxPublicKey)) {
      found.sk.fill(0);
      throw new RvError("RV_ERR_VAULT_CORRUPT", `The keyslot opened but its key does not match ${this.infoPath}; restore the vault folder from one backup, not mixed files.`, 500);
    }
    this.setSecret(found.sk);
    return found.user === void 0 ? { via: found.via } : { via: found.via, user: found.user };
  }
  /** A second unlock keeps the key already held, so epoch keys handed out stay valid. */
  setSecret(sk) {
    if (this.secretKey) sk.fill(0);
    else this.secretKey = sk;
  }
  /** Zeroes the secret key and every cached epoch key, including the arrays epochKey() handed out. */
  lock() {
    this.secretKey?.fill(0);
    this.secretKey = void 0;
    for (const k of this.epochKeys.values()) k.fill(0);
    this.epochKeys.clear();
  }
  requireUnlocked() {
    if (!this.secretKey) throw locked();
    return this.secretKey;
  }
  addKeyslot(user, passphrase) {
    return this.serial(async () => {
      checkUser(user);
      checkPassphrase(passphrase);
      await this.loadInfo();
      const sk = this.requireUnlocked();
      const slot = await sealWithPassphrase(user, passphrase, sk);
      if (this.secretKey !== sk) throw locked();
      await this.writeSlot(slotFileOf(user), slot);
    });
  }
  removeKeyslot(user) {
    return this.serial(async () => {
      checkUser(user);
      const name = slotFileOf(user);
      const slots = await this.passphraseSlots();
      if (!slots.some((s) => s.name === name)) return;
      if (slots.filter((s) => s.slot).length <= 1) {
        throw new RvError("RV_ERR_LAST_KEYSLOT", `This is the last passphrase that opens the vault; give another user a keyslot before removing "${user}".`, 409);
      }
      await unlink2(join2(this.slotsDir, name));
      await fsyncDir(this.slotsDir);
    });
  }
  async hasKeyslot(user) {
    const s = await this.readSlot(slotFileOf(user));
    return s?.kind === "passphrase" && s.user === user;
  }
  newRecoveryKey() {
    return this.serial(async () => {
      await this.loadInfo();
      const sk = this.requireUnlocked();
      const recovery = randomBytes4(RECOVERY_KEY_BYTES);
      try {
        const slot = sealWithRecovery(recovery, sk);
        await this.writeSlot(RECOVERY_SLOT, slot);
        return formatRecoveryKey(recovery);
      } finally {
        recovery.fill(0);
      }
    });
  }
  async boxPublicKey() {
    return new Uint8Array((await this.loadInfo()).boxPublicKey);
  }
  /**
   * Starts a key epoch: a throw-away X25519 key agrees a shared key with the box key and is then
   * forgotten, so the box can wrap call keys while locked and unlocking costs one X25519 per epoch.
   */
  async newEpoch() {
    const info = await this.loadInfo();
    const eph = nacl2.box.keyPair.fromSecretKey(randomBytes4(nacl2.box.secretKeyLength));
    const sharedKey = nacl2.box.before(info.boxPublicKey, eph.secretKey);
    eph.secretKey.fill(0);
    const id = newSortableId(Date.now());
    await ensureDir(this.epochsDir);
    await writeFileDurable(join2(this.epochsDir, `${id}.pub`), eph.publicKey, 384);
    return { id, sharedKey };
  }
  /** The shared key of an epoch. The array is the vault's cached copy: lock() zeroes it, so do not keep it. */
  async epochKey(epochId) {
    const sk = this.requireUnlocked();
    const cached = this.epochKeys.get(epochId);
    if (cached) return cached;
    if (!SORTABLE_ID.test(epochId)) throw new RvError("RV_ERR_EPOCH_MISSING", `"${epochId}" is not a key epoch id; the call header is damaged.`, 500);
    let pub;
    try {
      pub = await readFile3(join2(this.epochsDir, `${epochId}.pub`));
    } catch (e) {
      if (!isEnoent(e)) throw e;
      pub = Buffer.alloc(0);
    }
    if (pub.length !== nacl2.box.publicKeyLength) {
      throw new RvError("RV_ERR_EPOCH_MISSING", `Key epoch ${epochId} is missing or damaged in ${this.epochsDir}; restore the vault folder from a backup.`, 500);
    }
    if (this.secretKey !== sk) throw locked();
    const again = this.epochKeys.get(epochId);
    if (again) return again;
    const key = nacl2.box.before(pub, sk);
    this.epochKeys.set(epochId, key);
    return key;
  }
  async loadSigner() {
    if (this.signer) return this.signer;
    const info = await this.loadInfo();
    let seed;
    try {
      seed = await readFile3(this.signKeyPath);
    } catch (e) {
      if (!isEnoent(e)) throw e;
      seed = Buffer.alloc(0);
    }
    const signer = seed.length === nacl2.sign.seedLength ? nacl2.sign.keyPair.fromSeed(seed) : void 0;
    seed.fill(0);
    if (!signer || !equal(signer.publicKey, info.signPublicKey)) {
      throw new RvError("RV_ERR_VAULT_CORRUPT", `${this.signKeyPath} is missing or does not match vault.json; restore the vault folder from a backup.`, 500);
    }
    this.signer = signer;
    return signer;
  }
  async sign(message) {
    return nacl2.sign.detached(message, (await this.loadSigner()).secretKey);
  }
  async verify(message, signature) {
    const { signPublicKey } = await this.loadInfo();
    if (signature.length !== nacl2.sign.signatureLength) return false;
    return nacl2.sign.detached.verify(message, signature, signPublicKey);
  }
  async signPublicKey() {
    return new Uint8Array((await this.loadInfo()).signPublicKey);
  }
};

// src/archive/archive.ts
import { randomBytes as randomBytes7 } from "node:crypto";
import { open as openFile, readFile as readFile5, unlink as unlink5 } from "node:fs/promises";

// src/audio/frame.ts
var SAMPLE_RATE = 8e3;
var BYTES_PER_SAMPLE = 2;
var msOf = (framesPerChannel) => framesPerChannel * 1e3 / SAMPLE_RATE;

// src/archive/finalize.ts
import { unlink as unlink3 } from "node:fs/promises";

// src/archive/format.ts
import { createHash as createHash4 } from "node:crypto";
import nacl3 from "tweetnacl";
var KEPT_BY = ["all", "sample", "button", "user", "import"];
var RECORD_PREFIX = 12;
var AT_BYTES = 8;
var MAX_CHUNK_PCM = SAMPLE_RATE * 2 * BYTES_PER_SAMPLE;
var MIN_CIPHERTEXT = nacl3.secretbox.overheadLength + AT_BYTES + BYTES_PER_SAMPLE;
var MAX_CIPHERTEXT = nacl3.secretbox.overheadLength + AT_BYTES + MAX_CHUNK_PCM;
var DATA_KEY_BYTES = nacl3.secretbox.keyLength;
function chunkNonce(index) {
  const n = Buffer.alloc(nacl3.secretbox.nonceLength);
  n.write("RVA1", 0, "latin1");
  n.writeUInt32LE(index, 4);
  return n;
}
function sealRecord(dataKey, index, at, pcm) {
  const plain = Buffer.allocUnsafe(AT_BYTES + pcm.length);
  plain.writeDoubleLE(at, 0);
  plain.set(pcm, AT_BYTES);
  const ct = nacl3.secretbox(plain, chunkNonce(index), dataKey);
  plain.fill(0);
  const rec = Buffer.allocUnsafe(RECORD_PREFIX + ct.length);
  rec.writeUInt32LE(ct.length, 0);
  rec.writeDoubleLE(at, 4);
  rec.set(ct, RECORD_PREFIX);
  return rec;
}
function openRecord(dataKey, index, record) {
  const plain = nacl3.secretbox.open(record.subarray(RECORD_PREFIX), chunkNonce(index), dataKey);
  if (!plain || plain.length < AT_BYTES) return null;
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.length);
  const at = buf.readDoubleLE(0);
  if (at !== record.readDoubleLE(4)) return null;
  return { at, pcm: buf.subarray(AT_BYTES) };
}
var framesOf = (ctLength, channels) => (ctLength - nacl3.secretbox.overheadLength - AT_BYTES) / (BYTES_PER_SAMPLE * channels);
var SIGNED = [
  "v",
  "id",
  "line",
  "startedAt",
  "endedAt",
  "durationMs",
  "samples",
  "channels",
  "sampleRate",
  "chunks",
  "purposes",
  "keptBy",
  "keptAt",
  "clockSynced",
  "holds",
  "restricted",
  "epoch",
  "wrappedKey",
  "wrapNonce",
  "metaSealed",
  "audioSha256"
];
function headerDigest(h) {
  return createHash4("sha256").update("ringvault-call-header/1\n").update(JSON.stringify(SIGNED.map((k) => h[k]))).digest();
}
var MAX_TIME = 253402300799999;
var isTime = (t) => typeof t === "number" && Number.isFinite(t) && t >= 0 && t <= MAX_TIME;
var text = (min, max, re) => (v) => typeof v === "string" && v.length >= min && v.length <= max && (!re || re.test(v));
var b643 = (bytes) => bytes === void 0 ? text(0, 1 << 20, /^[A-Za-z0-9+/]*={0,2}$/) : text(Math.ceil(bytes / 3) * 4, Math.ceil(bytes / 3) * 4, /^[A-Za-z0-9+/]*={0,2}$/);
var count = (v) => Number.isSafeInteger(v) && v >= 0;
var names = (max) => (v) => Array.isArray(v) && v.length <= 32 && v.every(text(1, max));
var oneOf = (...xs) => (v) => xs.includes(v);
var bool = (v) => typeof v === "boolean";
var OPEN_RULES = {
  v: oneOf(1),
  id: text(1, 64, SORTABLE_ID),
  line: text(1, 128),
  startedAt: isTime,
  channels: oneOf(1, 2),
  sampleRate: oneOf(SAMPLE_RATE),
  purposes: names(64),
  keptBy: oneOf(...KEPT_BY),
  keptAt: isTime,
  clockSynced: bool,
  holds: names(128),
  restricted: bool,
  epoch: text(1, 64, SORTABLE_ID),
  wrappedKey: b643(DATA_KEY_BYTES + nacl3.secretbox.overheadLength),
  wrapNonce: b643(nacl3.secretbox.nonceLength),
  metaSealed: b643()
};
var FINAL_RULES = {
  ...OPEN_RULES,
  endedAt: isTime,
  durationMs: count,
  samples: count,
  chunks: count,
  audioSha256: text(64, 64, /^[0-9a-f]{64}$/),
  signature: b643(nacl3.sign.signatureLength)
};
function check2(rules, json, id) {
  let x;
  try {
    x = JSON.parse(json);
  } catch (e) {
    return { ok: false, reason: `not JSON (${e.message})` };
  }
  if (typeof x !== "object" || x === null || Array.isArray(x)) return { ok: false, reason: "not a JSON object" };
  for (const [field, ok] of Object.entries(rules)) {
    if (!ok(x[field])) return { ok: false, reason: `field "${field}" is missing or invalid` };
  }
  if (x.id !== id) return { ok: false, reason: `its id does not match the file name ${id}` };
  return { ok: true, value: x };
}
var parseOpenHeader = (json, id) => check2(OPEN_RULES, json, id);
var parseCallHeader = (json, id) => check2(FINAL_RULES, json, id);
function pickHeader(h) {
  return {
    v: 1,
    id: h.id,
    line: h.line,
    startedAt: h.startedAt,
    endedAt: h.endedAt,
    durationMs: h.durationMs,
    samples: h.samples,
    channels: h.channels,
    sampleRate: h.sampleRate,
    chunks: h.chunks,
    purposes: [...h.purposes],
    keptBy: h.keptBy,
    keptAt: h.keptAt,
    clockSynced: h.clockSynced,
    holds: [...h.holds],
    restricted: h.restricted,
    epoch: h.epoch,
    wrappedKey: h.wrappedKey,
    wrapNonce: h.wrapNonce,
    metaSealed: h.metaSealed,
    audioSha256: h.audioSha256,
    signature: h.signature
  };
}
var headerJson = (h) => JSON.stringify(h) + "\n";

// src/archive/scrub.ts
import { open as open2 } from "node:fs/promises";
var FIELD = Buffer.from('"wrappedKey":"', "latin1");
async function scrubWrappedKey(path) {
  const fh = await open2(path, "r+");
  try {
    const buf = await fh.readFile();
    const at = buf.indexOf(FIELD);
    if (at < 0) return false;
    const start = at + FIELD.length;
    const end2 = buf.indexOf('"', start);
    if (end2 < 0) return false;
    await fh.write(Buffer.alloc(end2 - start, "A"), 0, end2 - start, start);
    await fh.sync();
    return true;
  } finally {
    await fh.close();
  }
}
var isScrubbed = (wrappedKeyB64) => /^A+={0,2}$/.test(wrappedKeyB64);

// src/archive/finalize.ts
var ignoreEnoent = (e) => {
  if (e.code !== "ENOENT") throw e;
};
async function signHeader(vault, body) {
  const signature = Buffer.from(await vault.sign(headerDigest(body))).toString("base64");
  return { ...body, signature };
}
function finalBody(o, t, endedAt) {
  return {
    v: 1,
    id: o.id,
    line: o.line,
    startedAt: o.startedAt,
    endedAt: endedAt ?? t.lastEnd ?? o.startedAt,
    durationMs: Math.round(t.samples * 1e3 / SAMPLE_RATE),
    samples: t.samples,
    channels: o.channels,
    sampleRate: o.sampleRate,
    chunks: t.chunks,
    purposes: [...o.purposes],
    keptBy: o.keptBy,
    keptAt: o.keptAt,
    clockSynced: o.clockSynced,
    holds: [...o.holds],
    restricted: o.restricted,
    epoch: o.epoch,
    wrappedKey: o.wrappedKey,
    wrapNonce: o.wrapNonce,
    metaSealed: o.metaSealed,
    audioSha256: t.audioSha256
  };
}
async function finalizeCall(vault, paths, o, t, endedAt) {
  const header = await signHeader(vault, finalBody(o, t, endedAt));
  await writeFileDurable(paths.header, headerJson(header));
  await retireOpenHeader(paths.open);
  return header;
}
async function retireOpenHeader(path) {
  await scrubWrappedKey(path).catch(ignoreEnoent);
  await unlink3(path).catch(ignoreEnoent);
}

// src/archive/paths.ts
import { join as join3 } from "node:path";
var MONTH_DIR = /^\d{4}-\d{2}$/;
var QUARANTINE_DIR = "quarantine";
var HEADER_EXT = ".json";
var OPEN_EXT = ".open.json";
var AUDIO_EXT = ".audio";
function callPaths(root, id) {
  const dir = join3(root, `${id.slice(0, 4)}-${id.slice(4, 6)}`);
  return { dir, header: join3(dir, id + HEADER_EXT), open: join3(dir, id + OPEN_EXT), audio: join3(dir, id + AUDIO_EXT) };
}
function classify(name) {
  for (const [ext, kind] of [[OPEN_EXT, "open"], [HEADER_EXT, "header"], [AUDIO_EXT, "audio"]]) {
    if (name.endsWith(ext)) return { id: name.slice(0, -ext.length), kind };
  }
  return void 0;
}

// src/archive/reader.ts
import { createHash as createHash5 } from "node:crypto";
import { open as open3 } from "node:fs/promises";

// src/archive/sealing.ts
import { randomBytes as randomBytes5 } from "node:crypto";
import nacl4 from "tweetnacl";
var NONCE = nacl4.secretbox.nonceLength;
var tampered = (id, what) => new RvError("RV_ERR_ARCHIVE_TAMPERED", `Kept call ${id} failed its integrity check (${what}); the archive files were altered or damaged. Restore them from a backup and check the audit log.`, 500);
function wrapDataKey(dataKey, epochKey) {
  const nonce = randomBytes5(NONCE);
  return { wrappedKey: Buffer.from(nacl4.secretbox(dataKey, nonce, epochKey)).toString("base64"), wrapNonce: nonce.toString("base64") };
}
function unwrapDataKey(h, epochKey) {
  const key = nacl4.secretbox.open(Buffer.from(h.wrappedKey, "base64"), Buffer.from(h.wrapNonce, "base64"), epochKey);
  if (!key || key.length !== DATA_KEY_BYTES) throw tampered(h.id, "the wrapped data key does not open");
  return key;
}
function sealMeta(meta, dataKey) {
  const nonce = randomBytes5(NONCE);
  const box = nacl4.secretbox(Buffer.from(JSON.stringify(meta), "utf8"), nonce, dataKey);
  return Buffer.concat([nonce, box]).toString("base64");
}
function openMeta(id, sealed, dataKey) {
  const raw = Buffer.from(sealed, "base64");
  const plain = raw.length > NONCE ? nacl4.secretbox.open(raw.subarray(NONCE), raw.subarray(0, NONCE), dataKey) : null;
  if (!plain) throw tampered(id, "the sealed metadata does not open");
  const meta = JSON.parse(Buffer.from(plain).toString("utf8"));
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw tampered(id, "the sealed metadata is not an object");
  return meta;
}

// src/archive/reader.ts
async function readRecordAt(fh, offset, size, body = true) {
  if (offset === size) return { kind: "end" };
  if (offset + RECORD_PREFIX > size) return { kind: "bad", reason: `torn record prefix at byte ${offset}` };
  const prefix = Buffer.alloc(RECORD_PREFIX);
  await fh.read(prefix, 0, RECORD_PREFIX, offset);
  const n = prefix.readUInt32LE(0);
  if (n < MIN_CIPHERTEXT || n > MAX_CIPHERTEXT) return { kind: "bad", reason: `impossible record length ${n} at byte ${offset}` };
  if (offset + RECORD_PREFIX + n > size) return { kind: "bad", reason: `torn record at byte ${offset}` };
  if (!body) return { kind: "record", length: RECORD_PREFIX + n, record: prefix };
  const record = Buffer.alloc(RECORD_PREFIX + n);
  prefix.copy(record);
  await fh.read(record, RECORD_PREFIX, n, offset + RECORD_PREFIX);
  return { kind: "record", length: record.length, record };
}
async function sha256File(path) {
  const fh = await open3(path, "r");
  try {
    const hash = createHash5("sha256");
    const buf = Buffer.alloc(1 << 16);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return hash.digest("hex");
  } finally {
    await fh.close();
  }
}
async function* decryptChunks(path, h, dataKey, fromChunk) {
  let fh;
  try {
    fh = await open3(path, "r");
  } catch (e) {
    if (e.code === "ENOENT") throw tampered(h.id, "its audio file is missing");
    throw e;
  }
  try {
    const { size } = await fh.stat();
    let offset = 0;
    let index = 0;
    for (; ; ) {
      const step = await readRecordAt(fh, offset, size, index >= fromChunk);
      if (step.kind === "bad") throw tampered(h.id, step.reason);
      if (step.kind === "end") break;
      if (index >= h.chunks) throw tampered(h.id, `more than the ${h.chunks} chunks the header lists`);
      if (index >= fromChunk) {
        const chunk = openRecord(dataKey, index, step.record);
        if (!chunk) throw tampered(h.id, `chunk ${index} does not authenticate`);
        yield chunk;
      }
      offset += step.length;
      index++;
    }
    if (index !== h.chunks) throw tampered(h.id, `${index} chunks on disk, the header lists ${h.chunks}`);
  } finally {
    await fh.close();
  }
}

// src/archive/recover.ts
import { createHash as createHash6, randomBytes as randomBytes6 } from "node:crypto";
import { open as open4, readdir as readdir2, readFile as readFile4, rename as rename2, stat, unlink as unlink4 } from "node:fs/promises";
import { join as join4 } from "node:path";
var EXT = { header: HEADER_EXT, open: OPEN_EXT, audio: AUDIO_EXT };
async function scanArchive(c) {
  const out = { headers: [], recovered: 0, quarantined: 0 };
  for (const e of await readdir2(c.root, { withFileTypes: true })) {
    if (e.isFile() && isTempName(e.name)) {
      await unlink4(join4(c.root, e.name));
      c.log("archive: removed a temp file left by an interrupted write", { file: e.name });
    } else if (e.isDirectory() && MONTH_DIR.test(e.name)) {
      await scanMonth(c, join4(c.root, e.name), out);
    }
  }
  return out;
}
async function scanMonth(c, dir, out) {
  const calls = /* @__PURE__ */ new Map();
  let removed = false;
  for (const name of (await readdir2(dir)).sort()) {
    if (isTempName(name)) {
      await unlink4(join4(dir, name));
      c.log("archive: removed a temp file left by an interrupted write", { file: name });
      removed = true;
      continue;
    }
    const k = classify(name);
    if (!k || !SORTABLE_ID.test(k.id) || callPaths(c.root, k.id).dir !== dir) {
      await quarantine(c, dir, [name], "the file name is not one the archive writes");
      out.quarantined++;
      continue;
    }
    const kinds = calls.get(k.id) ?? /* @__PURE__ */ new Set();
    kinds.add(k.kind);
    calls.set(k.id, kinds);
  }
  for (const [id, kinds] of calls) {
    try {
      removed = await scanCall(c, id, kinds, out) || removed;
    } catch (e) {
      c.log("archive: could not check a kept call; left in place and not listed", { id, error: e.message });
    }
  }
  if (removed) await fsyncDir(dir);
}
async function scanCall(c, id, kinds, out) {
  const p = callPaths(c.root, id);
  const files = [...kinds].map((k) => id + EXT[k]);
  const reject = async (reason) => {
    await quarantine(c, p.dir, files, reason);
    out.quarantined++;
    return false;
  };
  if (kinds.has("header")) {
    const parsed = parseCallHeader(await readFile4(p.header, "utf8"), id);
    if (!parsed.ok) return reject(`malformed header: ${parsed.reason}`);
    if (isScrubbed(parsed.value.wrappedKey)) {
      for (const f of [p.audio, p.open, p.header]) await unlink4(f).catch(() => void 0);
      c.log("archive: finished a shred that a power cut interrupted", { id });
      return true;
    }
    if (kinds.has("open")) await retireOpenHeader(p.open);
    if (!kinds.has("audio")) return reject("its audio file is missing");
    out.headers.push(pickHeader(parsed.value));
    return kinds.has("open");
  }
  if (kinds.has("open")) {
    const parsed = parseOpenHeader(await readFile4(p.open, "utf8"), id);
    if (!parsed.ok) return reject(`malformed open header, so no durable wrapped key: ${parsed.reason}`);
    if (isScrubbed(parsed.value.wrappedKey)) return reject("the open header has no wrapped key");
    const header = await recoverOpenCall(c, p, parsed.value, kinds.has("audio"));
    out.headers.push(header);
    out.recovered++;
    c.log("archive: finished a kept call that a power cut left open", { id, chunks: header.chunks });
    return true;
  }
  if ((await stat(p.audio)).size === 0) {
    await unlink4(p.audio);
    c.log("archive: removed the empty audio file of a keep whose header never became durable", { id });
    return true;
  }
  return reject("audio without a header, so no wrapped key");
}
async function recoverOpenCall(c, p, o, hasAudio) {
  if (!hasAudio) await writeFileDurable(p.audio, new Uint8Array(0));
  const fh = await open4(p.audio, "r+");
  const tally = { chunks: 0, samples: 0 };
  const hash = createHash6("sha256");
  try {
    const { size } = await fh.stat();
    let offset = 0;
    let problem;
    for (; ; ) {
      const step = await readRecordAt(fh, offset, size);
      if (step.kind === "end") break;
      if (step.kind === "bad") {
        problem = step.reason;
        break;
      }
      const frames = framesOf(step.length - RECORD_PREFIX, o.channels);
      const at = step.record.readDoubleLE(4);
      if (!Number.isInteger(frames) || !isTime(at)) {
        problem = `impossible record at byte ${offset}`;
        break;
      }
      hash.update(step.record);
      tally.chunks++;
      tally.samples += frames;
      tally.lastEnd = at + msOf(frames);
      offset += step.length;
    }
    if (offset < size) {
      await fh.truncate(offset);
      await fh.datasync();
      c.log("archive: cut the torn end off a kept call", { id: o.id, bytes: size - offset, reason: problem });
    }
  } finally {
    await fh.close();
  }
  return finalizeCall(c.vault, p, o, { ...tally, audioSha256: hash.digest("hex") });
}
async function quarantine(c, dir, names2, reason) {
  const q = join4(c.root, QUARANTINE_DIR);
  await ensureDir(q);
  const moved = [];
  for (const name of names2) {
    let target = join4(q, name);
    if (await stat(target).then(() => true, () => false)) target += `.${randomBytes6(4).toString("hex")}`;
    await rename2(join4(dir, name), target);
    moved.push(target);
  }
  await fsyncDir(q);
  await fsyncDir(dir);
  c.log("archive: moved files to quarantine; they are not listed", { files: moved, reason });
}

// src/archive/writer.ts
import { createHash as createHash7 } from "node:crypto";
var CallWriter = class {
  constructor(c) {
    this.c = c;
  }
  c;
  tail = Promise.resolve();
  size = 0;
  chunks = 0;
  samples = 0;
  lastEnd;
  hash = createHash7("sha256");
  /** a failed write may have left bytes past `size`; finish() cuts them off */
  torn = false;
  finishing;
  get id() {
    return this.c.open.id;
  }
  /** Appends may be issued without awaiting; the chain keeps them in call order. */
  enqueue(fn) {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => void 0);
    return p;
  }
  finishedError() {
    return new RvError("RV_ERR_CALL_FINISHED", `Kept call ${this.id} is already finished; start a new keep for more audio.`, 409);
  }
  append(chunk) {
    if (this.finishing) return Promise.reject(this.finishedError());
    const frameBytes = BYTES_PER_SAMPLE * this.c.open.channels;
    const pcm = chunk?.pcm;
    if (!isTime(chunk?.at) || !(pcm instanceof Uint8Array) || pcm.length === 0 || pcm.length > MAX_CHUNK_PCM || pcm.length % frameBytes !== 0) {
      return Promise.reject(new RvError("RV_ERR_BAD_CHUNK", `A chunk for kept call ${this.id} must have a time and 1 to ${MAX_CHUNK_PCM} bytes of ${this.c.open.channels}-channel 16-bit PCM.`, 500));
    }
    const copy = Buffer.from(pcm);
    return this.enqueue(() => this.write(chunk.at, copy));
  }
  async write(at, pcm) {
    const rec = sealRecord(this.c.dataKey, this.chunks, at, pcm);
    pcm.fill(0);
    try {
      await this.c.fh.write(rec, 0, rec.length, this.size);
      await this.c.fh.datasync();
    } catch (e) {
      this.torn = true;
      throw new RvError("RV_ERR_ARCHIVE_WRITE", `Could not store a chunk of kept call ${this.id} (${e.message}); check the disk for space and errors.`, 500);
    }
    const frames = pcm.length / (BYTES_PER_SAMPLE * this.c.open.channels);
    this.size += rec.length;
    this.chunks++;
    this.samples += frames;
    this.hash.update(rec);
    this.lastEnd = at + msOf(frames);
  }
  setMeta(meta) {
    if (this.finishing) return Promise.reject(this.finishedError());
    return this.enqueue(async () => {
      this.c.open.metaSealed = sealMeta(meta, this.c.dataKey);
      await writeFileDurable(this.c.paths.open, headerJson(this.c.open));
    });
  }
  /** Idempotent: a second call returns the first one's result. */
  finish(endedAt) {
    if (this.finishing) return this.finishing;
    if (endedAt !== void 0 && !isTime(endedAt)) {
      return Promise.reject(new RvError("RV_ERR_BAD_CHUNK", `The end time ${endedAt} of kept call ${this.id} is not a valid time.`, 500));
    }
    this.finishing = this.enqueue(async () => {
      try {
        if (this.torn) {
          await this.c.fh.truncate(this.size);
          await this.c.fh.datasync();
        }
        await this.c.fh.close();
        const header = await finalizeCall(
          this.c.vault,
          this.c.paths,
          this.c.open,
          { chunks: this.chunks, samples: this.samples, lastEnd: this.lastEnd, audioSha256: this.hash.digest("hex") },
          endedAt
        );
        this.c.onDone(header);
        return header;
      } catch (e) {
        await this.c.fh.close().catch(() => void 0);
        this.c.onDone(void 0);
        throw e;
      } finally {
        this.c.dataKey.fill(0);
      }
    });
    return this.finishing;
  }
};

// src/archive/archive.ts
var isEnoent2 = (e) => e.code === "ENOENT";
var isStringList = (x, max) => Array.isArray(x) && x.length <= 32 && x.every((s) => typeof s === "string" && s.length > 0 && s.length <= max);
var isMeta = (x) => typeof x === "object" && x !== null && !Array.isArray(x);
var badCall = (what) => new RvError("RV_ERR_BAD_CALL", `Cannot keep the call: ${what}.`, 400);
var freeze = (h) => {
  const c = pickHeader(h);
  Object.freeze(c.purposes);
  Object.freeze(c.holds);
  return Object.freeze(c);
};
function checkBegin(init) {
  if (typeof init.line !== "string" || init.line.length === 0 || init.line.length > 128) throw badCall("the line id must be 1 to 128 characters");
  if (!isTime(init.startedAt)) throw badCall(`the start time ${init.startedAt} is not a valid time`);
  if (init.channels !== 1 && init.channels !== 2) throw badCall("channels must be 1 or 2");
  if (!isMeta(init.meta)) throw badCall("meta must be an object");
  if (!isStringList(init.purposes, 64)) throw badCall("purposes must be a list of at most 32 names");
  if (!KEPT_BY.includes(init.keptBy)) throw badCall(`keptBy must be one of ${KEPT_BY.join(", ")}`);
  if (typeof init.clockSynced !== "boolean") throw badCall("clockSynced must be true or false");
  if (init.id !== void 0 && !SORTABLE_ID.test(init.id)) throw badCall(`the id "${init.id}" is not of the form yyyyMMddTHHmmss-<hex>`);
}
var newestFirst = (a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : -1);
var Archive = class {
  constructor(opts) {
    this.opts = opts;
    this.log = opts.log ?? (() => void 0);
  }
  opts;
  catalog = /* @__PURE__ */ new Map();
  live = /* @__PURE__ */ new Set();
  log;
  epoch;
  opened = false;
  /** header rewrites and shreds run one at a time */
  tail = Promise.resolve();
  serial(fn) {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => void 0);
    return p;
  }
  async open() {
    if (this.opened) throw new RvError("RV_ERR_ARCHIVE_OPEN", "The archive is already open; use the running instance.", 500);
    await ensureDir(this.opts.dir);
    const scan = await scanArchive({ root: this.opts.dir, vault: this.opts.vault, log: this.log });
    for (const h of scan.headers) this.catalog.set(h.id, freeze(h));
    this.opened = true;
    if (await this.opts.vault.isInitialized().catch(() => false)) {
      await this.currentEpoch().catch((e) => this.log("archive: could not start a key epoch; will retry at the first keep", { error: e.message }));
    }
    return { calls: this.catalog.size, recovered: scan.recovered, quarantined: scan.quarantined };
  }
  /** One epoch per run: every call kept in this run wraps its data key under the same shared key. */
  currentEpoch() {
    if (!this.epoch) {
      const p = this.opts.vault.newEpoch();
      this.epoch = p;
      p.catch(() => {
        if (this.epoch === p) this.epoch = void 0;
      });
    }
    return this.epoch;
  }
  requireOpen() {
    if (!this.opened) throw new RvError("RV_ERR_ARCHIVE_CLOSED", "The archive is not open yet; wait for the box to finish starting.", 503);
  }
  /** Resolves once the open header (with the wrapped data key) and the empty audio file are durable. */
  async beginCall(init) {
    this.requireOpen();
    checkBegin(init);
    const epoch = await this.currentEpoch();
    for (let attempt = 0; ; attempt++) {
      const id = init.id ?? newSortableId(init.startedAt);
      if (this.catalog.has(id) || this.live.has(id)) {
        if (init.id !== void 0) throw new RvError("RV_ERR_CALL_EXISTS", `There is already a kept call ${id}.`, 409);
        continue;
      }
      this.live.add(id);
      try {
        return await this.create(id, init, epoch);
      } catch (e) {
        this.live.delete(id);
        const exists = e.code === "EEXIST";
        if (exists && init.id === void 0 && attempt < 5) continue;
        if (exists) throw new RvError("RV_ERR_CALL_EXISTS", `There are already files for kept call ${id}.`, 409);
        throw e;
      }
    }
  }
  async create(id, init, epoch) {
    const paths = callPaths(this.opts.dir, id);
    await ensureDir(paths.dir);
    const dataKey = new Uint8Array(randomBytes7(DATA_KEY_BYTES));
    const open6 = {
      v: 1,
      id,
      line: init.line,
      startedAt: init.startedAt,
      channels: init.channels,
      sampleRate: SAMPLE_RATE,
      purposes: [...init.purposes],
      keptBy: init.keptBy,
      keptAt: Date.now(),
      clockSynced: init.clockSynced,
      holds: [],
      restricted: false,
      epoch: epoch.id,
      ...wrapDataKey(dataKey, epoch.sharedKey),
      metaSealed: sealMeta(init.meta, dataKey)
    };
    const fh = await openFile(paths.audio, "wx", 384).catch((e) => {
      dataKey.fill(0);
      throw e;
    });
    try {
      await writeFileDurable(paths.open, headerJson(open6));
    } catch (e) {
      await fh.close().catch(() => void 0);
      await unlink5(paths.audio).catch(() => void 0);
      dataKey.fill(0);
      throw e;
    }
    return new CallWriter({
      vault: this.opts.vault,
      paths,
      open: open6,
      dataKey,
      fh,
      onDone: (h) => {
        this.live.delete(id);
        if (h) this.catalog.set(id, freeze(h));
      }
    });
  }
  /** Finished calls, in no particular order, without copying or sorting the index. */
  headers() {
    return this.catalog.values();
  }
  /** Finished calls only, newest first. */
  list() {
    return [...this.catalog.values()].sort(newestFirst);
  }
  get(id) {
    return this.catalog.get(id);
  }
  mustGet(id) {
    const h = this.catalog.get(id);
    if (!h) throw new RvError("RV_ERR_NO_SUCH_CALL", `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    return h;
  }
  async dataKey(h) {
    return unwrapDataKey(h, await this.opts.vault.epochKey(h.epoch));
  }
  async meta(id) {
    const h = this.mustGet(id);
    const key = await this.dataKey(h);
    try {
      return openMeta(id, h.metaSealed, key);
    } finally {
      key.fill(0);
    }
  }
  async *readPcm(id, fromChunk = 0) {
    const h = this.mustGet(id);
    if (!Number.isInteger(fromChunk) || fromChunk < 0) throw new RvError("RV_ERR_BAD_RANGE", `Chunk ${fromChunk} is not a chunk number.`, 416);
    const key = await this.dataKey(h);
    try {
      yield* decryptChunks(callPaths(this.opts.dir, id).audio, h, key, fromChunk);
    } finally {
      key.fill(0);
    }
  }
  /** Checks the header signature and the audio file hash against the files on disk; needs no unlock. */
  async verify(id) {
    const known = this.mustGet(id);
    const p = callPaths(this.opts.dir, id);
    let text4;
    try {
      text4 = await readFile5(p.header, "utf8");
    } catch (e) {
      if (isEnoent2(e)) return { ok: false, reason: "the header file is missing" };
      throw e;
    }
    const parsed = parseCallHeader(text4, id);
    if (!parsed.ok) return { ok: false, reason: `the header is malformed: ${parsed.reason}` };
    const { signature, ...body } = parsed.value;
    const digest2 = headerDigest(body);
    if (!await this.opts.vault.verify(digest2, Buffer.from(signature, "base64"))) return { ok: false, reason: "the header signature does not match" };
    if (!Buffer.from(digest2).equals(Buffer.from(headerDigest(known)))) return { ok: false, reason: "the header on disk differs from the one loaded at start" };
    let sha;
    try {
      sha = await sha256File(p.audio);
    } catch (e) {
      if (isEnoent2(e)) return { ok: false, reason: "the audio file is missing" };
      throw e;
    }
    if (sha !== parsed.value.audioSha256) return { ok: false, reason: "the audio file does not match its signed hash" };
    return { ok: true };
  }
  /** Rewrites the header durably and signs it again; a new `meta` needs the vault unlocked. */
  updateHeader(id, patch) {
    return this.serial(async () => {
      const h = this.mustGet(id);
      if (patch.purposes !== void 0 && !isStringList(patch.purposes, 64)) throw badCall("purposes must be a list of at most 32 names");
      if (patch.holds !== void 0 && !isStringList(patch.holds, 128)) throw badCall("holds must be a list of at most 32 names");
      if (patch.restricted !== void 0 && typeof patch.restricted !== "boolean") throw badCall("restricted must be true or false");
      if (patch.meta !== void 0 && !isMeta(patch.meta)) throw badCall("meta must be an object");
      let metaSealed = h.metaSealed;
      if (patch.meta !== void 0) {
        const key = await this.dataKey(h);
        try {
          metaSealed = sealMeta(patch.meta, key);
        } finally {
          key.fill(0);
        }
      }
      const { signature: _old, ...body } = pickHeader(h);
      const next = await signHeader(this.opts.vault, {
        ...body,
        purposes: [...patch.purposes ?? h.purposes],
        holds: [...patch.holds ?? h.holds],
        restricted: patch.restricted ?? h.restricted,
        metaSealed
      });
      await writeFileDurable(callPaths(this.opts.dir, id).header, headerJson(next));
      const frozen = freeze(next);
      this.catalog.set(id, frozen);
      return frozen;
    });
  }
  /** Destroys a call: its wrapped key is overwritten in place first, so the audio and metadata can never be opened again. */
  shred(id) {
    return this.serial(async () => {
      const h = this.mustGet(id);
      if (h.holds.length > 0) throw new RvError("RV_ERR_ON_HOLD", `Kept call ${id} is under legal hold; release the hold before deleting it.`, 409);
      const p = callPaths(this.opts.dir, id);
      await scrubWrappedKey(p.header);
      this.catalog.delete(id);
      await unlink5(p.audio).catch((e) => {
        if (!isEnoent2(e)) throw e;
      });
      await unlink5(p.header);
      await fsyncDir(p.dir);
    });
  }
};

// src/ring/ring.ts
import fs from "node:fs";
import fsp from "node:fs/promises";
import { randomBytes as randomBytes8 } from "node:crypto";
import nacl6 from "tweetnacl";

// src/ring/layout.ts
import { createHash as createHash8 } from "node:crypto";
import nacl5 from "tweetnacl";
var MAGIC = Buffer.from("RVR1", "latin1");
var MAX_PCM_BYTES = SAMPLE_RATE * 2 * BYTES_PER_SAMPLE;
var MAX_CALL_ID_BYTES = 1024;
var NONCE_BYTES = nacl5.secretbox.nonceLength;
var KEY_BYTES = nacl5.secretbox.keyLength;
var MAC_BYTES = nacl5.secretbox.overheadLength;
var HEADER_BYTES = 80;
var PLAIN_BYTES = HEADER_BYTES + MAX_PCM_BYTES;
var SLOT_BYTES = NONCE_BYTES + MAC_BYTES + PLAIN_BYTES;
var callHashOf = (callId) => createHash8("sha256").update(callId, "utf8").digest();
function encodePlain(r) {
  const p = Buffer.alloc(PLAIN_BYTES);
  MAGIC.copy(p, 0);
  p.writeUInt32LE(r.slot, 4);
  r.generation.copy(p, 8, 0, 8);
  p.writeBigUInt64LE(r.serial, 16);
  p.writeUInt32LE(r.seq, 24);
  p.writeUInt8(r.channels, 28);
  p.writeDoubleLE(r.at, 32);
  p.writeUInt32LE(r.frames, 40);
  r.callHash.copy(p, 44, 0, 32);
  r.pcm.copy(p, HEADER_BYTES);
  return p;
}
function decodePlain(p) {
  if (p.length !== PLAIN_BYTES) return `plaintext is ${p.length} bytes, expected ${PLAIN_BYTES}`;
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (!b.subarray(0, 4).equals(MAGIC)) return "bad magic";
  const channels = b.readUInt8(28);
  if (channels !== 1 && channels !== 2) return `bad channel count ${channels}`;
  const frames = b.readUInt32LE(40);
  const pcmBytes = frames * channels * BYTES_PER_SAMPLE;
  if (pcmBytes > MAX_PCM_BYTES) return `bad sample count ${frames}`;
  return {
    slot: b.readUInt32LE(4),
    generation: Buffer.from(b.subarray(8, 16)),
    serial: b.readBigUInt64LE(16),
    seq: b.readUInt32LE(24),
    channels,
    at: b.readDoubleLE(32),
    frames,
    callHash: Buffer.from(b.subarray(44, 76)),
    pcm: Buffer.from(b.subarray(HEADER_BYTES, HEADER_BYTES + pcmBytes))
  };
}

// src/ring/ring.ts
var PREALLOC_BLOCK = 4 * 1024 * 1024;
var MAX_SLOTS = 4294967295;
var MAX_SEQ = 4294967295;
var slotsForMinutes = (minutes, lines) => {
  if (!Number.isFinite(minutes) || minutes <= 0) {
    throw new RvError("RV_ERR_RING_CONFIG", `The ring length must be a positive number of minutes, got ${minutes}; set ring minutes to e.g. 5.`);
  }
  if (!Number.isInteger(lines) || lines < 1) {
    throw new RvError("RV_ERR_RING_CONFIG", `The number of lines must be a whole number of at least 1, got ${lines}; check the configured lines.`);
  }
  return Math.ceil(minutes * 60 * lines);
};
var Ring = class _Ring {
  slotCount;
  slotBytes = SLOT_BYTES;
  path;
  fd;
  key;
  /** random per open(), inside every plaintext, so slots from another open never verify */
  generation;
  log;
  /** call id owning each slot, or null when free */
  owner;
  /** write serial each slot is expected to carry; catches a stale copy of the same slot put back */
  serialOf;
  /** call id → its slots in write order */
  index = /* @__PURE__ */ new Map();
  pinned = /* @__PURE__ */ new Set();
  pinnedSlots = 0;
  usedSlots = 0;
  cursor = 0;
  serial = 0;
  constructor(opts, fd) {
    this.path = opts.path;
    this.slotCount = opts.slots;
    this.fd = fd;
    this.log = opts.log ?? (() => {
    });
    this.key = new Uint8Array(randomBytes8(KEY_BYTES));
    this.generation = randomBytes8(8);
    this.owner = new Array(opts.slots).fill(null);
    this.serialOf = new Array(opts.slots).fill(0);
  }
  static async open(opts) {
    const { path, slots } = opts;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new RvError("RV_ERR_RING_CONFIG", `The ring needs a whole number of slots between 1 and ${MAX_SLOTS}, got ${slots}; use slotsForMinutes() to size it.`);
    }
    const want = slots * SLOT_BYTES;
    const log = opts.log ?? (() => {
    });
    let size = null;
    try {
      const st = await fsp.stat(path);
      if (!st.isFile()) {
        throw new RvError("RV_ERR_RING_OPEN", `The ring path ${path} exists but is not a regular file; point the ring at a file path or remove what is there.`, 500);
      }
      size = st.size;
    } catch (e) {
      if (e instanceof RvError) throw e;
      if (e.code !== "ENOENT") throw openError(path, want, e);
    }
    if (size !== want) {
      log(size === null ? "ring: creating ring file" : "ring: ring file has the wrong size, recreating it", { path, slots, bytes: want, found: size });
      try {
        await preallocate(path, want);
      } catch (e) {
        throw openError(path, want, e);
      }
    }
    let fd;
    try {
      fd = fs.openSync(path, "r+");
    } catch (e) {
      throw openError(path, want, e);
    }
    const actual = fs.fstatSync(fd).size;
    if (actual !== want) {
      fs.closeSync(fd);
      throw new RvError("RV_ERR_RING_PREALLOC", `The ring file ${path} is ${actual} bytes after preallocation, expected ${want}; check free space and that nothing else writes to it.`, 500);
    }
    log("ring: open", { path, slots, slotBytes: SLOT_BYTES, bytes: want });
    return new _Ring(opts, fd);
  }
  write(callId, chunk) {
    const fd = this.openFd();
    const frames = validateChunk(callId, chunk);
    if (this.pinnedSlots >= this.slotCount) {
      throw new RvError("RV_ERR_RING_FULL", `Every one of the ${this.slotCount} ring slots belongs to a kept call that is still pinned; finish or unpin a kept call, or give the ring more slots.`, 507);
    }
    let slot = this.cursor;
    while (this.isPinnedSlot(slot)) slot = (slot + 1) % this.slotCount;
    this.cursor = (slot + 1) % this.slotCount;
    this.release(slot);
    const serial = ++this.serial;
    const plain = encodePlain({
      slot,
      generation: this.generation,
      serial: BigInt(serial),
      callHash: callHashOf(callId),
      seq: chunk.seq,
      at: chunk.at,
      channels: chunk.channels,
      frames,
      pcm: chunk.pcm
    });
    const nonce = randomBytes8(NONCE_BYTES);
    const box = nacl6.secretbox(plain, nonce, this.key);
    plain.fill(0);
    try {
      const n = fs.writevSync(fd, [nonce, box], slot * SLOT_BYTES);
      if (n !== SLOT_BYTES) throw new Error(`short write: ${n} of ${SLOT_BYTES} bytes`);
    } catch (e) {
      throw new RvError("RV_ERR_RING_IO", `Writing ring slot ${slot} of ${this.path} failed (${errText(e)}); check the disk holding the ring.`, 500);
    }
    this.owner[slot] = callId;
    this.serialOf[slot] = serial;
    this.usedSlots++;
    const list = this.index.get(callId);
    if (list) list.push(slot);
    else this.index.set(callId, [slot]);
    if (this.pinned.has(callId)) this.pinnedSlots++;
  }
  read(callId) {
    const fd = this.openFd();
    const slots = this.index.get(callId);
    if (!slots) return [];
    const out = [];
    const callHash = callHashOf(callId);
    const buf = Buffer.alloc(SLOT_BYTES);
    for (const slot of slots) {
      let n;
      try {
        n = fs.readSync(fd, buf, 0, SLOT_BYTES, slot * SLOT_BYTES);
      } catch (e) {
        throw new RvError("RV_ERR_RING_IO", `Reading ring slot ${slot} of ${this.path} failed (${errText(e)}); check the disk holding the ring.`, 500);
      }
      if (n !== SLOT_BYTES) throw tampered2(slot, this.path, `the file ends early (${n} of ${SLOT_BYTES} bytes)`);
      const plain = nacl6.secretbox.open(buf.subarray(NONCE_BYTES), buf.subarray(0, NONCE_BYTES), this.key);
      if (!plain) throw tampered2(slot, this.path, "it failed to authenticate");
      const rec = decodePlain(plain);
      plain.fill(0);
      if (typeof rec === "string") throw tampered2(slot, this.path, rec);
      if (rec.slot !== slot) throw tampered2(slot, this.path, `it is out of place: it holds the data of slot ${rec.slot}`);
      if (!rec.generation.equals(this.generation) || rec.serial !== BigInt(this.serialOf[slot]) || !rec.callHash.equals(callHash)) {
        throw tampered2(slot, this.path, "it is out of place: it holds an older or different chunk than the one written last");
      }
      out.push({ serial: this.serialOf[slot], chunk: { seq: rec.seq, at: rec.at, channels: rec.channels, pcm: rec.pcm } });
    }
    buf.fill(0);
    out.sort((a, b) => a.chunk.seq - b.chunk.seq || a.serial - b.serial);
    return out.map((o) => o.chunk);
  }
  has(callId) {
    this.openFd();
    return this.index.has(callId);
  }
  /** Keeps the call's slots (and any it writes later) from being overwritten until unpin() or forget(). */
  pin(callId) {
    this.openFd();
    if (this.pinned.has(callId)) return;
    this.pinned.add(callId);
    this.pinnedSlots += this.index.get(callId)?.length ?? 0;
  }
  unpin(callId) {
    this.openFd();
    if (!this.pinned.delete(callId)) return;
    this.pinnedSlots -= this.index.get(callId)?.length ?? 0;
  }
  /** Makes the call unreadable at once: its slots get fresh random bytes and it leaves the index (and the pin set). */
  forget(callId) {
    const fd = this.openFd();
    const slots = [...this.index.get(callId) ?? []];
    this.unpin(callId);
    for (const slot of slots) {
      this.release(slot);
      try {
        fs.writeSync(fd, randomBytes8(SLOT_BYTES), 0, SLOT_BYTES, slot * SLOT_BYTES);
      } catch (e) {
        throw new RvError("RV_ERR_RING_IO", `Overwriting ring slot ${slot} of ${this.path} failed (${errText(e)}); the key is still memory-only, but check the disk holding the ring.`, 500);
      }
    }
    this.index.delete(callId);
    if (slots.length) this.log("ring: call forgotten", { slots: slots.length });
  }
  /**
   * Seconds of audio each line can get back when `activeLines` lines are in calls at once: one
   * second per slot that is free to rotate (pinned slots are excluded), shared evenly across lines.
   */
  coverageSeconds(activeLines) {
    if (!Number.isInteger(activeLines) || activeLines < 1) {
      throw new RvError("RV_ERR_RING_CONFIG", `The number of active lines must be a whole number of at least 1, got ${activeLines}.`);
    }
    return (this.slotCount - this.pinnedSlots) / activeLines;
  }
  stats() {
    return { used: this.usedSlots, pinned: this.pinnedSlots, calls: this.index.size };
  }
  /**
   * Diagnostic: how many slots on disk authenticate under this open's key. Reads the whole file,
   * so it is meant for health checks and tests; right after open() it is 0 whatever the file held.
   */
  readableSlots() {
    const fd = this.openFd();
    const buf = Buffer.alloc(SLOT_BYTES);
    let ok = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const n = fs.readSync(fd, buf, 0, SLOT_BYTES, slot * SLOT_BYTES);
      if (n !== SLOT_BYTES) continue;
      const plain = nacl6.secretbox.open(buf.subarray(NONCE_BYTES), buf.subarray(0, NONCE_BYTES), this.key);
      if (plain) {
        ok++;
        plain.fill(0);
      }
    }
    buf.fill(0);
    return ok;
  }
  /** Zeroes the key (leaving every unkept slot unreadable) and closes the file. Safe to call twice. */
  async close() {
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    this.key.fill(0);
    this.generation.fill(0);
    this.index.clear();
    this.pinned.clear();
    this.owner.fill(null);
    this.pinnedSlots = 0;
    this.usedSlots = 0;
    await new Promise((resolve3, reject) => fs.close(fd, (e) => e ? reject(e) : resolve3()));
    this.log("ring: closed", { path: this.path });
  }
  openFd() {
    if (this.fd === null) {
      throw new RvError("RV_ERR_RING_CLOSED", "The ring has been closed; open it again with Ring.open() (earlier audio in it is gone for good).", 503);
    }
    return this.fd;
  }
  isPinnedSlot(slot) {
    const o = this.owner[slot];
    return o !== null && this.pinned.has(o);
  }
  /** Frees a slot in memory and drops it from its call's index entry. */
  release(slot) {
    const prev = this.owner[slot];
    if (prev === null) return;
    this.owner[slot] = null;
    this.usedSlots--;
    if (this.pinned.has(prev)) this.pinnedSlots--;
    const list = this.index.get(prev);
    if (!list) return;
    const i = list.indexOf(slot);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.index.delete(prev);
  }
};
function validateChunk(callId, chunk) {
  const bad6 = (why) => new RvError("RV_ERR_RING_CHUNK", `Cannot put this chunk in the ring: ${why}.`);
  if (typeof callId !== "string" || callId.length === 0) throw bad6("the call id is empty");
  if (Buffer.byteLength(callId, "utf8") > MAX_CALL_ID_BYTES) throw bad6(`the call id is longer than ${MAX_CALL_ID_BYTES} bytes; use a shorter call reference`);
  if (!Number.isInteger(chunk.seq) || chunk.seq < 0 || chunk.seq > MAX_SEQ) throw bad6(`seq must be a whole number from 0 to ${MAX_SEQ}, got ${chunk.seq}`);
  if (!Number.isFinite(chunk.at)) throw bad6(`at must be a time in ms, got ${chunk.at}`);
  if (chunk.channels !== 1 && chunk.channels !== 2) throw bad6(`channels must be 1 or 2, got ${String(chunk.channels)}`);
  if (!(chunk.pcm instanceof Uint8Array)) throw bad6("pcm must be a Buffer");
  if (chunk.pcm.length > MAX_PCM_BYTES) throw bad6(`pcm is ${chunk.pcm.length} bytes, at most ${MAX_PCM_BYTES} (1 s of stereo) fit in a slot; split it`);
  const frameBytes = chunk.channels * BYTES_PER_SAMPLE;
  if (chunk.pcm.length % frameBytes !== 0) throw bad6(`pcm is ${chunk.pcm.length} bytes, not a whole number of ${chunk.channels}-channel 16-bit frames`);
  return chunk.pcm.length / frameBytes;
}
async function preallocate(path, bytes) {
  const fh = await fsp.open(path, "w", 384);
  try {
    const zero = Buffer.alloc(Math.min(bytes, PREALLOC_BLOCK));
    for (let pos = 0; pos < bytes; ) {
      const { bytesWritten } = await fh.write(zero, 0, Math.min(zero.length, bytes - pos), pos);
      pos += bytesWritten;
    }
  } finally {
    await fh.close();
  }
}
function tampered2(slot, path, why) {
  return new RvError(
    "RV_ERR_RING_TAMPERED",
    `Ring slot ${slot} cannot be trusted: ${why}. The ring file ${path} was changed outside ringvault or the disk is failing; check the disk and who can write to that file.`,
    500
  );
}
function openError(path, bytes, e) {
  const mb = Math.ceil(bytes / 1e6);
  return new RvError("RV_ERR_RING_OPEN", `Cannot prepare the ring file ${path} (${errText(e)}); make sure its folder exists, is writable by ringvault and has ${mb} MB free.`, 500);
}
function errText(e) {
  const err = e;
  return err?.code ?? err?.message ?? String(e);
}

// src/calls/recorder.ts
import { EventEmitter } from "node:events";
import { randomBytes as randomBytes9 } from "node:crypto";

// src/policy/keep.ts
import { randomInt } from "node:crypto";
function normalizeNumber(n) {
  const digits = n.replace(/[\s\-().]/g, "");
  if (digits.startsWith("+")) return digits;
  if (digits.startsWith("00")) return "+" + digits.slice(2);
  if (digits.startsWith("0")) return "+31" + digits.slice(1);
  return digits;
}
function isExcluded(parties, exclusions) {
  if (exclusions.length === 0) return false;
  const set = new Set(exclusions.map(normalizeNumber));
  return [parties.caller, parties.called].some((n) => n !== void 0 && /\d{3}/.test(n) && set.has(normalizeNumber(n)));
}
function decideAtStart(line, parties, exclusions, draw = randomInt) {
  if (line.keep === "never") return { buffer: false, keep: null, reason: "never" };
  if (isExcluded(parties, exclusions)) return { buffer: false, keep: null, reason: "excluded" };
  if (line.keep === "all") return { buffer: true, keep: "all", reason: "line keeps every call" };
  if (line.keep === "sample") {
    const hit = draw(line.sampleN) === 0;
    return { buffer: true, keep: hit ? "sample" : null, reason: hit ? `drawn 1 in ${line.sampleN}` : "not drawn" };
  }
  return { buffer: true, keep: null, reason: "kept only on demand" };
}
function resolvePurposes(line, asked) {
  const chosen = asked && asked.length > 0 ? asked : line.keepPurposes;
  const bad6 = chosen.filter((p) => !line.announced.includes(p));
  if (bad6.length > 0) {
    throw new RvError("RV_ERR_PURPOSE_NOT_ANNOUNCED", `Line ${line.id} does not announce ${bad6.join(", ")} to callers, so a call on it cannot be kept for that. Announced: ${line.announced.join(", ") || "none"}.`, 422);
  }
  if (chosen.length === 0) throw new RvError("RV_ERR_NO_PURPOSE", `A kept call needs a purpose; line ${line.id} has no default purpose set. Pick one in the settings.`, 422);
  return [...new Set(chosen)];
}

// src/calls/chunker.ts
var Chunker = class {
  constructor(channels, emit) {
    this.channels = channels;
    this.emit = emit;
    this.buf = new Int16Array(SAMPLE_RATE * channels);
  }
  channels;
  emit;
  buf;
  fill = 0;
  at = 0;
  seq = 0;
  push(block) {
    const src = block.pcm;
    let off = 0;
    while (off < src.length) {
      if (this.fill === 0) this.at = block.at + off / this.channels * 1e3 / SAMPLE_RATE;
      const n = Math.min(this.buf.length - this.fill, src.length - off);
      this.buf.set(src.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === this.buf.length) this.flush();
    }
  }
  /** Emits what is gathered so far (the last, short chunk of a call). */
  flush() {
    if (this.fill === 0) return;
    const pcm = Buffer.from(this.buf.buffer, 0, this.fill * 2);
    this.emit({ seq: this.seq++, at: Math.round(this.at), channels: this.channels, pcm: Buffer.from(pcm) });
    this.fill = 0;
  }
};

// src/calls/recorder.ts
var TOO_SHORT = "too-short";
var Recorder = class extends EventEmitter {
  constructor(d) {
    super();
    this.d = d;
  }
  d;
  live = /* @__PURE__ */ new Map();
  ended = /* @__PURE__ */ new Map();
  faults = /* @__PURE__ */ new Map();
  inflight = /* @__PURE__ */ new Set();
  attach(source) {
    source.on("call-start", (e) => this.onStart(e.line, e.ref, e.at, e.channels, e.parties));
    source.on("call-audio", (e) => {
      const call = this.live.get(e.line);
      if (call?.ref === e.ref && call.buffered && !call.private) call.chunker.push(e.block);
    });
    source.on("call-info", (e) => this.onInfo(e.line, e.ref, e.parties));
    source.on("call-end", (e) => this.onEnd(e.line, e.ref, e.at, e.reason));
    source.on("fault", (e) => {
      this.faults.set(e.line, e.message);
      this.d.log.warn({ line: e.line, code: e.code }, e.message);
      this.emit("change");
    });
    source.on("recovered", (e) => {
      this.faults.delete(e.line);
      this.d.log.info({ line: e.line }, "line recovered");
      this.emit("change");
    });
  }
  lineConfig(id) {
    const l = this.d.lines().find((x) => x.id === id);
    if (!l) throw new RvError("RV_ERR_UNKNOWN_LINE", `There is no line "${id}"; the configured lines are ${this.d.lines().map((x) => x.id).join(", ")}.`, 404);
    return l;
  }
  onStart(line, ref, at, channels, parties) {
    const prev = this.live.get(line);
    if (prev) this.onEnd(line, prev.ref, at, "superseded");
    const cfg = this.lineConfig(line);
    const decision = decideAtStart(cfg, parties, this.d.exclusions(), this.d.draw);
    const call = {
      ref,
      line,
      ringId: `${line}.${ref}.${randomBytes9(4).toString("hex")}`,
      startedAt: at,
      channels,
      parties: { ...parties },
      buffered: decision.buffer,
      private: false,
      lastAppend: Promise.resolve(),
      chunker: new Chunker(channels, (c) => this.onChunk(call, c))
    };
    this.live.set(line, call);
    this.d.log.info({ line, ref, buffered: decision.buffer }, `call started: ${decision.reason}`);
    if (decision.keep) this.track(this.startKeeping(call, decision.keep, resolvePurposes(cfg)), "could not keep call");
    this.emit("change");
  }
  onChunk(call, chunk) {
    if (call.private) return;
    if (call.writer) {
      const w = call.writer;
      call.lastAppend = call.lastAppend.then(() => w.append({ at: chunk.at, pcm: chunk.pcm })).catch((e) => this.d.log.error({ err: e, line: call.line }, "archive append failed"));
      return;
    }
    try {
      this.d.ring.write(call.ringId, chunk);
    } catch (e) {
      this.d.log.error({ err: e, line: call.line }, "ring write failed; this second of audio is lost");
    }
  }
  onInfo(line, ref, parties) {
    const call = this.live.get(line);
    if (!call || call.ref !== ref) return;
    Object.assign(call.parties, parties);
    if (isExcluded(call.parties, this.d.exclusions())) {
      this.track(this.wipe(call, "number on the exclusion list"), "could not wipe an excluded call");
      return;
    }
    if (call.writer) this.track(call.writer.setMeta(this.metaOf(call.parties)), "could not update call metadata");
  }
  onEnd(line, ref, at, reason) {
    const call = this.live.get(line);
    if (!call || call.ref !== ref) return;
    call.chunker.flush();
    call.endedAt = at;
    this.live.delete(line);
    this.d.log.info({ line, ref, reason }, "call ended");
    if (reason === TOO_SHORT && (!call.keeping || call.keptBy === "all" || call.keptBy === "sample")) {
      this.track(this.wipe(call, "shorter than the minimum call length"), "could not wipe a too-short call");
      this.emit("change");
      return;
    }
    if (call.keeping) {
      this.track(this.finishKept(call), "could not finish a kept call");
    } else if (call.buffered && !call.private && this.d.ring.has(call.ringId)) {
      const graceMs = this.d.graceSeconds() * 1e3;
      const old = this.ended.get(line);
      if (old) {
        clearTimeout(old.timer);
        this.d.ring.forget(old.ringId);
      }
      const timer = setTimeout(() => this.expireEnded(line, call.ringId), graceMs);
      this.ended.set(line, { ref, ringId: call.ringId, line, startedAt: call.startedAt, endedAt: at, channels: call.channels, parties: call.parties, savableUntil: at + graceMs, timer });
    }
    this.emit("change");
  }
  expireEnded(line, ringId) {
    const e = this.ended.get(line);
    if (!e || e.ringId !== ringId) return;
    this.ended.delete(line);
    this.d.ring.forget(ringId);
    this.emit("change");
  }
  metaOf(p) {
    return { direction: p.direction, caller: p.caller, called: p.called, extension: p.extension, digits: p.digits, ...p.siprecMetadata ? { siprecMetadata: p.siprecMetadata } : {} };
  }
  startKeeping(call, keptBy, purposes) {
    if (call.keeping) return call.keeping;
    call.keptBy = keptBy;
    this.d.ring.pin(call.ringId);
    call.keeping = (async () => {
      try {
        const writer = await this.d.archive.beginCall({
          line: call.line,
          startedAt: call.startedAt,
          channels: call.channels,
          meta: this.metaOf(call.parties),
          purposes,
          keptBy,
          clockSynced: this.d.clock.synced()
        });
        const earlier = this.readRing(call.ringId);
        call.writer = writer;
        for (const c of earlier) call.lastAppend = call.lastAppend.then(() => writer.append({ at: c.at, pcm: c.pcm }));
        await call.lastAppend;
        this.d.ring.unpin(call.ringId);
        this.d.ring.forget(call.ringId);
        this.emit("kept", { line: call.line, callId: writer.id, keptBy });
        this.emit("change");
        return writer;
      } catch (e) {
        this.d.ring.unpin(call.ringId);
        call.keeping = void 0;
        call.keptBy = void 0;
        call.writer = void 0;
        throw e;
      }
    })();
    return call.keeping;
  }
  readRing(ringId) {
    if (!this.d.ring.has(ringId)) return [];
    try {
      return this.d.ring.read(ringId);
    } catch (e) {
      this.d.log.error({ err: e }, "ring slots failed to authenticate; keeping the call from the press on");
      return [];
    }
  }
  async finishKept(call) {
    const writer = await call.keeping;
    await call.lastAppend;
    if (call.private) return;
    const header = await writer.finish(call.endedAt);
    this.emit("archived", header, call.parties);
    this.emit("change");
  }
  /** Keep the live call on a line, or the one that ended within the grace period. Resolves once durable. */
  async save(lineId, opts) {
    const cfg = this.lineConfig(lineId);
    if (cfg.keep === "never") throw new RvError("RV_ERR_LINE_NEVER_KEEPS", `Line ${lineId} is set to never keep calls; change its keep policy in the settings first.`, 409);
    const purposes = resolvePurposes(cfg, opts.purposes);
    const call = this.live.get(lineId);
    if (call?.private) throw new RvError("RV_ERR_CALL_PRIVATE", "This call was marked private and wiped; it cannot be kept.", 409);
    if (call) {
      if (!call.buffered) throw new RvError("RV_ERR_EXCLUDED", "This call is with a number on the exclusion list (a private call) and is never recorded.", 409);
      const writer = await this.startKeeping(call, opts.keptBy, purposes);
      return { callId: writer.id };
    }
    const e = this.ended.get(lineId);
    if (e && this.d.clock.now() <= e.savableUntil && this.d.ring.has(e.ringId)) {
      clearTimeout(e.timer);
      this.ended.delete(lineId);
      this.d.ring.pin(e.ringId);
      try {
        const writer = await this.d.archive.beginCall({ line: lineId, startedAt: e.startedAt, channels: e.channels, meta: this.metaOf(e.parties), purposes, keptBy: opts.keptBy, clockSynced: this.d.clock.synced() });
        for (const c of this.readRing(e.ringId)) await writer.append({ at: c.at, pcm: c.pcm });
        const header = await writer.finish(e.endedAt);
        this.emit("kept", { line: lineId, callId: writer.id, keptBy: opts.keptBy });
        this.emit("archived", header, e.parties);
        return { callId: writer.id };
      } finally {
        this.d.ring.unpin(e.ringId);
        this.d.ring.forget(e.ringId);
        this.emit("change");
      }
    }
    throw new RvError("RV_ERR_NOTHING_TO_SAVE", `There is no call on line ${lineId} to keep: none is live and none ended in the last ${this.d.graceSeconds()} seconds.`, 409);
  }
  /** "Private": wipe the live or just-ended call from the ring at once; it is never kept. */
  async private(lineId) {
    const cfg = this.lineConfig(lineId);
    const call = this.live.get(lineId);
    if (call && !call.private) {
      if (cfg.keep === "all") throw new RvError("RV_ERR_KEPT_BY_RULE", `Line ${lineId} keeps every call by rule (for example a legal obligation); a call on it cannot be made private.`, 409);
      await this.wipe(call, "marked private");
      return;
    }
    const e = this.ended.get(lineId);
    if (e) {
      clearTimeout(e.timer);
      this.ended.delete(lineId);
      this.d.ring.forget(e.ringId);
      this.emit("change");
      return;
    }
    throw new RvError("RV_ERR_NOTHING_TO_SAVE", `There is no live or just-ended call on line ${lineId} to make private.`, 409);
  }
  async wipe(call, why) {
    call.private = true;
    this.d.ring.forget(call.ringId);
    this.d.log.info({ line: call.line, ref: call.ref }, `call wiped: ${why}`);
    this.emit("change");
    if (!call.keeping) return;
    const writer = await call.keeping;
    await call.lastAppend;
    await writer.finish(call.endedAt ?? this.d.clock.now());
    await this.d.archive.shred(writer.id);
  }
  track(p, failure) {
    const q = p.catch((e) => this.d.log.error({ err: e }, failure)).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }
  /** Resolves when every keep, finish and wipe under way has landed on disk. */
  async settle() {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
  status() {
    return this.d.lines().map((l) => {
      const call = this.live.get(l.id);
      const ended = this.ended.get(l.id);
      const fault = this.faults.get(l.id);
      const keeping = !!call?.keeping && !call.private;
      return {
        id: l.id,
        name: l.name,
        source: l.source,
        channels: l.channels,
        keep: l.keep,
        sampleN: l.sampleN,
        purposes: [...l.announced],
        keepPurposes: [...l.keepPurposes],
        state: fault ? "fault" : keeping ? "keeping" : call ? "in-call" : "idle",
        ...fault ? { fault } : {},
        ...call ? { call: { ref: call.ref, startedAt: call.startedAt, direction: call.parties.direction, keeping, private: call.private || !call.buffered, ...call.writer ? { callId: call.writer.id } : {} } } : {},
        ...ended ? { lastEnded: { ref: ended.ref, endedAt: ended.endedAt, savableUntil: ended.savableUntil } } : {}
      };
    });
  }
  /** Stop timers; calls still live are ended by their source before this. */
  async close() {
    for (const e of this.ended.values()) clearTimeout(e.timer);
    this.ended.clear();
    await this.settle();
  }
};

// src/calls/catalog.ts
var str = (v) => typeof v === "string" && v ? v : void 0;
function addTo(index, key, id) {
  let set = index.get(key);
  if (!set) index.set(key, set = /* @__PURE__ */ new Set());
  set.add(id);
}
var Catalog = class {
  constructor(archive) {
    this.archive = archive;
  }
  archive;
  metas = /* @__PURE__ */ new Map();
  byNumber = /* @__PURE__ */ new Map();
  byExtension = /* @__PURE__ */ new Map();
  /** per call: caller and called digits joined by '|', for partial-number search */
  digits = /* @__PURE__ */ new Map();
  open = false;
  async unlock() {
    const metas = /* @__PURE__ */ new Map();
    for (const h of this.archive.headers()) metas.set(h.id, await this.archive.meta(h.id));
    this.clear();
    for (const [id, m] of metas) this.index(id, m);
    this.open = true;
  }
  lock() {
    this.clear();
    this.open = false;
  }
  get unlocked() {
    return this.open;
  }
  /** Called when a call lands in the archive or its metadata changes. */
  async refresh(id) {
    if (!this.open || !this.archive.get(id)) return;
    const m = await this.archive.meta(id);
    this.forget(id);
    this.index(id, m);
  }
  forget(id) {
    const m = this.metas.get(id);
    if (!m) return;
    this.metas.delete(id);
    this.digits.delete(id);
    for (const n of [str(m.caller), str(m.called)]) if (n) this.byNumber.get(normalizeNumber(n))?.delete(id);
    const ext = str(m.extension);
    if (ext) this.byExtension.get(ext)?.delete(id);
  }
  clear() {
    this.metas = /* @__PURE__ */ new Map();
    this.byNumber = /* @__PURE__ */ new Map();
    this.byExtension = /* @__PURE__ */ new Map();
    this.digits = /* @__PURE__ */ new Map();
  }
  index(id, m) {
    this.metas.set(id, m);
    const caller = str(m.caller);
    const called = str(m.called);
    for (const n of [caller, called]) if (n) addTo(this.byNumber, normalizeNumber(n), id);
    this.digits.set(id, `${caller?.replace(/\D/g, "") ?? ""}|${called?.replace(/\D/g, "") ?? ""}`);
    const ext = str(m.extension);
    if (ext) addTo(this.byExtension, ext, id);
  }
  summary(h) {
    const m = this.metas.get(h.id);
    const base = {
      id: h.id,
      line: h.line,
      startedAt: h.startedAt,
      endedAt: h.endedAt,
      durationMs: h.durationMs,
      channels: h.channels,
      purposes: [...h.purposes],
      keptBy: h.keptBy,
      clockSynced: h.clockSynced,
      restricted: h.restricted,
      holds: [...h.holds]
    };
    if (!m) return base;
    const dir = m.direction === "in" || m.direction === "out" ? m.direction : void 0;
    return { ...base, direction: dir, caller: str(m.caller), called: str(m.called), extension: str(m.extension), digits: str(m.digits) };
  }
  /**
   * Calls matching every given field, newest first. A number matches in any notation (0…, 0031…, +31…),
   * and four or more digits also match as part of a number.
   */
  search(q) {
    let ids;
    const narrow = (next) => {
      ids = ids ? new Set([...ids].filter((id) => next.has(id))) : next;
    };
    if (q.number !== void 0) {
      const hits = new Set(this.byNumber.get(normalizeNumber(q.number)));
      const digits = q.number.replace(/\D/g, "");
      if (digits.length >= 4) {
        for (const [id, d] of this.digits) if (d.includes(digits)) hits.add(id);
      }
      narrow(hits);
    }
    if (q.extension !== void 0) narrow(this.byExtension.get(q.extension) ?? /* @__PURE__ */ new Set());
    const headers = ids ? [...ids].map((id) => this.archive.get(id)).filter((h) => h !== void 0) : this.archive.headers();
    const out = [];
    for (const h of headers) {
      if (q.line && h.line !== q.line) continue;
      if (q.from !== void 0 && h.startedAt < q.from) continue;
      if (q.to !== void 0 && h.startedAt > q.to) continue;
      out.push(h);
    }
    return out.sort(newestFirst).map((h) => this.summary(h));
  }
};

// src/audit/audit.ts
import { createHash as createHash9 } from "node:crypto";
import { open as open5, readFile as readFile6 } from "node:fs/promises";
var GENESIS = "0".repeat(64);
var digest = (e) => createHash9("sha256").update(JSON.stringify([e.seq, e.at, e.actor, e.action, e.target ?? null, e.detail ?? null, e.prev])).digest("hex");
var AuditLog = class {
  constructor(path, clock = Date.now) {
    this.path = path;
    this.clock = clock;
  }
  path;
  clock;
  fh;
  seq = 0;
  prev = GENESIS;
  tail = Promise.resolve();
  async open() {
    const entries = await this.readAll();
    const last = entries.at(-1);
    if (last) {
      this.seq = last.seq;
      this.prev = last.hash;
    }
    this.fh = await open5(this.path, "a", 384);
  }
  append(e) {
    const run = async () => {
      if (!this.fh) throw new RvError("RV_ERR_AUDIT_CLOSED", "The audit log is not open; restart the service.", 500);
      const body = { seq: this.seq + 1, at: this.clock(), actor: e.actor, action: e.action, ...e.target ? { target: e.target } : {}, ...e.detail ? { detail: e.detail } : {}, prev: this.prev };
      const entry = { ...body, hash: digest(body) };
      await this.fh.write(JSON.stringify(entry) + "\n");
      await this.fh.sync();
      this.seq = entry.seq;
      this.prev = entry.hash;
      return entry;
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => void 0);
    return p;
  }
  async readAll() {
    let text4 = "";
    try {
      text4 = await readFile6(this.path, "utf8");
    } catch (err) {
      if (err.code !== "ENOENT") throw err;
    }
    const out = [];
    for (const line of text4.split("\n")) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
      }
    }
    return out;
  }
  async recent(limit) {
    return (await this.readAll()).slice(-limit).reverse();
  }
  /** Checks the chain; names the first entry that was edited, removed or reordered. */
  async verify() {
    let text4 = "";
    try {
      text4 = await readFile6(this.path, "utf8");
    } catch {
      return { ok: true, entries: 0 };
    }
    let prev = GENESIS;
    let seq = 0;
    for (const line of text4.split("\n").filter((l) => l.trim())) {
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        return { ok: false, seq: seq + 1, reason: "entry is not valid JSON" };
      }
      if (e.seq !== seq + 1) return { ok: false, seq: seq + 1, reason: `expected entry ${seq + 1}, found ${e.seq} (removed or reordered)` };
      if (e.prev !== prev) return { ok: false, seq: e.seq, reason: "does not follow the entry before it (removed or reordered)" };
      const { hash, ...body } = e;
      if (digest(body) !== hash) return { ok: false, seq: e.seq, reason: "content was edited" };
      prev = hash;
      seq = e.seq;
    }
    return { ok: true, entries: seq };
  }
  async close() {
    await this.tail;
    await this.fh?.close();
    this.fh = void 0;
  }
};

// src/sources/sim.ts
import { randomUUID } from "node:crypto";
import { readdir as readdir3, readFile as readFile7 } from "node:fs/promises";
import { join as join5 } from "node:path";

// src/audio/wav.ts
import wav from "node-wav";
var HEADER_BYTES2 = 44;
var FORMAT_PCM = 1;
var FORMAT_EXTENSIBLE = 65534;
var MAX_DATA_BYTES = 4294967295 - (HEADER_BYTES2 - 8);
var bad = (message) => new RvError("RV_ERR_WAV_FORMAT", message);
function wavHeader(opts) {
  const { sampleRate, channels, dataBytes } = opts;
  const blockAlign = channels * 2;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw bad(`WAV sample rate must be a positive whole number of Hz; got ${sampleRate}.`);
  }
  if (channels !== 1 && channels !== 2) throw bad(`WAV channels must be 1 or 2; got ${channels}.`);
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > MAX_DATA_BYTES || dataBytes % blockAlign !== 0) {
    throw bad(
      `WAV data size must be a whole number of ${blockAlign}-byte frames up to ${MAX_DATA_BYTES} bytes; got ${dataBytes}.`
    );
  }
  const h = Buffer.alloc(HEADER_BYTES2);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(dataBytes + HEADER_BYTES2 - 8, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(FORMAT_PCM, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(dataBytes, 40);
  return h;
}
function parseFmt(buf, at, size) {
  if (size < 16) throw bad(`WAV "fmt " chunk is ${size} bytes; expected at least 16.`);
  let format = buf.readUInt16LE(at);
  if (format === FORMAT_EXTENSIBLE && size >= 40) format = buf.readUInt16LE(at + 24);
  return {
    format,
    channels: buf.readUInt16LE(at + 2),
    sampleRate: buf.readUInt32LE(at + 4),
    blockAlign: buf.readUInt16LE(at + 12),
    bits: buf.readUInt16LE(at + 14)
  };
}
function readWav(buf) {
  if (buf.length < 12) throw bad(`WAV file is ${buf.length} bytes; expected at least a 12-byte RIFF header.`);
  const riff = buf.toString("latin1", 0, 4);
  const wave = buf.toString("latin1", 8, 12);
  if (riff !== "RIFF" || wave !== "WAVE") {
    throw bad(`Not a RIFF/WAVE file: it starts with "${riff}\u2026${wave}"; expected "RIFF\u2026WAVE".`);
  }
  let fmt;
  let at = 12;
  while (at + 8 <= buf.length) {
    const id = buf.toString("latin1", at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === "fmt ") {
      if (body + size > buf.length) throw bad(`WAV "fmt " chunk runs past the end of the file.`);
      fmt = parseFmt(buf, body, size);
    } else if (id === "data") {
      if (!fmt) throw bad('WAV "data" chunk comes before any "fmt " chunk; expected "fmt " first.');
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, pcm: samples(buf, body, size, fmt) };
    }
    at = body + size + (size & 1);
  }
  throw bad(fmt ? 'WAV file has no "data" chunk.' : 'WAV file has no "fmt " chunk.');
}
function samples(buf, at, size, fmt) {
  if (fmt.format !== FORMAT_PCM || fmt.bits !== 16) {
    throw bad(
      `WAV is format 0x${fmt.format.toString(16).padStart(4, "0")} with ${fmt.bits}-bit samples; expected PCM (0x0001) 16-bit.`
    );
  }
  if (fmt.channels < 1 || fmt.blockAlign !== fmt.channels * 2 || fmt.sampleRate <= 0) {
    throw bad(
      `WAV says ${fmt.channels} channel(s), ${fmt.blockAlign}-byte frames at ${fmt.sampleRate} Hz; expected frames of 2 bytes per channel at a positive rate.`
    );
  }
  if (at + size > buf.length) {
    throw bad(`WAV "data" chunk says ${size} bytes but only ${buf.length - at} follow; the file is truncated.`);
  }
  if (size % fmt.blockAlign !== 0) {
    throw bad(`WAV "data" chunk is ${size} bytes, not a whole number of ${fmt.blockAlign}-byte frames.`);
  }
  const pcm = new Int16Array(size / 2);
  for (let i = 0; i < pcm.length; i++) pcm[i] = buf.readInt16LE(at + i * 2);
  return pcm;
}

// src/sources/source.ts
import { EventEmitter as EventEmitter2 } from "node:events";
var LineSource = class extends EventEmitter2 {
};

// src/sources/sim.ts
var BLOCK_FRAMES = 160;
var DEFAULT_CALL = { minSec: 8, maxSec: 30 };
var HISS = 24;
var TURN_GAP_SEC = { min: 0.25, max: 0.8 };
var AREA_CODES = ["10", "13", "15", "20", "24", "26", "30", "40", "50", "70"];
var clampInt16 = (v) => v > 32767 ? 32767 : v < -32768 ? -32768 : v;
var Conversation = class {
  constructor(clips, channels, rng) {
    this.clips = clips;
    this.channels = channels;
    this.rng = rng;
    this.clip = this.pick();
  }
  clips;
  channels;
  rng;
  speaker = 0;
  clip;
  pos = 0;
  /** frames of silence left before the other party speaks; 0 while someone is speaking */
  gap = 0;
  pick() {
    return this.clips[Math.floor(this.rng() * this.clips.length)];
  }
  hiss() {
    return Math.round((this.rng() - this.rng()) * HISS);
  }
  /** The next `frames` frames, interleaved when stereo. */
  next(frames) {
    const out = new Int16Array(frames * this.channels);
    for (let f = 0; f < frames; f++) {
      let voice = 0;
      if (this.gap > 0) {
        if (--this.gap === 0) {
          this.speaker = this.speaker === 0 ? 1 : 0;
          this.clip = this.pick();
          this.pos = 0;
        }
      } else {
        voice = this.clip[this.pos++];
        if (this.pos >= this.clip.length) {
          const sec = TURN_GAP_SEC.min + this.rng() * (TURN_GAP_SEC.max - TURN_GAP_SEC.min);
          this.gap = Math.max(1, Math.round(sec * SAMPLE_RATE));
        }
      }
      const a = this.hiss() + (this.speaker === 0 ? voice : 0);
      const b = this.hiss() + (this.speaker === 1 ? voice : 0);
      if (this.channels === 2) {
        out[2 * f] = clampInt16(a);
        out[2 * f + 1] = clampInt16(b);
      } else {
        out[f] = clampInt16(a + b);
      }
    }
    return out;
  }
};
var configError = (message) => new RvError("RV_ERR_SIM_CONFIG", message);
function checkOptions(opts) {
  if (opts.lines.length === 0) throw configError("The simulated source needs at least one line.");
  const ids = /* @__PURE__ */ new Set();
  for (const l of opts.lines) {
    if (!l.id || ids.has(l.id)) throw configError(`Line ids must be unique and non-empty; "${l.id}" is not.`);
    if (l.channels !== 1 && l.channels !== 2) throw configError(`Line ${l.id} has ${l.channels} channels; use 1 or 2.`);
    ids.add(l.id);
  }
  const speed = opts.speed ?? 1;
  if (!(speed > 0 && Number.isFinite(speed))) throw configError(`Simulation speed must be above 0; got ${speed}.`);
  const r = opts.random;
  if (r && !(r.meanGapSec > 0 && r.minSec > 0 && r.maxSec >= r.minSec && Number.isFinite(r.maxSec))) {
    throw configError(
      `Random calls need meanGapSec > 0 and 0 < minSec <= maxSec; got ${r.meanGapSec}, ${r.minSec}, ${r.maxSec}.`
    );
  }
}
async function loadSpeech(dir) {
  let names2;
  try {
    names2 = (await readdir3(dir)).filter((n) => n.toLowerCase().endsWith(".wav")).sort();
  } catch (e) {
    throw new RvError("RV_ERR_SIM_SPEECH", `Cannot read the speech folder ${dir}: ${e.message}`);
  }
  if (names2.length === 0) {
    throw new RvError("RV_ERR_SIM_SPEECH", `No .wav files in ${dir}; make them with test/fixtures/make-speech.sh.`);
  }
  return Promise.all(
    names2.map(async (name) => {
      let wav3;
      try {
        wav3 = readWav(await readFile7(join5(dir, name)));
      } catch (e) {
        if (isRvError(e)) throw new RvError(e.code, `${join5(dir, name)}: ${e.message}`);
        throw e;
      }
      if (wav3.sampleRate !== SAMPLE_RATE || wav3.channels !== 1 || wav3.pcm.length === 0) {
        throw new RvError(
          "RV_ERR_WAV_FORMAT",
          `${join5(dir, name)} is ${wav3.sampleRate} Hz, ${wav3.channels} channel(s), ${wav3.pcm.length} samples; the simulator needs non-empty ${SAMPLE_RATE} Hz mono.`
        );
      }
      return wav3.pcm;
    })
  );
}
var SimSource = class extends LineSource {
  constructor(opts) {
    super();
    this.opts = opts;
    checkOptions(opts);
    this.random = opts.random ?? false;
    this.speed = opts.speed ?? 1;
    this.clock = opts.clock ?? (() => performance.timeOrigin + performance.now());
    this.rng = opts.rng ?? Math.random;
    this.tickMs = Math.max(1, Math.round(msOf(BLOCK_FRAMES) / this.speed));
    this.lines = opts.lines.map((l) => l.id);
    opts.lines.forEach((l, i) => {
      const did = `+3120555${String(100 + i).padStart(4, "0")}`;
      this.state.set(l.id, { id: l.id, channels: l.channels, did, faulted: false });
    });
  }
  opts;
  kind = "sim";
  lines;
  state = /* @__PURE__ */ new Map();
  random;
  speed;
  clock;
  rng;
  tickMs;
  speech;
  clips = [];
  running = false;
  timer;
  /** clock reading and sim time at start(): sim time runs `speed` times as fast as the clock from there */
  clockBase = 0;
  simBase = 0;
  /** sim time at the last stop(), so a restart never goes back in time */
  simStopped = 0;
  async start() {
    this.speech ??= loadSpeech(this.opts.speechDir).catch((e) => {
      this.speech = void 0;
      throw e;
    });
    const clips = await this.speech;
    if (this.running) return;
    this.clips = clips;
    this.clockBase = this.clock();
    this.simBase = Math.max(this.clockBase, this.simStopped);
    this.running = true;
    for (const line of this.state.values()) this.scheduleNext(line);
    this.updateTimer();
  }
  async stop() {
    if (!this.running) return;
    const now = this.now();
    this.running = false;
    this.simStopped = now;
    for (const line of this.state.values()) {
      line.nextCallAt = void 0;
      if (line.call) {
        this.pump(line, now, true);
        this.end(line, "shutdown");
      }
    }
    this.updateTimer();
  }
  /** Starts a call now; returns its ref. */
  placeCall(lineId, opts = {}) {
    const line = this.line(lineId);
    if (!this.running) throw new RvError("RV_ERR_SOURCE_STOPPED", "The simulated source is not running; start it first.", 409);
    if (line.faulted) throw new RvError("RV_ERR_LINE_FAULT", `Line ${lineId} is faulted; clear the fault first.`, 409);
    if (line.call) throw new RvError("RV_ERR_LINE_BUSY", `Line ${lineId} is already in a call; hang up first.`, 409);
    if (opts.durationSec !== void 0 && !(Math.round(opts.durationSec * SAMPLE_RATE) >= 1 && Number.isFinite(opts.durationSec))) {
      throw new RvError("RV_ERR_SIM_DURATION", `A call must last a positive, finite time; got ${opts.durationSec} s.`);
    }
    return this.begin(line, opts);
  }
  /** Ends the line's call now (audio up to this moment is sent first); no-op when idle. */
  hangup(lineId) {
    const line = this.line(lineId);
    if (!line.call) return;
    this.pump(line, this.now(), true);
    this.end(line, "hangup");
  }
  busy(lineId) {
    return this.line(lineId).call !== void 0;
  }
  /** A faulted line ends its call (reason 'fault'), sends no audio and takes no calls until it recovers. */
  setFault(lineId, fault) {
    const line = this.line(lineId);
    if (line.faulted === fault) return;
    line.faulted = fault;
    if (fault) {
      line.nextCallAt = void 0;
      if (line.call) {
        this.pump(line, this.now(), true);
        this.end(line, "fault");
      }
      this.emit("fault", { line: lineId, code: "RV_ERR_SIM_FAULT", message: `Line ${lineId} cannot be heard (simulated fault).` });
    } else {
      this.scheduleNext(line);
      this.emit("recovered", { line: lineId });
    }
    this.updateTimer();
  }
  line(id) {
    const line = this.state.get(id);
    if (!line) {
      throw new RvError("RV_ERR_UNKNOWN_LINE", `There is no line "${id}"; known lines: ${this.lines.join(", ")}.`, 404);
    }
    return line;
  }
  /** Sim time in epoch ms: the clock, sped up by `speed` since start(). */
  now() {
    return this.simBase + (this.clock() - this.clockBase) * this.speed;
  }
  begin(line, opts) {
    const range = this.random || DEFAULT_CALL;
    const durationSec = opts.durationSec ?? range.minSec + this.rng() * (range.maxSec - range.minSec);
    const direction = opts.direction ?? (this.rng() < 0.5 ? "in" : "out");
    const call = {
      ref: randomUUID(),
      startAt: Math.ceil(this.now()),
      total: Math.max(1, Math.round(durationSec * SAMPLE_RATE)),
      sent: 0,
      audio: new Conversation(this.clips, line.channels, this.rng)
    };
    line.call = call;
    line.nextCallAt = void 0;
    this.updateTimer();
    this.emit("call-start", {
      line: line.id,
      ref: call.ref,
      at: call.startAt,
      channels: line.channels,
      parties: this.parties(line, direction, opts)
    });
    return call.ref;
  }
  parties(line, direction, opts) {
    const digits = (n) => Array.from({ length: n }, () => Math.floor(this.rng() * 10)).join("");
    const national = this.rng() < 0.5 ? `06${digits(8)}` : `0${AREA_CODES[Math.floor(this.rng() * AREA_CODES.length)]}${1 + Math.floor(this.rng() * 9)}${digits(6)}`;
    const extension = opts.extension ?? String(201 + Math.floor(this.rng() * 49));
    if (direction === "in") {
      const caller = opts.caller ?? (this.rng() < 0.08 ? "withheld" : `+31${national.slice(1)}`);
      return { direction, caller, called: opts.called ?? line.did, extension };
    }
    return { direction, caller: opts.caller ?? line.did, called: opts.called ?? national, extension };
  }
  /**
   * Emits the call's audio due by `now` in 20 ms blocks; a shorter block only for the call's
   * last frames or when `flush`ing before an early end. Ends the call when it is complete.
   */
  pump(line, now, flush) {
    const call = line.call;
    if (!call) return;
    const due = Math.min(call.total, Math.floor((now - call.startAt) * SAMPLE_RATE / 1e3));
    while (line.call === call && call.sent < due) {
      const frames = Math.min(BLOCK_FRAMES, due - call.sent);
      if (frames < BLOCK_FRAMES && !flush && due < call.total) break;
      const at = call.startAt + msOf(call.sent);
      call.sent += frames;
      this.emit("call-audio", {
        line: line.id,
        ref: call.ref,
        block: { at, channels: line.channels, pcm: call.audio.next(frames) }
      });
    }
    if (line.call === call && call.sent >= call.total) this.end(line, "hangup");
  }
  end(line, reason) {
    const call = line.call;
    if (!call) return;
    line.call = void 0;
    this.scheduleNext(line);
    this.updateTimer();
    this.emit("call-end", { line: line.id, ref: call.ref, at: call.startAt + msOf(call.sent), reason });
  }
  /** Picks when an idle random line calls next: an exponential gap, so calls arrive as a Poisson process. */
  scheduleNext(line) {
    if (!this.random || !this.running || line.faulted || line.call) return;
    line.nextCallAt = this.now() - Math.log(1 - this.rng()) * this.random.meanGapSec * 1e3;
  }
  tick() {
    const now = this.now();
    for (const line of this.state.values()) {
      if (line.call) this.pump(line, now, false);
      else if (line.nextCallAt !== void 0 && now >= line.nextCallAt && this.running) this.begin(line, {});
    }
  }
  /** One interval while there is anything to pace (a live call, or random calls to start); none otherwise. */
  updateTimer() {
    const needed = this.running && (this.random !== false || [...this.state.values()].some((l) => l.call));
    if (needed && !this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
    } else if (!needed && this.timer) {
      clearInterval(this.timer);
      this.timer = void 0;
    }
  }
};

// src/log.ts
var silentLog = { debug() {
}, info() {
}, warn() {
}, error() {
} };

// src/audio/level.ts
var ZERO_DBM0_PEAK = 32767 * 10 ** (-3.14 / 20);

// src/dsp/sliding-min.ts
var SlidingMin = class {
  constructor(subMs, keep) {
    this.subMs = subMs;
    this.keep = keep;
  }
  subMs;
  keep;
  past = [];
  cur = Infinity;
  curMs = 0;
  /** One value `db` covering `ms` of signal. */
  add(db, ms) {
    this.cur = Math.min(this.cur, db);
    this.curMs += ms;
    if (this.curMs < this.subMs) return;
    this.past.push(this.cur);
    if (this.past.length > this.keep) this.past.shift();
    this.cur = Infinity;
    this.curMs = 0;
  }
  get min() {
    return Math.min(this.cur, ...this.past);
  }
};

// src/dsp/ring.ts
var WINDOW_MS = 20;
var CUTOFF_HZ = 70;
var FLOOR_WINDOW_MS = 1e4;
var FLOOR_PARTS = 5;
var ZERO_DBM0_POWER = ZERO_DBM0_PEAK ** 2 / 2;
var Biquad = class {
  constructor(b, a) {
    this.b = b;
    this.a = a;
  }
  b;
  a;
  z1 = 0;
  z2 = 0;
  step(x) {
    const y = this.b[0] * x + this.z1;
    this.z1 = this.b[1] * x - this.a[0] * y + this.z2;
    this.z2 = this.b[2] * x - this.a[1] * y;
    return y;
  }
};
function lowPassSection(fc, q, sr) {
  const w = 2 * Math.PI * fc / sr;
  const alpha = Math.sin(w) / (2 * q);
  const cos = Math.cos(w);
  const a0 = 1 + alpha;
  const b1 = (1 - cos) / a0;
  return new Biquad([b1 / 2, b1, b1 / 2], [-2 * cos / a0, (1 - alpha) / a0]);
}
var RingDetector = class {
  onEvent;
  sr;
  win;
  minOnMs;
  minOffMs;
  minPower;
  minShare;
  margin;
  lp;
  floor = new SlidingMin(FLOOR_WINDOW_MS / FLOOR_PARTS, FLOOR_PARTS);
  // DC blocker state: a line's offset is not a ring
  dcX = 0;
  dcY = 0;
  n = 0;
  lowSum = 0;
  allSum = 0;
  /** start time of the current window, ms */
  winAt = null;
  /** the burst being followed: start, end of its last ring window, and whether it was reported */
  burst = null;
  lastWindowRing = false;
  started = [];
  constructor(opts = {}) {
    this.onEvent = opts.onEvent ?? (() => {
    });
    this.sr = opts.sampleRate ?? SAMPLE_RATE;
    this.win = Math.round(WINDOW_MS * this.sr / 1e3);
    this.minOnMs = opts.minOnMs ?? 200;
    this.minOffMs = opts.minOffMs ?? 120;
    const minDbm0 = opts.minDbm0 ?? -30;
    this.minPower = ZERO_DBM0_POWER * 10 ** (minDbm0 / 10);
    this.minShare = opts.minShare ?? 0.6;
    this.margin = opts.marginDb ?? 15;
    if (!(this.minOnMs >= WINDOW_MS) || !(this.minOffMs >= WINDOW_MS)) {
      throw new RvError("RV_ERR_RING_TIMING", `Ring minimum on and off times must be at least ${WINDOW_MS} ms; got ${this.minOnMs} and ${this.minOffMs}.`);
    }
    if (!(this.minShare > 0 && this.minShare <= 1)) {
      throw new RvError("RV_ERR_RING_SHARE", `Ring low-band share must be above 0 and at most 1; got ${this.minShare}.`);
    }
    this.lp = [lowPassSection(CUTOFF_HZ, 0.5412, this.sr), lowPassSection(CUTOFF_HZ, 1.3066, this.sr)];
  }
  /** True while the signal is ring-like or a burst is open, so callers do not take it for voice. */
  get ringing() {
    return this.lastWindowRing || (this.burst?.reported ?? false);
  }
  /** One mono block whose first sample was at `at` ms; returns the start times of bursts confirmed in it. */
  push(block, at) {
    this.started = [];
    for (let i = 0; i < block.length; i++) {
      if (this.winAt === null) this.winAt = at + i * 1e3 / this.sr;
      const x = block[i];
      const y = x - this.dcX + 0.995 * this.dcY;
      this.dcX = x;
      this.dcY = y;
      const l = this.lp[1].step(this.lp[0].step(y));
      this.lowSum += l * l;
      this.allSum += y * y;
      if (++this.n === this.win) this.window();
    }
    return this.started;
  }
  /** Ends the stream: an open burst is closed at the end of its last ring window. */
  flush() {
    if (this.burst) this.close();
  }
  window() {
    const at = this.winAt ?? 0;
    const low = this.lowSum / this.n;
    const all = this.allSum / this.n;
    this.n = 0;
    this.lowSum = 0;
    this.allSum = 0;
    this.winAt = null;
    const db = low > 0 ? 10 * Math.log10(low / ZERO_DBM0_POWER) : -Infinity;
    const ring = low >= this.minPower && low >= this.minShare * all && db >= this.floor.min + this.margin;
    this.floor.add(db, WINDOW_MS);
    this.lastWindowRing = ring;
    const end2 = at + WINDOW_MS;
    if (ring) {
      if (this.burst && at - this.burst.last < this.minOffMs) this.burst.last = end2;
      else {
        if (this.burst) this.close();
        this.burst = { start: at, last: end2, reported: false };
      }
      if (!this.burst.reported && end2 - this.burst.start >= this.minOnMs) {
        this.burst.reported = true;
        this.started.push(this.burst.start);
        this.onEvent({ type: "ring-start", at: this.burst.start });
      }
    } else if (this.burst && end2 - this.burst.last >= this.minOffMs) {
      this.close();
    }
  }
  close() {
    const b = this.burst;
    this.burst = null;
    if (b?.reported) this.onEvent({ type: "ring-stop", at: b.last, durationMs: b.last - b.start });
  }
};

// src/dsp/clip-dtmf.ts
var CODES = {
  B00: "unavailable",
  B10: "withheld",
  D1: "withheld",
  D2: "unavailable",
  D3: "unavailable"
};
function parseClipString(raw) {
  const m = /^(?:([AD]?)(\d+)|(B\d\d))([C#])$/.exec(raw);
  if (!m) return null;
  const format = m[4] === "C" ? "dtmf-clip-a" : "dtmf-clip-hash";
  if (m[3]) return { format, absent: CODES[m[3]] ?? "unavailable", code: m[3], raw };
  const [, start, digits] = m;
  if (start === "D" && digits.length === 1) return { format, absent: CODES[`D${digits}`] ?? "unavailable", code: `D${digits}`, raw };
  if (!start && format === "dtmf-clip-a") return null;
  if (digits.length < 2) return null;
  return { format, number: digits, raw };
}
var ClipDtmfParser = class {
  onClip;
  maxPauseMs;
  burst = [];
  constructor(opts = {}) {
    this.onClip = opts.onClip ?? (() => {
    });
    this.maxPauseMs = opts.maxPauseMs ?? 300;
    if (!(this.maxPauseMs > 0 && this.maxPauseMs <= 2e3)) {
      throw new RvError("RV_ERR_CLIP_PAUSE", `DTMF caller-ID pause limit must be above 0 and at most 2000 ms; got ${this.maxPauseMs}.`);
    }
  }
  /** One detected digit; returns the caller ID it completed, if any. */
  push(d) {
    const last = this.burst[this.burst.length - 1];
    let done = null;
    if (last && d.at - (last.at + last.durationMs) > this.maxPauseMs) done = this.close();
    this.burst.push(d);
    if (d.digit === "C" || d.digit === "#") done = this.close() ?? done;
    return done;
  }
  /** Time has moved on to `nowMs` with no digit: a burst whose pause has run out is closed. */
  tick(nowMs) {
    const last = this.burst[this.burst.length - 1];
    if (last && nowMs - (last.at + last.durationMs) > this.maxPauseMs) return this.close();
    return null;
  }
  /** Ends the stream. */
  flush() {
    return this.burst.length ? this.close() : null;
  }
  close() {
    const b = this.burst;
    this.burst = [];
    if (b.length === 0) return null;
    const parsed = parseClipString(b.map((d) => d.digit).join(""));
    if (!parsed) return null;
    const last = b[b.length - 1];
    const out = { ...parsed, startMs: b[0].at, endMs: last.at + last.durationMs };
    this.onClip(out);
    return out;
  }
};

// src/dsp/goertzel.ts
var Goertzel = class {
  constructor(freq, sampleRate, blockLen = 0) {
    this.freq = freq;
    this.sampleRate = sampleRate;
    this.blockLen = blockLen;
    const w = 2 * Math.PI * freq / sampleRate;
    this.cosW = Math.cos(w);
    this.sinW = Math.sin(w);
    this.coeff = 2 * this.cosW;
    this.rot = this.rotation(blockLen);
  }
  freq;
  sampleRate;
  blockLen;
  /** 2·cos(ω), the only multiply in the recursion */
  coeff;
  cosW;
  sinW;
  /** e^(−iω(len−1)) for the usual block length, so dft() needs no trigonometry per call */
  rot;
  rotation(len) {
    const w = 2 * Math.PI * this.freq * (len - 1) / this.sampleRate;
    return [Math.cos(w), -Math.sin(w)];
  }
  /** Runs the recursion over pcm[start, start+len) and returns its last two states. */
  run(pcm, start, len) {
    let s1 = 0;
    let s2 = 0;
    const c = this.coeff;
    for (let i = start; i < start + len; i++) {
      const s0 = pcm[i] + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return [s1, s2];
  }
  /** |X(f)|² over pcm[start, start+len): (A·len/2)² for a sine of amplitude A exactly at `freq`. */
  power(pcm, start = 0, len = this.blockLen || pcm.length - start) {
    const [s1, s2] = this.run(pcm, start, len);
    return s1 * s1 + s2 * s2 - this.coeff * s1 * s2;
  }
  /** Complex X(f) = Σ x[n]·e^(−iωn), n counted from `start`, as [re, im] (the phase is needed to measure frequency). */
  dft(pcm, start = 0, len = this.blockLen || pcm.length - start) {
    const [s1, s2] = this.run(pcm, start, len);
    const yr = s1 - this.cosW * s2;
    const yi = this.sinW * s2;
    const [c, s] = len === this.blockLen ? this.rot : this.rotation(len);
    return [yr * c - yi * s, yi * c + yr * s];
  }
};

// src/dsp/dtmf-block.ts
var DTMF_ROWS = [697, 770, 852, 941];
var DTMF_COLS = [1209, 1336, 1477, 1633];
var KEYS = ["123A", "456B", "789C", "*0#D"];
var dbToRatio = (db) => 10 ** (db / 10);
var cmul = (a, b) => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
var DtmfBlock = class {
  constructor(sampleRate, blockSize, checks) {
    this.sampleRate = sampleRate;
    this.blockSize = blockSize;
    this.checks = checks;
    this.half = blockSize / 2;
    const tones = [...DTMF_ROWS, ...DTMF_COLS];
    this.filters = tones.map((f) => new Goertzel(f, sampleRate, this.half));
    this.halfShift = tones.map((f) => {
      const w = 2 * Math.PI * f * this.half / sampleRate;
      return [Math.cos(w), -Math.sin(w)];
    });
    const bin = sampleRate / blockSize;
    this.harmonics = tones.map(
      (f) => 2 * f >= sampleRate / 2 || DTMF_COLS.some((c) => Math.abs(c - 2 * f) < 2 * bin) ? null : new Goertzel(2 * f, sampleRate, blockSize)
    );
  }
  sampleRate;
  blockSize;
  checks;
  half;
  filters;
  /** e^(−iω·half) per filter: moves a half-block DFT to the next half's time origin */
  halfShift;
  /** second-harmonic filter per tone; null where the harmonic lies within two bins of a column tone (it would see that tone) */
  harmonics;
  analyse(pcm) {
    const bins = { h1: [], h2: [], x: [], power: [] };
    this.filters.forEach((g, i) => {
      const h1 = g.dft(pcm, 0);
      const h2 = g.dft(pcm, this.half);
      const s = cmul(h2, this.halfShift[i]);
      const x = [h1[0] + s[0], h1[1] + s[1]];
      bins.h1.push(h1);
      bins.h2.push(h2);
      bins.x.push(x);
      bins.power.push(x[0] * x[0] + x[1] * x[1]);
    });
    return bins;
  }
  /** The digit this block carries by every per-block check, or null; `row`/`col` index the filters 0–3 and 4–7. */
  classify(pcm, bins) {
    const n = this.blockSize;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += pcm[i] * pcm[i];
    if (energy === 0) return null;
    const p = bins.power;
    const best = (from) => from + [0, 1, 2, 3].reduce((b, k) => p[from + k] > p[from + b] ? k : b, 0);
    const row = best(0);
    const col = best(4);
    const minP = 32767 * 32767 * dbToRatio(this.checks.minToneDbfs) * n * n / 4;
    if (p[row] < minP || p[col] < minP) return null;
    const margin = dbToRatio(this.checks.groupMarginDb);
    for (let k = 0; k < 8; k++) {
      if (k !== row && k !== col && p[k] * margin > p[k < 4 ? row : col]) return null;
    }
    if ((p[row] + p[col]) * 2 / n < this.checks.minToneFraction * energy) return null;
    const harmonicMax = (k) => p[k] / dbToRatio(this.checks.harmonicMarginDb);
    for (const k of [row, col]) if ((this.harmonics[k]?.power(pcm) ?? 0) > harmonicMax(k)) return null;
    return { digit: KEYS[row][col - 4], row, col };
  }
  /** Adds to `acc` the phase steps of filter k from block a → the block straddling a and b → block b, half a block each. */
  link(acc, a, b, k) {
    const shift = this.halfShift[k];
    const straddle = cmul(b.h1[k], shift);
    const y = [a.h2[k][0] + straddle[0], a.h2[k][1] + straddle[1]];
    for (const [from, to] of [[a.x[k], y], [y, b.x[k]]]) {
      const step = cmul(cmul(to, [from[0], -from[1]]), shift);
      acc[0] += step[0];
      acc[1] += step[1];
    }
  }
  /** Offset of filter k's tone from nominal, as a fraction, from summed phase steps (unambiguous within ±fs/blockSize). */
  offset(acc, k) {
    const df = Math.atan2(acc[1], acc[0]) * this.sampleRate / (2 * Math.PI * this.half);
    return df / this.filters[k].freq;
  }
};

// src/dsp/dtmf.ts
var DtmfDetector = class {
  sampleRate;
  /** samples per analysis block (102 at 8 kHz) */
  blockSize;
  blockMs;
  analyser;
  onDigit;
  normalTwist;
  reverseTwist;
  freqTolerance;
  minBlocks;
  pauseBlocks;
  pending;
  pendingLen = 0;
  pendingStartMs = 0;
  nextMs = 0;
  prev = null;
  cand = null;
  constructor(opts = {}) {
    this.sampleRate = opts.sampleRate ?? SAMPLE_RATE;
    if (!Number.isFinite(this.sampleRate) || this.sampleRate < 4e3) {
      throw new RvError("RV_ERR_DTMF_RATE", `DTMF needs a sample rate of at least 4000 Hz; got ${this.sampleRate}.`);
    }
    this.onDigit = opts.onDigit ?? (() => {
    });
    this.normalTwist = dbToRatio(opts.normalTwistDb ?? 8);
    this.reverseTwist = dbToRatio(opts.reverseTwistDb ?? 4);
    this.freqTolerance = opts.freqTolerance ?? 0.025;
    this.blockSize = 2 * Math.round(this.sampleRate * 0.01275 / 2);
    this.blockMs = this.blockSize * 1e3 / this.sampleRate;
    this.minBlocks = Math.max(1, Math.floor((opts.minDurationMs ?? 40) / this.blockMs));
    this.pauseBlocks = Math.max(1, Math.round((opts.minPauseMs ?? 40) / this.blockMs));
    this.analyser = new DtmfBlock(this.sampleRate, this.blockSize, {
      minToneDbfs: opts.minToneDbfs ?? -48,
      minToneFraction: opts.minToneFraction ?? 0.6,
      groupMarginDb: opts.groupMarginDb ?? 6,
      harmonicMarginDb: opts.harmonicMarginDb ?? 12
    });
    this.pending = new Int16Array(this.blockSize);
  }
  /** Feeds samples; `atMs` is the time of pcm[0] (else samples are taken to follow the previous ones). */
  push(pcm, atMs) {
    if (atMs !== void 0 && this.pendingLen === 0) this.nextMs = atMs;
    let i = 0;
    while (i < pcm.length) {
      if (this.pendingLen === 0) this.pendingStartMs = this.nextMs + i * 1e3 / this.sampleRate;
      const n = Math.min(pcm.length - i, this.blockSize - this.pendingLen);
      this.pending.set(pcm.subarray(i, i + n), this.pendingLen);
      this.pendingLen += n;
      i += n;
      if (this.pendingLen === this.blockSize) {
        this.block(this.pending, this.pendingStartMs);
        this.pendingLen = 0;
      }
    }
    this.nextMs += pcm.length * 1e3 / this.sampleRate;
  }
  /** Ends the stream: a digit still sounding is reported; a partial block is dropped. */
  flush() {
    this.finish();
    this.pendingLen = 0;
    this.prev = null;
  }
  block(pcm, atMs) {
    const bins = this.analyser.analyse(pcm);
    const d = this.analyser.classify(pcm, bins);
    const endMs = atMs + this.blockMs;
    const c = this.cand;
    if (d && c && d.digit === c.digit) {
      if (this.prev?.digit === d.digit) {
        this.analyser.link(c.rowAcc, this.prev.bins, bins, d.row);
        this.analyser.link(c.colAcc, this.prev.bins, bins, d.col);
      }
      c.run = c.gap === 0 ? c.run + 1 : 1;
      c.bestRun = Math.max(c.bestRun, c.run);
      c.gap = 0;
      c.endMs = endMs;
      c.rowP += bins.power[d.row];
      c.colP += bins.power[d.col];
    } else if (d) {
      this.finish();
      this.cand = {
        ...d,
        startMs: atMs,
        endMs,
        run: 1,
        bestRun: 1,
        gap: 0,
        rowAcc: [0, 0],
        colAcc: [0, 0],
        rowP: bins.power[d.row],
        colP: bins.power[d.col]
      };
    } else if (c && ++c.gap >= this.pauseBlocks) {
      this.finish();
    }
    this.prev = { bins, digit: d?.digit ?? null };
  }
  /** Reports the followed press if it lasted, kept its twist and stayed on frequency. */
  finish() {
    const c = this.cand;
    this.cand = null;
    if (!c || c.bestRun < this.minBlocks) return;
    if (c.rowP > c.colP * this.normalTwist || c.colP > c.rowP * this.reverseTwist) return;
    const a = this.analyser;
    if (Math.abs(a.offset(c.rowAcc, c.row)) > this.freqTolerance || Math.abs(a.offset(c.colAcc, c.col)) > this.freqTolerance) return;
    this.onDigit({ digit: c.digit, at: c.startMs, durationMs: c.endMs - c.startMs });
  }
};

// src/dsp/tones.ts
var TONE_HZ = 425;
var TONE_BLOCK = 160;
var ZERO_DBM0_POWER2 = ZERO_DBM0_PEAK ** 2 / 2;
var TONE_MIN_DBM0 = -42;
var TONE_MIN_SHARE = 0.7;
var goertzel = new Goertzel(TONE_HZ, SAMPLE_RATE, TONE_BLOCK);
function blockDbm0(block) {
  if (block.length === 0) return -Infinity;
  let sum = 0;
  let sq = 0;
  for (const v of block) {
    sum += v;
    sq += v * v;
  }
  const power = (sq - sum * sum / block.length) / block.length;
  return power > 0 ? 10 * Math.log10(power / ZERO_DBM0_POWER2) : -Infinity;
}
function toneShare425(block) {
  const n = block.length;
  if (n === 0) return 0;
  let sum = 0;
  let sq = 0;
  for (const v of block) {
    sum += v;
    sq += v * v;
  }
  const energy = sq - sum * sum / n;
  if (energy <= 0) return 0;
  return goertzel.power(block, 0, n) / (energy * (n / 2));
}
var tone425 = (block) => blockDbm0(block) >= TONE_MIN_DBM0 && toneShare425(block) >= TONE_MIN_SHARE;

// src/dsp/cadence.ts
var PATTERNS = [
  { kind: "ringback", onMs: 1e3, offMs: 4e3, cycles: 1 },
  { kind: "busy", onMs: 500, offMs: 500, cycles: 2 },
  { kind: "congestion", onMs: 250, offMs: 250, cycles: 2 }
];
var CadenceClassifier = class {
  onEvent;
  tolerance;
  dialMs;
  /** state of the current run and when it began (ms); null before the first block */
  on = null;
  runStart = 0;
  lastOnMs = 0;
  /** consecutive matching cycles per pattern, in PATTERNS order */
  counts = PATTERNS.map(() => 0);
  /** last kind reported, so a steady cadence is reported once */
  current = null;
  constructor(opts) {
    this.onEvent = opts.onEvent;
    this.tolerance = opts.tolerance ?? 0.2;
    this.dialMs = opts.dialMs ?? 2e3;
    if (!(this.tolerance >= 0 && this.tolerance < 1)) {
      throw new RvError("RV_ERR_CADENCE_TOLERANCE", `Cadence tolerance must be from 0 up to 1; got ${this.tolerance}.`);
    }
    if (!(this.dialMs > 1200)) {
      throw new RvError("RV_ERR_CADENCE_DIAL", `Dial-tone time must exceed 1200 ms (the longest ring-back burst); got ${this.dialMs}.`);
    }
  }
  /** One mono block whose first sample was at `at` (ms). */
  push(block, at) {
    this.pushState(tone425(block), at, msOf(block.length));
  }
  /** One tone decision covering [at, at + ms), for callers that already ran tone425. */
  pushState(on, at, ms) {
    if (this.on === null) {
      this.on = on;
      this.runStart = at;
    } else if (on !== this.on) {
      this.endRun(at);
      this.on = on;
      this.runStart = at;
    }
    const runMs = at + ms - this.runStart;
    if (on && runMs >= this.dialMs) this.report("dial", at + ms);
    if (!on && runMs > this.maxMs(4e3)) this.reset();
  }
  maxMs(nominal) {
    return nominal * (1 + this.tolerance) + 20;
  }
  fits(measured, nominal) {
    return measured >= nominal * (1 - this.tolerance) - 20 && measured <= this.maxMs(nominal);
  }
  endRun(at) {
    const runMs = at - this.runStart;
    if (this.on) {
      this.lastOnMs = runMs;
      return;
    }
    if (this.lastOnMs === 0) return;
    let matched = false;
    PATTERNS.forEach((p, i) => {
      if (this.fits(this.lastOnMs, p.onMs) && this.fits(runMs, p.offMs)) {
        matched = true;
        this.counts[i]++;
        if (this.counts[i] >= p.cycles) this.report(p.kind, at);
      } else {
        this.counts[i] = 0;
      }
    });
    if (!matched) this.current = null;
  }
  reset() {
    this.counts.fill(0);
    this.lastOnMs = 0;
    this.current = null;
  }
  report(kind, at) {
    if (this.current === kind) return;
    this.current = kind;
    this.onEvent({ kind, at });
  }
};

// src/dsp/vad.ts
var FLOOR_WINDOW_MS2 = 2e3;
var FLOOR_PARTS2 = 4;
var Vad = class {
  onSegment;
  hangMs;
  minActiveMs;
  marginDb;
  minDbm0;
  // the current quarter plus the three before it
  floorTracker = new SlidingMin(FLOOR_WINDOW_MS2 / FLOOR_PARTS2, FLOOR_PARTS2 - 1);
  /** start (ms) of the current run of active blocks, or null */
  runStart = null;
  /** the open segment: its start and the end of its last qualifying activity */
  open = null;
  constructor(opts) {
    this.onSegment = opts.onSegment;
    this.hangMs = opts.hangMs ?? 4e3;
    this.minActiveMs = opts.minActiveMs ?? 60;
    this.marginDb = opts.marginDb ?? 10;
    this.minDbm0 = opts.minDbm0 ?? -50;
    if (!(this.hangMs >= 3e3 && this.hangMs <= 5e3)) {
      throw new RvError("RV_ERR_VAD_HANG", `VAD hang-over must be 3000\u20135000 ms; got ${this.hangMs}.`);
    }
    if (!(this.minActiveMs > 0)) {
      throw new RvError("RV_ERR_VAD_MIN_ACTIVE", `VAD minimum activity must be above 0 ms; got ${this.minActiveMs}.`);
    }
  }
  /** Current noise floor estimate, dBm0. */
  get floor() {
    return this.floorTracker.min;
  }
  /** One mono block whose first sample was at `at` (ms). */
  push(block, at) {
    const ms = msOf(block.length);
    const end2 = at + ms;
    const db = blockDbm0(block);
    const tone = tone425(block);
    if (!tone) this.floorTracker.add(db, ms);
    const active = !tone && db >= this.minDbm0 && db >= this.floorTracker.min + this.marginDb;
    if (active) {
      this.runStart ??= at;
      if (end2 - this.runStart >= this.minActiveMs) {
        if (this.open) this.open.endMs = end2;
        else this.open = { startMs: this.runStart, endMs: end2 };
      }
    } else {
      this.runStart = null;
    }
    if (this.open && end2 - this.open.endMs >= this.hangMs) this.close();
  }
  /** Ends the stream: an open segment is reported as it stands. */
  flush() {
    if (this.open) this.close();
    this.runStart = null;
  }
  close() {
    const s = this.open;
    this.open = null;
    if (s) this.onSegment(s);
  }
};

// src/dsp/fir.ts
function lowPass(taps, cutoffHz, rate) {
  const h = new Float64Array(taps);
  const fc = cutoffHz / rate;
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    h[i] = sinc * (0.54 - 0.46 * Math.cos(2 * Math.PI * i / (taps - 1)));
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}

// src/dsp/fsk.ts
var FSK_TONES = {
  v23: { mark: 1300, space: 2100 },
  bell202: { mark: 1200, space: 2200 }
};
function fskSoft(pcm, opts = {}) {
  const sr = opts.sampleRate ?? 8e3;
  const baud = opts.baud ?? 1200;
  const spb = sr / baud;
  const { mark, space } = FSK_TONES[opts.standard ?? "v23"];
  const wc = Math.PI * (mark + space) / sr;
  const dev = Math.abs(space - mark) / 2;
  const taps = 2 * Math.round(spb) + 3;
  const h = lowPass(taps, dev + baud / 4, sr);
  const len = pcm.length;
  const mr = new Float64Array(len);
  const mi = new Float64Array(len);
  for (let n = 0; n < len; n++) {
    mr[n] = pcm[n] * Math.cos(wc * n);
    mi[n] = -pcm[n] * Math.sin(wc * n);
  }
  const br = new Float64Array(len);
  const bi = new Float64Array(len);
  for (let n = 0; n < len; n++) {
    let r = 0;
    let i = 0;
    for (let k = 0; k < taps && k <= n; k++) {
      r += mr[n - k] * h[k];
      i += mi[n - k] * h[k];
    }
    br[n] = r;
    bi[n] = i;
  }
  const avg = Math.max(1, Math.round(spb * 0.75));
  const a = ZERO_DBM0_PEAK * 10 ** ((opts.minLevelDbm0 ?? -48) / 20);
  const floor = a * a / 4;
  const inst = new Float64Array(len);
  const pow = new Float64Array(len);
  for (let n = 1; n < len; n++) {
    inst[n] = Math.atan2(bi[n] * br[n - 1] - br[n] * bi[n - 1], br[n] * br[n - 1] + bi[n] * bi[n - 1]);
    pow[n] = br[n] * br[n] + bi[n] * bi[n];
  }
  const soft = new Float32Array(len);
  const carrier = new Uint8Array(len);
  let si = 0;
  let sp = 0;
  for (let n = 0; n < len; n++) {
    si += inst[n] - (n >= avg ? inst[n - avg] : 0);
    sp += pow[n] - (n >= avg ? pow[n - avg] : 0);
    soft[n] = -si / avg;
    carrier[n] = sp / avg >= floor ? 1 : 0;
  }
  const sign = mark < space ? 1 : -1;
  if (sign < 0) for (let n = 0; n < len; n++) soft[n] = -soft[n];
  return { soft, carrier, samplesPerBit: spb, delay: (taps - 1) / 2 + avg / 2 };
}
function fskChars(s) {
  const { soft, carrier, samplesPerBit: spb, delay } = s;
  const out = [];
  const bitAt = (t) => soft[Math.min(soft.length - 1, Math.round(t + spb / 2 + delay))];
  let k = 1;
  while (k < soft.length) {
    if (!(carrier[k] && soft[k] < 0 && soft[k - 1] >= 0)) {
      k++;
      continue;
    }
    const start = k - delay;
    const end2 = start + 10 * spb;
    if (end2 + delay >= soft.length || bitAt(start) >= 0) {
      k++;
      continue;
    }
    let byte = 0;
    for (let b = 0; b < 8; b++) if (bitAt(start + (b + 1) * spb) > 0) byte |= 1 << b;
    if (bitAt(start + 9 * spb) <= 0) {
      k++;
      continue;
    }
    out.push({ byte, at: Math.round(start), end: Math.round(end2) });
    k = Math.round(start + 9.5 * spb + delay);
  }
  return out;
}

// src/dsp/callerid.ts
var MDMF = 128;
var SDMF = 4;
var text2 = (b) => String.fromCharCode(...b);
var absent = (s) => s === "P" ? "withheld" : s === "O" ? "unavailable" : void 0;
var checksumOk = (msg) => msg.reduce((a, b) => a + b & 255, 0) === 0;
function parseCallerId(bytes) {
  const type = bytes[0];
  if (type !== MDMF && type !== SDMF) {
    throw new RvError("RV_ERR_CALLERID_TYPE", `Not a caller-ID message (type byte ${type ?? "missing"}); expected 0x80 or 0x04.`);
  }
  const len = bytes[1] ?? 0;
  const complete = bytes.length >= len + 3;
  const body = bytes.subarray(2, Math.min(bytes.length, 2 + len));
  const out = { format: type === MDMF ? "MDMF" : "SDMF", checksumOk: complete && checksumOk(bytes.subarray(0, len + 3)) };
  if (type === SDMF) {
    if (body.length >= 8) out.dateTime = text2(body.subarray(0, 8));
    const num = text2(body.subarray(8));
    const why = absent(num);
    if (why) out.numberAbsent = why;
    else if (num) out.number = num;
    return out;
  }
  for (let i = 0; i + 1 < body.length; ) {
    const id = body[i];
    const v = body.subarray(i + 2, Math.min(body.length, i + 2 + body[i + 1]));
    i += 2 + body[i + 1];
    const s = text2(v);
    if (id === 1) out.dateTime = s;
    else if (id === 2) out.number = s;
    else if (id === 4) out.numberAbsent = absent(s) ?? "unavailable";
    else if (id === 7) out.name = s;
    else if (id === 8) out.nameAbsent = absent(s) ?? "unavailable";
  }
  return out;
}
var MIN_IDLE_BITS = 8;
var MAX_GAP_BITS = 20;
function decodeFskCallerId(pcm, opts = {}) {
  const sr = opts.sampleRate ?? 8e3;
  const soft = fskSoft(pcm, { standard: opts.standard, sampleRate: sr, minLevelDbm0: opts.minLevelDbm0 });
  const chars = fskChars(soft);
  const spb = soft.samplesPerBit;
  const out = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c.byte !== MDMF && c.byte !== SDMF) continue;
    if (!markIdleBefore(soft.soft, soft.carrier, c.at, i > 0 ? chars[i - 1].end : -Infinity, spb)) continue;
    const msg = collect(chars, i, spb);
    if (!msg) continue;
    out.push({ ...parseCallerId(msg.bytes), startMs: c.at * 1e3 / sr });
    i = msg.last;
  }
  return out;
}
function markIdleBefore(soft, carrier, at, prevEnd, spb) {
  const from = Math.round(at - MIN_IDLE_BITS * spb);
  if (from < 0 || prevEnd > from) return false;
  let mark = 0;
  for (let k = from; k < at; k++) if (carrier[k] && soft[k] > 0) mark++;
  return mark >= 0.8 * (at - from);
}
function collect(chars, i, spb) {
  if (i + 1 >= chars.length) return void 0;
  const need = chars[i + 1].byte + 3;
  const bytes = [];
  let j = i;
  for (; j < chars.length && bytes.length < need; j++) {
    if (j > i && chars[j].at - chars[j - 1].end > MAX_GAP_BITS * spb) break;
    bytes.push(chars[j].byte);
  }
  return { bytes: Uint8Array.from(bytes), last: j - 1 };
}

// src/calls/analog-detect.ts
var MIN_VOICE_MS = 60;
var VOICE_MARGIN_DB = 10;
var VOICE_MIN_DBM0 = -50;
var DIAL_MS = 1300;
var FSK_WINDOW_MS = 3e3;
var FSK_STEP_MS = 1e3;
var FSK_GATE_DBM0 = -45;
var LineDetectors = class {
  dtmf;
  cadence;
  /** used for its adaptive noise floor */
  vad = new Vad({ onSegment: () => {
  } });
  ring;
  fskStandards;
  heard = [];
  voiceRun = null;
  voiceReported = false;
  toneOn = false;
  /** onset of the current 425 Hz run, and whether it was reported as dial tone */
  toneRun = 0;
  dialReported = false;
  /** onset of the first 425 Hz burst since the last voice, for dating busy/dial tone */
  toneSinceVoice = null;
  /** end of the last block with voice, ms */
  lastVoiceEnd = -Infinity;
  /** end of the last block with a 425 Hz tone or a ring, ms */
  lastToneEnd = -Infinity;
  // FSK window
  fsk = new Int16Array(Math.round(FSK_WINDOW_MS * SAMPLE_RATE / 1e3));
  fskFill = 0;
  fskEndMs = 0;
  fskSinceDecode = 0;
  fskLoudest = -Infinity;
  fskSeen = [];
  /** the tracker turns FSK decoding off while a call is up: caller ID only comes while idle or ringing */
  fskEnabled = true;
  constructor(opts) {
    this.dtmf = new DtmfDetector({ onDigit: (d) => this.heard.push({ kind: "digit", at: d.at, digit: d.digit, durationMs: d.durationMs }) });
    this.cadence = new CadenceClassifier({
      onEvent: (e) => this.heard.push({ kind: "cadence", at: e.at, cadence: e.kind, onset: this.toneSinceVoice ?? e.at })
    });
    this.ring = opts.ring;
    this.fskStandards = [];
    if (opts.callerId.includes("v23-fsk")) this.fskStandards.push("v23");
    if (opts.callerId.includes("bell202-fsk")) this.fskStandards.push("bell202");
  }
  /** One mono block starting at `at` ms; returns what was heard, in time order. */
  push(mono3, at) {
    const ms = msOf(mono3.length);
    const end2 = at + ms;
    const rings = this.ring ? this.ring.push(mono3, at) : [];
    for (const r of rings) this.heard.push({ kind: "ring", at: r });
    const ringing = this.ring?.ringing ?? false;
    this.dtmf.push(mono3, at);
    const tone = tone425(mono3);
    if (tone && !this.toneOn) {
      this.toneSinceVoice ??= at;
      this.toneRun = at;
      this.dialReported = false;
    }
    this.toneOn = tone;
    if (tone && !this.dialReported && end2 - this.toneRun >= DIAL_MS) {
      this.dialReported = true;
      this.heard.push({ kind: "dialtone", at: this.toneRun });
    }
    this.cadence.pushState(tone, at, ms);
    this.vad.push(mono3, at);
    if (tone || ringing) this.lastToneEnd = end2;
    const db = blockDbm0(mono3);
    const voice = !tone && !ringing && db >= VOICE_MIN_DBM0 && db >= this.vad.floor + VOICE_MARGIN_DB;
    if (voice) {
      this.voiceRun ??= at;
      if (end2 - this.voiceRun >= MIN_VOICE_MS) {
        if (!this.voiceReported) this.heard.push({ kind: "voice", at: this.voiceRun });
        this.voiceReported = true;
        this.lastVoiceEnd = end2;
        this.toneSinceVoice = null;
      }
    } else {
      this.voiceRun = null;
      this.voiceReported = false;
    }
    if (this.fskStandards.length) this.fskPush(mono3, end2, db);
    const out = this.heard.sort((a, b) => a.at - b.at);
    this.heard = [];
    return out;
  }
  /** Ends the stream: a digit still sounding is reported. */
  flush() {
    this.dtmf.flush();
    const out = this.heard;
    this.heard = [];
    return out;
  }
  fskPush(mono3, end2, db) {
    const w = this.fsk;
    if (mono3.length >= w.length) {
      w.set(mono3.subarray(mono3.length - w.length));
      this.fskFill = w.length;
    } else if (this.fskFill + mono3.length <= w.length) {
      w.set(mono3, this.fskFill);
      this.fskFill += mono3.length;
    } else {
      const keep = w.length - mono3.length;
      w.copyWithin(0, this.fskFill - keep, this.fskFill);
      w.set(mono3, keep);
      this.fskFill = w.length;
    }
    this.fskEndMs = end2;
    this.fskSinceDecode += msOf(mono3.length);
    this.fskLoudest = Math.max(this.fskLoudest, db);
    if (this.fskSinceDecode < FSK_STEP_MS) return;
    this.fskSinceDecode = 0;
    const loud = this.fskLoudest;
    this.fskLoudest = db;
    if (!this.fskEnabled || loud < FSK_GATE_DBM0) return;
    this.decodeWindow();
  }
  decodeWindow() {
    const pcm = this.fsk.subarray(0, this.fskFill);
    const startMs = this.fskEndMs - msOf(pcm.length);
    for (const standard of this.fskStandards) {
      for (const m of decodeFskCallerId(pcm, { standard })) {
        const at = startMs + m.startMs;
        if (!m.checksumOk && this.fskEndMs - at < FSK_WINDOW_MS - FSK_STEP_MS - 500) continue;
        if (this.fskSeen.some((s) => Math.abs(s - at) < 100)) continue;
        this.fskSeen.push(at);
        if (this.fskSeen.length > 8) this.fskSeen.shift();
        const absent2 = m.numberAbsent;
        this.heard.push({
          kind: "callerid",
          at,
          format: standard === "v23" ? "v23-fsk" : "bell202-fsk",
          checksumOk: m.checksumOk,
          ...m.number ? { number: m.number } : {},
          ...absent2 ? { absent: absent2 } : {}
        });
      }
    }
  }
};

// src/calls/block-timeline.ts
var BlockTimeline = class {
  blocks = [];
  push(b) {
    this.blocks.push(b);
  }
  /** Forgets blocks that end at or before `t` (ms). */
  trim(t) {
    let i = 0;
    while (i < this.blocks.length && end(this.blocks[i]) <= t) i++;
    if (i) this.blocks = this.blocks.slice(i);
  }
  /** The audio in [from, to), each block cut at the sample nearest the bounds. */
  slice(from, to) {
    const out = [];
    for (const b of this.blocks) {
      if (end(b) <= from || b.at >= to) continue;
      const frames = b.pcm.length / b.channels;
      const s = Math.max(0, Math.min(frames, Math.round((from - b.at) * SAMPLE_RATE / 1e3)));
      const e = Math.max(0, Math.min(frames, Math.round((to - b.at) * SAMPLE_RATE / 1e3)));
      if (e <= s) continue;
      if (s === 0 && e === frames) {
        out.push(b);
        continue;
      }
      out.push({ at: b.at + msOf(s), channels: b.channels, pcm: b.pcm.slice(s * b.channels, e * b.channels) });
    }
    return out;
  }
};
var end = (b) => b.at + msOf(b.pcm.length / b.channels);

// src/calls/analog-tracker.ts
var CONFIRM_MS = 2e3;
var CID_SPAN_BEFORE_MS = 1200;
var DIGIT_SPAN_BEFORE_MS = 1e3;
var CID_SPAN_AFTER_MS = 700;
var CID_BEFORE_RING_MS = 1e4;
var RING_GIVE_UP_MS = 7e3;
var DIGITS_GIVE_UP_MS = 1e4;
var UNANSWERED_SILENCE_MS = 8e3;
var HISTORY_MS = 16e3;
var AnalogTracker = class {
  o;
  det;
  timeline = new BlockTimeline();
  lagMs;
  now = -Infinity;
  ringing = null;
  call = null;
  cid = null;
  pendingDigits = [];
  voiceCands = [];
  vetoes = [];
  out = [];
  clip;
  constructor(o) {
    this.o = o;
    this.det = new LineDetectors({ callerId: o.callerId, ring: o.lineSense ? void 0 : new RingDetector() });
    this.clip = o.callerId.includes("dtmf-clip") ? new ClipDtmfParser() : null;
    this.lagMs = o.lineSense ? 600 : o.hangoverMs + 600;
  }
  /** The call under way, if any (announced or not yet). */
  get live() {
    const c = this.call;
    return c ? { ref: c.ref, start: c.start, direction: c.direction, announced: c.announced } : null;
  }
  /** One block of line audio, channels as configured ([far end, our phone] when 2). */
  push(block) {
    const frames = block.pcm.length / block.channels;
    const end2 = block.at + msOf(frames);
    this.timeline.push(block);
    this.now = end2;
    this.det.fskEnabled = !this.call;
    for (const h of this.det.push(mono(block), block.at)) this.hear(h);
    this.tick();
    this.timeline.trim(Math.min(this.now - HISTORY_MS, this.call ? this.call.sentTo : Infinity));
    return this.take();
  }
  /** Line sense from the control board (used when the tracker was made with lineSense). */
  sense(state, at) {
    if (!this.o.lineSense) return [];
    if (state === "ring") {
      if (!this.call) this.onRing(at);
    } else if (state === "offhook") {
      if (!this.call) {
        const incoming = this.ringing !== null;
        this.open(at, incoming ? "in" : "out");
      }
    } else if (this.call) {
      this.end(at, "on-hook");
    } else if (this.ringing) {
      this.miss(at);
    }
    if (this.call?.endAt !== void 0 && this.call.endAt <= this.now) this.finish();
    return this.take();
  }
  /** The stream ends (capture stopped or failed): a call under way ends with the last audio. */
  flush(reason) {
    for (const h of this.det.flush()) this.hear(h);
    if (this.call) {
      if (this.call.endAt === void 0) this.end(this.now, reason);
      this.call.endAt = Math.min(this.call.endAt, this.now);
      this.finish();
    }
    return this.take();
  }
  take() {
    const e = this.out;
    this.out = [];
    return e;
  }
  hear(h) {
    const sense = this.o.lineSense;
    const c = this.call;
    switch (h.kind) {
      case "ring":
        if (!sense && !c) this.onRing(h.at);
        return;
      case "callerid":
        this.vetoes.push([h.at - CID_SPAN_BEFORE_MS, h.at + CID_SPAN_AFTER_MS]);
        if (!c && (h.number || h.absent || !this.cid)) this.cid = { at: h.at, ...h.number ? { number: h.number } : {}, ...h.absent ? { absent: h.absent } : {} };
        return;
      case "digit":
        this.vetoes.push([h.at - DIGIT_SPAN_BEFORE_MS, h.at + h.durationMs + 200]);
        if (c) {
          c.digits += h.digit;
          c.lastDigitEnd = h.at + 100;
          if (c.direction === "out" && !c.answered) c.dialled += h.digit;
          this.info({ digits: c.digits, ...c.direction === "out" && !c.answered ? { called: c.dialled } : {} });
        } else {
          this.pendingDigits.push({ digit: h.digit, at: h.at });
          const clip = this.clip?.push({ digit: h.digit, at: h.at, durationMs: h.durationMs });
          if (clip) {
            this.cid = { at: clip.startMs, fromDigits: true, ...clip.number ? { number: clip.number } : {}, ...clip.absent ? { absent: clip.absent } : {} };
          }
        }
        return;
      case "dialtone":
        if (!c) {
          this.pendingDigits = [];
          if (!sense) this.open(h.at, "out");
        } else if (!sense && c.answered && h.at > c.start) {
          this.end(h.at, "dial-tone");
        }
        return;
      case "cadence":
        if (h.cadence === "busy" || h.cadence === "congestion") {
          if (c && c.endAt === void 0 && !sense) this.end(Math.max(h.onset, c.start), h.cadence);
          else if (!c && this.pendingDigits.length && !this.ringing && !sense) this.openDialled(h.onset, h.cadence);
        } else if (h.cadence === "ringback" && !c && this.pendingDigits.length && !this.ringing && !sense) {
          this.openDialled(null);
        }
        return;
      case "voice":
        this.voiceCands.push(h.at);
        return;
    }
  }
  onRing(at) {
    if (this.ringing) {
      this.ringing.last = at;
      return;
    }
    this.ringing = { first: at, last: at };
    this.pendingDigits = [];
  }
  /** An outgoing call found from its dialled digits (no dial tone heard): it starts at the first digit. */
  openDialled(endAt, reason) {
    const first = this.pendingDigits[0];
    const digits = this.pendingDigits.map((d) => d.digit).join("");
    this.pendingDigits = [];
    this.open(first.at, "out");
    const c = this.call;
    c.dialled = digits;
    c.digits = digits;
    c.parties.called = digits;
    c.parties.digits = digits;
    if (endAt !== null) this.end(Math.max(endAt, c.start), reason);
  }
  open(at, direction) {
    const parties = { direction };
    if (direction === "in" && this.cid) {
      if (this.cid.number) parties.caller = this.cid.number;
      else if (this.cid.absent) parties.caller = this.cid.absent;
    }
    this.cid = null;
    this.ringing = null;
    this.voiceCands = [];
    this.call = {
      ref: `${this.o.line}-${Math.round(at).toString(36)}`,
      start: at,
      direction,
      parties,
      announced: false,
      sentTo: at,
      answered: false,
      dialled: "",
      digits: "",
      lastDigitEnd: at
    };
  }
  end(at, reason) {
    const c = this.call;
    if (c.endAt !== void 0) return;
    c.endAt = Math.max(at, c.start);
    c.endReason = reason;
  }
  miss(at) {
    const r = this.ringing;
    const parties = { direction: "in" };
    if (this.cid?.number) parties.caller = this.cid.number;
    else if (this.cid?.absent) parties.caller = this.cid.absent;
    this.out.push({ type: "dropped", at: r.first, endAt: at, reason: "missed", parties });
    this.ringing = null;
    this.cid = null;
    this.voiceCands = [];
  }
  /** Time-driven decisions, after every block. */
  tick() {
    const now = this.now;
    const sense = this.o.lineSense;
    this.vetoes = this.vetoes.filter(([, b]) => b > now - CONFIRM_MS - 1e3);
    const voice = this.confirmedVoice();
    if (!this.call && !sense && voice !== null) {
      const lastDigit = this.pendingDigits[this.pendingDigits.length - 1];
      const dialled = lastDigit && (!this.cid?.fromDigits || this.det.lastToneEnd > lastDigit.at + 200);
      if (lastDigit && !this.ringing && dialled) this.openDialled(null);
      else this.open(voice, this.ringing || this.cid && voice - this.cid.at < CID_BEFORE_RING_MS ? "in" : "out");
      this.call.answered = true;
    } else if (this.call && voice !== null) {
      this.call.answered = true;
    }
    if (this.ringing && !this.call && now - this.ringing.last > RING_GIVE_UP_MS && this.voiceCands.length === 0) this.miss(this.ringing.last + 1e3);
    if (this.cid && !this.ringing && !this.call && now - this.cid.at > CID_BEFORE_RING_MS + CONFIRM_MS) this.cid = null;
    if (this.pendingDigits.length && !this.call && now - this.pendingDigits[this.pendingDigits.length - 1].at > DIGITS_GIVE_UP_MS) this.pendingDigits = [];
    const c = this.call;
    if (!c) return;
    if (!sense && c.endAt === void 0) {
      const d = this.det;
      if (c.answered) {
        const last = Math.max(d.lastVoiceEnd, c.start);
        if (now - last >= this.o.hangoverMs) this.end(last, "silence");
      } else {
        const last = Math.max(d.lastVoiceEnd, d.lastToneEnd, c.lastDigitEnd, c.start);
        if (now - last >= UNANSWERED_SILENCE_MS) this.end(last, "silence");
      }
    }
    if (c.endAt !== void 0 && c.endAt <= now) {
      this.finish();
      return;
    }
    this.send(c, now - this.lagMs);
  }
  /** The earliest voice onset old enough to be sure it was not caller ID or DTMF; consumed. */
  confirmedVoice() {
    let found = null;
    const keep = [];
    for (const v of this.voiceCands) {
      if (this.vetoes.some(([a, b]) => v >= a && v <= b)) continue;
      if (this.now - v >= CONFIRM_MS) {
        if (found === null) found = v;
      } else keep.push(v);
    }
    this.voiceCands = keep;
    return found;
  }
  /** Announces the call once it has lasted minCallMs, and passes on its audio up to `to`. */
  send(c, to) {
    if (!c.announced) {
      if (this.now - c.start < this.o.minCallMs) return;
      c.announced = true;
      this.out.push({ type: "call-start", ref: c.ref, at: c.start, channels: this.o.channels, parties: { ...c.parties } });
    }
    if (to <= c.sentTo) return;
    for (const block of this.timeline.slice(c.sentTo, to)) {
      this.out.push({ type: "call-audio", ref: c.ref, block: c.direction === "out" ? swap(block) : block });
    }
    c.sentTo = to;
  }
  finish() {
    const c = this.call;
    const endAt = c.endAt;
    this.call = null;
    this.voiceCands = [];
    this.pendingDigits = [];
    const short = endAt - c.start < this.o.minCallMs;
    if (short && !c.announced) {
      this.out.push({ type: "dropped", at: c.start, endAt, reason: "too-short", parties: { ...c.parties } });
      return;
    }
    this.send(c, endAt);
    this.out.push({ type: "call-end", ref: c.ref, at: endAt, reason: short ? "too-short" : c.endReason ?? "ended" });
  }
  info(parties) {
    const c = this.call;
    Object.assign(c.parties, parties);
    if (c.announced) this.out.push({ type: "call-info", ref: c.ref, parties });
  }
};
function mono(b) {
  if (b.channels === 1) return b.pcm;
  const n = b.pcm.length / 2;
  const m = new Int16Array(n);
  for (let i = 0; i < n; i++) m[i] = Math.max(-32768, Math.min(32767, b.pcm[2 * i] + b.pcm[2 * i + 1]));
  return m;
}
function swap(b) {
  if (b.channels === 1) return b;
  const p = new Int16Array(b.pcm.length);
  for (let i = 0; i < p.length; i += 2) {
    p[i] = b.pcm[i + 1];
    p[i + 1] = b.pcm[i];
  }
  return { at: b.at, channels: 2, pcm: p };
}

// src/sources/alsa.ts
import { spawn } from "node:child_process";
import { EventEmitter as EventEmitter3 } from "node:events";

// src/sources/alsa-decimate.ts
var TAPS_PER_FACTOR = 16;
var CUTOFF_HZ2 = 3400;
var Decimator = class {
  constructor(rate, channels) {
    this.channels = channels;
    if (rate % SAMPLE_RATE !== 0 || rate < SAMPLE_RATE) {
      throw new RvError("RV_ERR_ALSA_RATE", `Capture rate ${rate} Hz is not supported: use 8000, 16000 or 48000.`);
    }
    this.factor = rate / SAMPLE_RATE;
    this.h = this.factor === 1 ? new Float64Array([1]) : lowPass(TAPS_PER_FACTOR * this.factor + 1, CUTOFF_HZ2, rate);
    this.hist = Array.from({ length: channels }, () => new Float64Array(this.h.length));
  }
  channels;
  factor;
  h;
  /** per channel ring of the last `h.length` input samples */
  hist;
  pos = 0;
  /** input frames seen modulo factor, so output phase survives chunking */
  phase = 0;
  /** `input` holds whole interleaved frames; returns whole interleaved frames at 8 kHz. */
  push(input) {
    const ch = this.channels;
    if (this.factor === 1) return input;
    const frames = input.length / ch;
    const out = new Int16Array(Math.ceil((frames + this.phase) / this.factor) * ch);
    const n = this.h.length;
    let o = 0;
    for (let f = 0; f < frames; f++) {
      for (let c = 0; c < ch; c++) this.hist[c][this.pos] = input[f * ch + c];
      this.pos = (this.pos + 1) % n;
      this.phase = (this.phase + 1) % this.factor;
      if (this.phase !== 0) continue;
      for (let c = 0; c < ch; c++) {
        const hc = this.hist[c];
        let acc = 0;
        for (let k = 0; k < n; k++) acc += this.h[k] * hc[(this.pos + k) % n];
        const v = Math.round(acc);
        out[o++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    }
    return out.subarray(0, o);
  }
};

// src/sources/alsa-faults.ts
var DEVICE_GONE = /no such device|cannot open audio device|audio open error|unknown pcm|cannot get card index|no such file or directory/i;
var CHECK = "Check the line cable and the USB audio interface, and that `arecord -l` lists the card";
function describeExit(device, code, signal, stderr) {
  const said = stderr.trim().split("\n").filter(Boolean).slice(-2).join(" / ");
  const detail = said ? ` (arecord said: ${said})` : "";
  if (DEVICE_GONE.test(stderr)) {
    return {
      code: "RV_ERR_ALSA_DEVICE",
      message: `Audio device "${device}" cannot be opened or was unplugged${detail}. ${CHECK} (and that the device name in the config is right). Retrying.`
    };
  }
  if (signal) {
    return {
      code: "RV_ERR_ALSA_KILLED",
      message: `The capture process for "${device}" was killed (${signal})${detail}. ${CHECK}; check system memory and other tools holding the device. Restarting it.`
    };
  }
  return {
    code: "RV_ERR_ALSA_EXIT",
    message: `The capture process for "${device}" stopped unexpectedly with exit code ${code}${detail}. ${CHECK}. Restarting it.`
  };
}
function describeSpawnError(bin, err) {
  return {
    code: "RV_ERR_ALSA_SPAWN",
    message: `Cannot run "${bin}" (${err.code ?? err.message}). Install alsa-utils (apt-get install alsa-utils) or set the arecord path. Retrying.`
  };
}
var isOverrunLine = (line) => /overrun!!!/i.test(line);

// src/sources/alsa.ts
var DEFAULT_BACKOFF = { firstMs: 500, maxMs: 1e4 };
var KILL_GRACE_MS = 1e3;
var AlsaCapture = class extends EventEmitter3 {
  opts;
  log;
  clock;
  blockFrames;
  child = null;
  timer = null;
  stopped = true;
  /** failed runs since audio last flowed; drives the back-off */
  failures = 0;
  faulted = false;
  spawned = 0;
  // per-run timeline and buffers, reset by each spawn
  base = 0;
  framesOut = 0;
  rest = Buffer.alloc(0);
  block;
  fill = 0;
  decimator;
  constructor(opts) {
    super();
    const periodMs = opts.periodMs ?? 20;
    if (!Number.isInteger(opts.channels) || opts.channels < 1) {
      throw new RvError("RV_ERR_ALSA_CHANNELS", `Channel count ${opts.channels} is invalid: use 1 or 2.`);
    }
    if (opts.durationSec !== void 0 && !(Number.isInteger(opts.durationSec) && opts.durationSec > 0)) {
      throw new RvError("RV_ERR_ALSA_DURATION", `durationSec must be a whole number of seconds above 0, got ${opts.durationSec}.`);
    }
    this.blockFrames = Math.round(SAMPLE_RATE * periodMs / 1e3);
    if (this.blockFrames < 1) throw new RvError("RV_ERR_ALSA_PERIOD", `periodMs ${periodMs} is too short.`);
    new Decimator(opts.rate, opts.channels);
    this.opts = opts;
    this.log = opts.log ?? silentLog;
    this.clock = opts.clock ?? Date.now;
  }
  /** how many times arecord has been started since construction */
  get attempts() {
    return this.spawned;
  }
  /** pid of the running arecord, if any */
  get pid() {
    return this.child?.pid;
  }
  /** true while a restart is scheduled */
  get waiting() {
    return this.timer !== null;
  }
  async start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.faulted = false;
    this.run();
  }
  /** Kills arecord and cancels any pending restart; resolves once the process is gone. */
  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const child2 = this.child;
    this.child = null;
    if (!child2 || child2.exitCode !== null || child2.signalCode !== null) return;
    await new Promise((resolve3) => {
      const force = setTimeout(() => child2.kill("SIGKILL"), KILL_GRACE_MS);
      child2.once("close", () => {
        clearTimeout(force);
        resolve3();
      });
      child2.kill("SIGTERM");
    });
  }
  args() {
    const { device, rate, channels, durationSec } = this.opts;
    const a = ["-q", "-D", device, "-f", "S16_LE", "-r", String(rate), "-c", String(channels), "-t", "raw"];
    if (durationSec !== void 0) a.push("-d", String(durationSec));
    return a;
  }
  run() {
    const bin = this.opts.arecord ?? "arecord";
    this.spawned++;
    this.base = this.clock();
    this.framesOut = 0;
    this.rest = Buffer.alloc(0);
    this.block = new Int16Array(this.blockFrames * this.opts.channels);
    this.fill = 0;
    this.decimator = new Decimator(this.opts.rate, this.opts.channels);
    const child2 = spawn(bin, this.args(), { env: this.opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child2;
    this.log.debug({ device: this.opts.device, pid: child2.pid, attempt: this.spawned }, "arecord started");
    let stderr = "";
    let line = "";
    let done = false;
    const finish = (fault) => {
      if (done) return;
      done = true;
      if (this.child === child2) this.child = null;
      if (this.stopped) return;
      if (fault) this.fail(fault);
      else {
        this.log.info({ device: this.opts.device }, "arecord run ended after its set duration");
        this.stopped = true;
        this.emit("ended");
      }
    };
    child2.stdout.on("data", (chunk) => {
      if (this.child === child2) this.onData(chunk);
    });
    child2.stderr.setEncoding("utf8");
    child2.stderr.on("data", (s) => {
      stderr = (stderr + s).slice(-2e3);
      const lines = (line + s).split("\n");
      line = lines.pop() ?? "";
      for (const l of lines) if (isOverrunLine(l) && this.child === child2) this.onOverrun(l.trim());
    });
    child2.on("error", (err) => finish(describeSpawnError(bin, err)));
    child2.on("close", (code, signal) => {
      const expected = code === 0 && this.opts.durationSec !== void 0;
      finish(expected ? null : describeExit(this.opts.device, code, signal, stderr));
    });
  }
  fail(fault) {
    this.failures++;
    const delay = Math.min(this.backoff.maxMs, this.backoff.firstMs * 2 ** (this.failures - 1));
    this.log.warn({ device: this.opts.device, code: fault.code, retryInMs: delay, failures: this.failures }, fault.message);
    if (!this.faulted) {
      this.faulted = true;
      this.emit("fault", fault);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.run();
    }, delay);
  }
  get backoff() {
    return this.opts.backoff ?? DEFAULT_BACKOFF;
  }
  onOverrun(message) {
    const ms = Number(/at least ([\d.]+) ms/.exec(message)?.[1] ?? 0);
    const now = this.clock();
    const next = this.base + msOf(this.framesOut);
    this.base += Math.max(0, Math.min(ms, now - next));
    this.log.warn({ device: this.opts.device, lostMs: ms }, `audio overrun on "${this.opts.device}": ${message}; the system is too busy to keep up`);
    this.emit("overrun", { message });
  }
  onData(chunk) {
    const ch = this.opts.channels;
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const usable = buf.length - buf.length % (2 * ch);
    this.rest = Buffer.from(buf.subarray(usable));
    if (usable === 0) return;
    const samples2 = new Int16Array(usable / 2);
    Buffer.from(samples2.buffer).set(buf.subarray(0, usable));
    if (this.faulted) {
      this.faulted = false;
      this.log.info({ device: this.opts.device }, "audio flows again");
      this.emit("recovered");
    }
    this.failures = 0;
    const out = this.decimator.push(samples2);
    let i = 0;
    while (i < out.length) {
      const n = Math.min(out.length - i, this.block.length - this.fill);
      this.block.set(out.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === this.block.length) {
        const at = this.base + msOf(this.framesOut);
        this.framesOut += this.blockFrames;
        const pcm = this.block;
        this.block = new Int16Array(pcm.length);
        this.fill = 0;
        this.emit("audio", { at, channels: ch, pcm });
        if (this.stopped) return;
      }
    }
  }
};

// src/sources/analog.ts
var ANALOG_DEFAULTS = { minCallSeconds: 3, hangoverMs: 4e3, callerId: ["v23-fsk", "dtmf-clip"], lineSense: false };
var WATCH_MS = 250;
var AnalogSource = class extends LineSource {
  kind = "alsa";
  lines;
  o;
  log;
  clock;
  devices = [];
  byLine = /* @__PURE__ */ new Map();
  watchdog = null;
  onSense = (e) => this.sense(e);
  constructor(o) {
    super();
    this.o = o;
    this.log = o.log ?? silentLog;
    this.clock = o.clock ?? Date.now;
    this.lines = o.lines.map((l) => l.id);
    for (const d of o.devices) {
      const lines = o.lines.filter((l) => l.input?.device === d.id);
      if (lines.length === 0) continue;
      const capture = new AlsaCapture({
        device: d.device,
        rate: d.rate,
        channels: d.channels,
        arecord: o.arecord,
        env: o.env,
        log: this.log,
        clock: this.clock,
        backoff: { firstMs: d.backoffFirstMs, maxMs: d.backoffMaxMs },
        ...d.runSeconds > 0 ? { durationSec: d.runSeconds } : {}
      });
      const dev = { cfg: d, capture, lines: [], lastAudio: 0, faulted: false, ended: false, lag: { cur: Infinity, prev: Infinity, n: 0 } };
      for (const l of lines) {
        const chans = l.input.channels;
        if (chans.some((c) => c >= d.channels) || chans.length !== l.channels) {
          throw new RvError("RV_ERR_CONFIG", `Line ${l.id}: channels ${chans.join(", ")} do not fit device "${d.id}" (${d.channels} channels) or the line's ${l.channels} channel(s); fix lines.${l.id}.input.`);
        }
        const analog = l.analog ?? ANALOG_DEFAULTS;
        const sense = analog.lineSense && !!o.board;
        if (analog.lineSense && !o.board) this.log.warn({ line: l.id }, `line ${l.id} is set to use the board's line sense, but there is no control board; calls are found from the audio`);
        const st = { id: l.id, channels: chans, analog, sense, tracker: this.tracker(l.id, l.channels, analog, sense) };
        dev.lines.push(st);
        this.byLine.set(l.id, st);
      }
      capture.on("audio", (b) => this.onAudio(dev, b));
      capture.on("fault", (f) => this.fault(dev, f.code, f.message));
      capture.on("recovered", () => this.recover(dev));
      capture.on("ended", () => this.onEnded(dev));
      this.devices.push(dev);
    }
    const unmapped = o.lines.filter((l) => !this.byLine.has(l.id));
    if (unmapped.length) {
      throw new RvError("RV_ERR_CONFIG", `Line(s) ${unmapped.map((l) => l.id).join(", ")} name no configured alsa device; set lines.<id>.input.device to one of: ${o.devices.map((d) => d.id).join(", ") || "none (add alsa.devices)"}.`);
    }
  }
  tracker(line, channels, a, sense) {
    return new AnalogTracker({ line, channels, minCallMs: a.minCallSeconds * 1e3, hangoverMs: a.hangoverMs, callerId: a.callerId, lineSense: sense });
  }
  async start() {
    this.o.board?.on("sense", this.onSense);
    const now = Date.now();
    for (const d of this.devices) {
      d.lastAudio = now;
      d.ended = false;
      await d.capture.start();
    }
    this.watchdog = setInterval(() => this.watch(), WATCH_MS);
    this.watchdog.unref();
  }
  async stop() {
    this.o.board?.off("sense", this.onSense);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const d of this.devices) {
      await d.capture.stop();
      for (const l of d.lines) this.dispatch(l.id, l.tracker.flush("stopped"));
    }
  }
  /** pid of the arecord capturing a device (by device id), for diagnostics and tests */
  capturePid(deviceId) {
    return this.devices.find((d) => d.cfg.id === deviceId)?.capture.pid;
  }
  onAudio(dev, b) {
    dev.lastAudio = Date.now();
    if (dev.faulted) this.recover(dev);
    const n = dev.cfg.channels;
    const frames = b.pcm.length / n;
    this.trackLag(dev, dev.lastAudio - (b.at + frames / 8));
    for (const l of dev.lines) {
      const k = l.channels.length;
      const pcm = new Int16Array(frames * k);
      for (let f = 0; f < frames; f++) for (let c = 0; c < k; c++) pcm[f * k + c] = b.pcm[f * n + l.channels[c]];
      this.dispatch(l.id, l.tracker.push({ at: b.at, channels: k, pcm }));
    }
  }
  sense(e) {
    const l = this.byLine.get(e.line);
    if (!l?.sense) return;
    const dev = this.devices.find((d) => d.lines.includes(l));
    const lag = Math.min(dev.lag.cur, dev.lag.prev);
    this.dispatch(l.id, l.tracker.sense(e.state, Number.isFinite(lag) ? e.at - lag : e.at));
  }
  trackLag(dev, lag) {
    const t = dev.lag;
    t.cur = Math.min(t.cur, lag);
    if (++t.n >= 100) {
      t.prev = t.cur;
      t.cur = Infinity;
      t.n = 0;
    }
  }
  /** A capture that is running but silent is as good as unplugged: fault its lines and restart it. */
  watch() {
    const now = Date.now();
    for (const d of this.devices) {
      const pid = d.capture.pid;
      if (d.ended || pid === void 0 || now - d.lastAudio < d.cfg.stallMs) continue;
      const msg = `No audio from "${d.cfg.device}" for ${Math.round((now - d.lastAudio) / 100) / 10} s although arecord runs; the interface may hang or have been unplugged. Check the USB cable; restarting the capture.`;
      this.fault(d, "RV_ERR_ALSA_STALLED", msg);
      d.lastAudio = now;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
      }
    }
  }
  fault(dev, code, message) {
    for (const l of dev.lines) {
      this.dispatch(l.id, l.tracker.flush("line-fault"));
      l.tracker = this.tracker(l.id, l.channels.length, l.analog, l.sense);
    }
    dev.lag = { cur: Infinity, prev: Infinity, n: 0 };
    if (dev.faulted) return;
    dev.faulted = true;
    for (const l of dev.lines) this.emit("fault", { line: l.id, code, message });
  }
  recover(dev) {
    dev.lastAudio = Date.now();
    if (!dev.faulted) return;
    dev.faulted = false;
    for (const l of dev.lines) this.emit("recovered", { line: l.id });
  }
  onEnded(dev) {
    dev.ended = true;
    this.log.info({ device: dev.cfg.id }, `capture of "${dev.cfg.device}" ended after runSeconds (${dev.cfg.runSeconds} s); its lines are no longer recorded`);
    for (const l of dev.lines) this.dispatch(l.id, l.tracker.flush("capture-ended"));
  }
  dispatch(line, events) {
    for (const e of events) {
      switch (e.type) {
        case "call-start":
          this.emit("call-start", { line, ref: e.ref, at: e.at, channels: e.channels, parties: e.parties });
          break;
        case "call-audio":
          this.emit("call-audio", { line, ref: e.ref, block: e.block });
          break;
        case "call-info":
          this.emit("call-info", { line, ref: e.ref, parties: e.parties });
          break;
        case "call-end":
          this.emit("call-end", { line, ref: e.ref, at: e.at, reason: e.reason });
          break;
        case "dropped":
          this.log.info({ line, reason: e.reason, durationMs: Math.round(e.endAt - e.at) }, e.reason === "missed" ? "ringing call not answered; nothing stored" : "call shorter than minCallSeconds; not stored");
          break;
      }
    }
  }
};

// src/http/passwords.ts
import { randomBytes as randomBytes10, scrypt as scrypt2, timingSafeEqual } from "node:crypto";
var N = 1 << 14;
var derive2 = (pass, salt) => new Promise((res, rej) => scrypt2(pass.normalize("NFKC"), salt, 32, { N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (e, k) => e ? rej(e) : res(k)));
async function hashPassword(pass) {
  const salt = randomBytes10(16);
  return `scrypt$${N}$${salt.toString("base64")}$${(await derive2(pass, salt)).toString("base64")}`;
}
async function checkPassword(pass, stored) {
  const [kind, , salt, hash] = stored.split("$");
  if (kind !== "scrypt" || !salt || !hash) return false;
  const got = await derive2(pass, Buffer.from(salt, "base64"));
  const want = Buffer.from(hash, "base64");
  return got.length === want.length && timingSafeEqual(got, want);
}

// src/setup.ts
var USERNAME = /^[a-zA-Z0-9._-]{1,32}$/;
async function firstRunSetup(d, username, passphrase, via) {
  if (await d.vault.isInitialized()) throw new RvError("RV_ERR_ALREADY_SET_UP", "This box is already set up; log in instead (or restore with the recovery key).", 409);
  if (!USERNAME.test(username)) throw new RvError("RV_ERR_BAD_USERNAME", "A user name is 1\u201332 letters, digits, dots, dashes or underscores.", 422);
  const { recoveryKey } = await d.vault.init(username, passphrase);
  const user = { name: username, role: "admin", passHash: await hashPassword(passphrase), createdAt: d.now() };
  await d.settings.update((s) => {
    s.users = [user];
  });
  await d.audit.append({ actor: username, action: "box.setup", detail: { via } });
  return { recoveryKey, user };
}

// src/retention/policy.ts
var DAY_MS = 864e5;
var LEGAL_OBLIGATION_DAYS = 1826;
var MAX_RETENTION_DAYS = 2557;
var UNTIL_DATE_FALLBACK_DAYS = 92;
function defaultRetention() {
  return {
    training: { kind: "days", days: 90 },
    complaint: { kind: "days", days: 90 },
    evaluation: { kind: "until-date" },
    evidence: { kind: "until-released", reviewEvery: UNTIL_DATE_FALLBACK_DAYS },
    "legal-obligation": { kind: "days", days: LEGAL_OBLIGATION_DAYS }
  };
}
var fail = (purpose, expected) => {
  throw new RvError("RV_ERR_RETENTION", `Retention for "${purpose}": ${expected}.`);
};
var isDays = (v) => Number.isSafeInteger(v) && v >= 1 && v <= MAX_RETENTION_DAYS;
function checkRetention(purpose, p) {
  if (!PURPOSES.includes(purpose)) fail(purpose, `unknown purpose, expected one of ${PURPOSES.join(", ")}`);
  if (typeof p !== "object" || p === null || Array.isArray(p)) return fail(purpose, 'expected an object with a "kind"');
  const o = p;
  const allow2 = (...keys) => {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    if (extra.length) fail(purpose, `unexpected field ${extra.map((k) => `"${k}"`).join(", ")}`);
  };
  if (purpose === "legal-obligation") {
    if (o.kind !== "days") fail(purpose, "a legal obligation must be a number of days");
    if (!isDays(o.days)) fail(purpose, `expected whole days from 1 to ${MAX_RETENTION_DAYS} (7 years); default is ${LEGAL_OBLIGATION_DAYS} (5 years)`);
  }
  switch (o.kind) {
    case "days":
      allow2("kind", "days");
      if (!isDays(o.days)) fail(purpose, `expected whole days from 1 to ${MAX_RETENTION_DAYS} (7 years), got ${JSON.stringify(o.days)}`);
      return { kind: "days", days: o.days };
    case "until-date":
      allow2("kind", "date");
      if (o.date === void 0) return { kind: "until-date" };
      if (!isTime(o.date)) fail(purpose, `expected "date" as ms since 1970 (or no date for ${UNTIL_DATE_FALLBACK_DAYS} days), got ${JSON.stringify(o.date)}`);
      return { kind: "until-date", date: o.date };
    case "until-released":
      allow2("kind", "reviewEvery");
      if (o.reviewEvery === void 0) return { kind: "until-released" };
      if (!isDays(o.reviewEvery)) fail(purpose, `expected "reviewEvery" as whole days from 1 to ${MAX_RETENTION_DAYS}, got ${JSON.stringify(o.reviewEvery)}`);
      return { kind: "until-released", reviewEvery: o.reviewEvery };
    default:
      return fail(purpose, `expected kind "days", "until-date" or "until-released", got ${JSON.stringify(o.kind)}`);
  }
}
function validateRetention(policies) {
  if (typeof policies !== "object" || policies === null || Array.isArray(policies)) return fail("*", "expected an object with one policy per purpose");
  const o = policies;
  for (const k of Object.keys(o)) if (!PURPOSES.includes(k)) fail(k, `unknown purpose, expected one of ${PURPOSES.join(", ")}`);
  const out = {};
  for (const purpose of PURPOSES) {
    if (!(purpose in o)) fail(purpose, "missing; every purpose needs a policy");
    out[purpose] = checkRetention(purpose, o[purpose]);
  }
  return out;
}

// src/retention/rules.ts
var bad2 = (msg) => {
  throw new RvError("RV_ERR_RETENTION", msg);
};
function purposeExpiry(purpose, p, keptAt, until) {
  switch (p.kind) {
    // A per-call date cannot shorten or stretch a day count, so a legal obligation stays what the policy says.
    case "days":
      return keptAt + p.days * DAY_MS;
    case "until-date":
      return until ?? p.date ?? keptAt + UNTIL_DATE_FALLBACK_DAYS * DAY_MS;
    case "until-released":
      return until ?? null;
    default:
      return bad2(`Retention for "${purpose}": unknown policy kind.`);
  }
}
function expiryOf(call, policy) {
  if (!isTime(call.keptAt)) bad2(`Cannot compute expiry: keptAt ${JSON.stringify(call.keptAt)} is not a valid time.`);
  if (call.purposes.length === 0) bad2("Cannot compute expiry: the recording has no purpose; set one or delete it by hand.");
  const perPurpose = {};
  let expiresAt = -Infinity;
  for (const purpose of call.purposes) {
    const p = Object.hasOwn(policy, purpose) ? policy[purpose] : void 0;
    if (!p) return bad2(`Retention for "${purpose}": no policy for this purpose, expected one of ${Object.keys(policy).join(", ")}.`);
    const until = call.purposeUntil && Object.hasOwn(call.purposeUntil, purpose) ? call.purposeUntil[purpose] : void 0;
    if (until !== void 0 && !isTime(until)) bad2(`Retention for "${purpose}": the recording's date ${JSON.stringify(until)} is not a valid time.`);
    const at = purposeExpiry(purpose, p, call.keptAt, until);
    perPurpose[purpose] = at;
    expiresAt = at === null || expiresAt === null ? null : Math.max(expiresAt, at);
  }
  return { perPurpose, expiresAt };
}
var iso = (t) => new Date(t).toISOString();
function decide(call, ctx) {
  if (!ctx.clockSynced) return { action: "keep", reason: "clock not synchronised: never shred on an unknown time" };
  if (!isTime(ctx.now)) return { action: "keep", reason: `no valid current time (${String(ctx.now)}): never shred on an unknown time` };
  if (call.holds.length > 0) return { action: "keep", reason: `legal hold: ${call.holds.join(", ")}` };
  if (ctx.numberHolds) return { action: "keep", reason: "legal hold on the number" };
  if (!call.clockSynced) return { action: "keep", reason: "kept while the clock was not synchronised: expiry unreliable, review by hand" };
  if (call.expiresAt === null) return { action: "keep", reason: "kept until released" };
  if (!isTime(call.expiresAt)) return { action: "keep", reason: `expiry ${String(call.expiresAt)} is not a valid time: review by hand` };
  if (ctx.now < call.expiresAt) return { action: "keep", reason: `not expired: kept until ${iso(call.expiresAt)}` };
  return { action: "shred", reason: `expired at ${iso(call.expiresAt)}${call.restricted ? " (restricted; restriction does not stop expiry)" : ""}` };
}
function erasureDecision(call, ctx) {
  const held = [...call.holds, ...ctx.numberHolds ? ["hold on the number"] : []];
  if (held.length > 0) return { erase: false, reason: `legal hold: ${held.join(", ")}` };
  if (call.purposes.includes("legal-obligation")) {
    const policy = ctx.policy ?? defaultRetention();
    const { perPurpose } = expiryOf({ keptAt: call.keptAt, purposes: ["legal-obligation"], purposeUntil: call.purposeUntil }, policy);
    const until = perPurpose["legal-obligation"];
    if (until === null) return { erase: false, reason: "legal obligation: kept until released" };
    if (!ctx.clockSynced || !isTime(ctx.now)) return { erase: false, reason: `legal obligation: kept until ${iso(until)} (clock not synchronised, cannot tell if it has ended)` };
    if (ctx.now < until) return { erase: false, reason: `legal obligation: kept until ${iso(until)}` };
  }
  return { erase: true, reason: "no legal obligation or legal hold stops erasure" };
}
function freeSpaceForecast(x) {
  const { freeBytes, bytesPerHour, hoursWanted } = x;
  for (const [k, v] of Object.entries({ freeBytes, bytesPerHour, hoursWanted })) {
    if (!Number.isFinite(v) || v < 0) bad2(`Free space forecast: "${k}" must be a number of at least 0, got ${String(v)}.`);
  }
  const hoursLeft = bytesPerHour === 0 ? Infinity : Math.floor(freeBytes / bytesPerHour);
  return { ok: hoursLeft >= hoursWanted, hoursLeft };
}

// src/retention/scheduler.ts
var DEFAULT_RETENTION_INTERVAL_MS = 36e5;
var messageOf = (e) => e instanceof Error ? e.message : String(e);
var RetentionScheduler = class {
  d;
  intervalMs;
  /** the run in progress, shared so two callers never walk the archive at once */
  running;
  timer;
  constructor(d) {
    const ms = d.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
    if (!Number.isSafeInteger(ms) || ms < 1e3) {
      throw new RvError("RV_ERR_RETENTION", `The retention interval must be whole ms of at least 1000, got ${String(d.intervalMs)}.`, 500);
    }
    this.d = d;
    this.intervalMs = ms;
  }
  /** One pass over the archive; while a pass runs, further calls get that pass's result. */
  runOnce() {
    if (!this.running) {
      const p = this.run().finally(() => {
        if (this.running === p) this.running = void 0;
      });
      this.running = p;
    }
    return this.running;
  }
  /** Runs now, then every intervalMs until stop(); the timer never keeps the process alive. */
  start() {
    if (this.timer) return;
    const tick = () => {
      this.runOnce().catch((e) => this.d.log.error({ error: messageOf(e) }, "retention: run failed; will retry at the next interval"));
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    tick();
  }
  /** Stops the timer and resolves once a run in progress has finished, so shutdown never cuts a shred short. */
  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = void 0;
    await this.running?.catch(() => void 0);
  }
  async run() {
    const { archive, clock, log } = this.d;
    const calls = archive.list();
    const skip = (reason) => {
      log.warn({ calls: calls.length }, `retention: nothing shredded: ${reason}`);
      return { checked: 0, shredded: [], kept: calls.length, skippedReason: reason, errors: [] };
    };
    const clockSynced = clock.synced();
    if (!clockSynced) return skip("clock not synchronised: never shred on an unknown time");
    const now = clock.now();
    let policy;
    try {
      policy = this.d.policy();
    } catch (e) {
      return skip(`retention policy unavailable: ${messageOf(e)}`);
    }
    const out = { checked: 0, shredded: [], kept: 0, errors: [] };
    for (const listed of calls) {
      const h = archive.get(listed.id);
      if (!h) continue;
      out.checked++;
      try {
        await this.one(h, policy, { now, clockSynced }, out);
      } catch (e) {
        out.errors.push({ id: h.id, message: messageOf(e) });
        log.error({ id: h.id, error: messageOf(e) }, "retention: call kept after an error; will retry at the next run");
      }
    }
    out.kept = out.checked - out.shredded.length;
    log.info({ checked: out.checked, shredded: out.shredded.length, kept: out.kept, errors: out.errors.length }, "retention: run done");
    return out;
  }
  async one(h, policy, ctx, out) {
    const { expiresAt } = expiryOf({ keptAt: h.keptAt, purposes: [...h.purposes] }, policy);
    const numberHolds = this.d.numberHeld?.(h.id);
    const decision = decide({ holds: h.holds, restricted: h.restricted, clockSynced: h.clockSynced, expiresAt }, { ...ctx, numberHolds });
    if (decision.action !== "shred") return;
    await this.d.archive.shred(h.id);
    out.shredded.push(h.id);
    try {
      await this.d.audit.append({ actor: "retention", action: "call.expired", target: h.id, detail: { purposes: [...h.purposes], reason: decision.reason } });
    } catch (e) {
      out.errors.push({ id: h.id, message: `shredded, but the audit entry failed: ${messageOf(e)}` });
      this.d.log.error({ id: h.id, error: messageOf(e) }, "retention: call shredded but not audited");
    }
  }
};

// src/retention/holds.ts
import { createHmac, randomBytes as randomBytes11 } from "node:crypto";
import { readFile as readFile8 } from "node:fs/promises";
import nacl7 from "tweetnacl";
var HOLD_ID = /^hold-[0-9a-f]{12}$/;
var fail2 = (code, msg, status) => {
  throw new RvError(code, msg, status);
};
var statusOf = (h) => h.release?.confirmedBy ? "released" : h.release ? "release-proposed" : "active";
function checkText(field, v, max) {
  if (typeof v !== "string" || !v.trim()) fail2("RV_ERR_BAD_HOLD", `A legal hold needs a ${field}; fill it in.`, 422);
  const s = v.trim();
  if (s.length > max) fail2("RV_ERR_BAD_HOLD", `The ${field} is ${s.length} characters; keep it to ${max}.`, 422);
  return s;
}
var HoldStore = class {
  constructor(d) {
    this.d = d;
  }
  d;
  file = { v: 1, holds: [] };
  epoch;
  /** per-run key for the in-memory number index; never written anywhere */
  indexKey = randomBytes11(32);
  /** hold id → HMAC of its normalised number, for active number holds whose number this run has seen */
  numberIndex = /* @__PURE__ */ new Map();
  /** calls this run has matched against every active number hold */
  checked = /* @__PURE__ */ new Set();
  tail = Promise.resolve();
  serial(fn) {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => void 0);
    return p;
  }
  /** Loads the holds and repairs headers a power cut left half-done; needs no unlock. */
  async open() {
    let text4;
    try {
      text4 = await readFile8(this.d.path, "utf8");
    } catch (e) {
      if (e.code !== "ENOENT") throw e;
    }
    if (text4 !== void 0) {
      let parsed;
      try {
        parsed = JSON.parse(text4);
      } catch (e) {
        throw new RvError("RV_ERR_HOLDS_FILE", `${this.d.path}: the legal holds file is not valid JSON (${e.message}); restore it from a backup. Nothing is deleted meanwhile.`, 500);
      }
      if (parsed?.v !== 1 || !Array.isArray(parsed.holds)) throw new RvError("RV_ERR_HOLDS_FILE", `${this.d.path}: not a legal holds file (version 1); restore it from a backup.`, 500);
      this.file = parsed;
    }
    await this.serial(() => this.reconcile());
  }
  /** Released holds leave every header; active call holds are on their call. Unknown ids stay: a person must look. */
  async reconcile() {
    const released = new Set(this.file.holds.filter((h) => statusOf(h) === "released").map((h) => h.id));
    for (const c of this.d.archive.list()) {
      if (c.holds.some((x) => released.has(x))) await this.d.archive.updateHeader(c.id, { holds: c.holds.filter((x) => !released.has(x)) });
    }
    for (const h of this.file.holds) {
      if (h.kind !== "call" || statusOf(h) === "released" || !h.callId) continue;
      const c = this.d.archive.get(h.callId);
      if (c && !c.holds.includes(h.id)) await this.d.archive.updateHeader(c.id, { holds: [...c.holds, h.id] });
    }
  }
  async save() {
    await writeFileDurable(this.d.path, JSON.stringify(this.file) + "\n");
  }
  currentEpoch() {
    if (!this.epoch) {
      const p = this.d.vault.newEpoch();
      this.epoch = p;
      p.catch(() => {
        if (this.epoch === p) this.epoch = void 0;
      });
    }
    return this.epoch;
  }
  async seal(s) {
    const ep = await this.currentEpoch();
    const nonce = randomBytes11(nacl7.secretbox.nonceLength);
    const box = nacl7.secretbox(Buffer.from(JSON.stringify(s), "utf8"), nonce, ep.sharedKey);
    return { epoch: ep.id, nonce: nonce.toString("base64"), sealed: Buffer.from(box).toString("base64") };
  }
  async unseal(h) {
    const key = await this.d.vault.epochKey(h.epoch);
    const plain = nacl7.secretbox.open(Buffer.from(h.sealed, "base64"), Buffer.from(h.nonce, "base64"), key);
    if (!plain) throw new RvError("RV_ERR_HOLDS_FILE", `Legal hold ${h.id} does not open; the holds file was altered. Restore it from a backup.`, 500);
    return JSON.parse(Buffer.from(plain).toString("utf8"));
  }
  mac(n) {
    return createHmac("sha256", this.indexKey).update(normalizeNumber(n)).digest("base64");
  }
  activeNumberHolds() {
    return this.file.holds.filter((h) => h.kind === "number" && statusOf(h) !== "released");
  }
  mustGet(id) {
    if (!HOLD_ID.test(id)) fail2("RV_ERR_NO_SUCH_HOLD", `"${id}" is not a legal hold id (hold-\u2026).`, 404);
    const h = this.file.holds.find((x) => x.id === id);
    if (!h) return fail2("RV_ERR_NO_SUCH_HOLD", `There is no legal hold ${id}.`, 404);
    return h;
  }
  async addToCall(c, holdId) {
    if (!c.holds.includes(holdId)) await this.d.archive.updateHeader(c.id, { holds: [...c.holds, holdId] });
  }
  /** Ids of the held numbers this number matches (needs the index, i.e. an unlock or placement this run). */
  matching(parties) {
    const macs = new Set([parties.caller, parties.called].filter((n) => !!n && /\d{3}/.test(n)).map((n) => this.mac(n)));
    return [...this.numberIndex].filter(([id, m]) => macs.has(m) && this.activeNumberHolds().some((h) => h.id === id)).map(([id]) => id);
  }
  /** Whether every active number hold's number is known this run, so a call can be matched. */
  canMatch() {
    return this.activeNumberHolds().every((h) => this.numberIndex.has(h.id));
  }
  async place(actor, x) {
    const reason = checkText("reason", x.reason, 500);
    const caseRef = checkText("case reference", x.caseRef, 120);
    return this.serial(async () => {
      const id = `hold-${randomBytes11(6).toString("hex")}`;
      let covered;
      let secret;
      if (x.kind === "call") {
        const c = x.callId ? this.d.archive.get(x.callId) : void 0;
        if (!c) return fail2("RV_ERR_NO_SUCH_CALL", `There is no kept call ${x.callId ?? "(none given)"}; it may have been deleted or expired.`, 404);
        if (c.holds.length >= 32) fail2("RV_ERR_BAD_HOLD", `Kept call ${c.id} already carries 32 holds; release one first.`, 409);
        covered = [c];
        secret = { reason, caseRef };
      } else if (x.kind === "number") {
        if (!this.d.vault.unlocked) fail2("RV_ERR_VAULT_LOCKED", "Numbers are encrypted; unlock the vault to put a number on hold.", 423);
        const number = typeof x.number === "string" ? x.number.trim() : "";
        if (!/^\+?[0-9][0-9 ()-]{2,30}$/.test(number) || number.replace(/\D/g, "").length < 3) fail2("RV_ERR_BAD_HOLD", `"${number}" is not a phone number; give it as +31\u2026, 0\u2026 or 00\u2026, digits only.`, 422);
        covered = [];
        secret = { number: normalizeNumber(number), reason, caseRef };
      } else {
        return fail2("RV_ERR_BAD_HOLD", 'A hold is on a "call" or on a "number".', 422);
      }
      const rec = { id, kind: x.kind, ...x.kind === "call" ? { callId: covered[0].id } : {}, placedBy: actor, placedAt: this.d.now(), ...await this.seal(secret) };
      this.file.holds.push(rec);
      await this.save().catch((e) => {
        this.file.holds.pop();
        throw e;
      });
      let calls = covered.length;
      for (const c of covered) await this.addToCall(this.d.archive.get(c.id) ?? c, id);
      if (secret.number) {
        this.numberIndex.set(id, this.mac(secret.number));
        calls = (await this.applyIndex()).filter((a) => a.id === id).length;
      }
      await this.d.audit.append({ actor, action: "hold.place", target: id, detail: { kind: x.kind, ...rec.callId ? { call: rec.callId } : {}, calls } });
      return this.view(rec);
    });
  }
  async proposeRelease(actor, id) {
    return this.serial(async () => {
      const h = this.mustGet(id);
      const st = statusOf(h);
      if (st === "released") fail2("RV_ERR_HOLD_RELEASED", `Legal hold ${id} is already released.`, 409);
      if (st === "release-proposed") {
        fail2("RV_ERR_RELEASE_PENDING", h.release.proposedBy === actor ? `You already proposed releasing ${id}; a second, different manager must now confirm it.` : `${h.release.proposedBy} already proposed releasing ${id}; confirm it or withdraw the proposal.`, 409);
      }
      h.release = { proposedBy: actor, proposedAt: this.d.now() };
      await this.save();
      await this.d.audit.append({ actor, action: "hold.release.propose", target: id });
      return this.view(h);
    });
  }
  async withdrawRelease(actor, id) {
    return this.serial(async () => {
      const h = this.mustGet(id);
      if (statusOf(h) !== "release-proposed") fail2("RV_ERR_NO_RELEASE_PENDING", `No release of ${id} is waiting for confirmation.`, 409);
      const by = h.release.proposedBy;
      delete h.release;
      await this.save();
      await this.d.audit.append({ actor, action: "hold.release.withdraw", target: id, detail: { proposedBy: by } });
      return this.view(h);
    });
  }
  /** The second manager's step: only then does the hold leave the headers. */
  async confirmRelease(actor, id) {
    return this.serial(async () => {
      const h = this.mustGet(id);
      const st = statusOf(h);
      if (st === "released") fail2("RV_ERR_HOLD_RELEASED", `Legal hold ${id} is already released.`, 409);
      if (st === "active") fail2("RV_ERR_NO_RELEASE_PENDING", `Nobody has proposed releasing ${id} yet; one manager proposes, a second, different manager confirms.`, 409);
      if (h.release.proposedBy === actor) {
        await this.d.audit.append({ actor, action: "hold.release.refused", target: id, detail: { why: "same manager" } });
        fail2("RV_ERR_SAME_MANAGER", `You proposed releasing ${id} yourself; a second, different manager must confirm the release.`, 409);
      }
      h.release = { ...h.release, confirmedBy: actor, confirmedAt: this.d.now() };
      await this.save();
      this.numberIndex.delete(id);
      let calls = 0;
      for (const c of this.d.archive.list()) {
        if (!c.holds.includes(id)) continue;
        await this.d.archive.updateHeader(c.id, { holds: c.holds.filter((x) => x !== id) });
        calls++;
      }
      await this.d.audit.append({ actor, action: "hold.release.confirm", target: id, detail: { proposedBy: h.release.proposedBy, calls } });
      return this.view(h);
    });
  }
  /**
   * After an unlock: learn every held number and put each number hold on all its calls, those kept while
   * locked included. `parties` must work (the catalog unlocked).
   */
  async sweep() {
    return this.serial(async () => {
      const active = this.activeNumberHolds();
      for (const h of active) {
        const s = await this.unseal(h);
        if (s.number) this.numberIndex.set(h.id, this.mac(s.number));
      }
      if (active.length === 0) {
        for (const c of this.d.archive.list()) this.checked.add(c.id);
        return { applied: 0 };
      }
      const applied = (await this.applyIndex()).length;
      if (applied) await this.d.audit.append({ actor: "box", action: "hold.apply", detail: { by: "unlock sweep", calls: applied } });
      return { applied };
    });
  }
  /**
   * Matches every call in the archive (parties from the unlocked catalog) against every indexed number hold and
   * adds what is missing. When the index is complete, every call kept so far is checked: sweptAt moves on.
   */
  async applyIndex() {
    const complete = this.canMatch();
    const startedAt = Date.now();
    const added = [];
    for (const listed of this.d.archive.list()) {
      const p = this.d.partiesOf(listed.id);
      if (!p) continue;
      const c = this.d.archive.get(listed.id) ?? listed;
      const ids = this.matching(p).filter((id) => !c.holds.includes(id));
      if (ids.length) await this.d.archive.updateHeader(c.id, { holds: [...c.holds, ...ids] });
      for (const id of ids) added.push({ id, call: c.id });
      if (complete) this.checked.add(c.id);
    }
    if (complete) {
      this.file.sweptAt = startedAt;
      await this.save();
    }
    return added;
  }
  /** A call just landed in the archive: put every number hold matching its live parties on it. */
  async onKept(callId, parties) {
    return this.serial(async () => {
      if (this.activeNumberHolds().length === 0) {
        this.checked.add(callId);
        return [];
      }
      if (!this.canMatch()) return [];
      const ids = this.matching(parties);
      const c = this.d.archive.get(callId);
      if (!c) return [];
      const add = ids.filter((id) => !c.holds.includes(id));
      if (add.length) {
        await this.d.archive.updateHeader(callId, { holds: [...c.holds, ...add] });
        await this.d.audit.append({ actor: "box", action: "hold.apply", target: callId, detail: { holds: add } });
      }
      this.checked.add(callId);
      return add;
    });
  }
  /**
   * For the retention scheduler: true when a number hold might cover the call but this run could not check
   * (kept before the first unlock after a restart). Doubt keeps.
   */
  maybeHeld(callId) {
    if (this.checked.has(callId)) return false;
    const active = this.activeNumberHolds();
    if (active.length === 0) return false;
    const c = this.d.archive.get(callId);
    if (!c) return false;
    return c.keptAt >= (this.file.sweptAt ?? 0);
  }
  /** Calls carrying each hold id, in one pass over the archive. */
  counts() {
    const m = /* @__PURE__ */ new Map();
    for (const c of this.d.archive.list()) for (const id of c.holds) m.set(id, (m.get(id) ?? 0) + 1);
    return m;
  }
  async view(h, counts = this.counts()) {
    const st = statusOf(h);
    const v = {
      id: h.id,
      kind: h.kind,
      status: st,
      ...h.callId ? { callId: h.callId } : {},
      placedBy: h.placedBy,
      placedAt: h.placedAt,
      calls: counts.get(h.id) ?? 0,
      ...h.release ? { proposedBy: h.release.proposedBy, proposedAt: h.release.proposedAt } : {},
      ...h.release?.confirmedBy ? { releasedBy: h.release.confirmedBy, releasedAt: h.release.confirmedAt } : {},
      sealed: true
    };
    if (this.d.vault.unlocked) {
      const s = await this.unseal(h);
      Object.assign(v, { sealed: false, reason: s.reason, caseRef: s.caseRef, ...s.number ? { number: s.number } : {} });
    }
    return v;
  }
  /** Active and proposed holds first, newest first; released ones stay listed as history. */
  async list() {
    const order = { active: 0, "release-proposed": 0, released: 1 };
    const hs = [...this.file.holds].sort((a, b) => order[statusOf(a)] - order[statusOf(b)] || b.placedAt - a.placedAt);
    const counts = this.counts();
    return Promise.all(hs.map((h) => this.view(h, counts)));
  }
  /** Hold ids in force on a call (for the call page). */
  activeOn(callId) {
    const c = this.d.archive.get(callId);
    return c ? c.holds.filter((x) => this.file.holds.some((h) => h.id === x && statusOf(h) !== "released")) : [];
  }
};

// src/sources/siprec.ts
import { networkInterfaces } from "node:os";

// src/rtp/packet.ts
function parseRtp(buf) {
  if (!Buffer.isBuffer(buf) || buf.length < 12) return null;
  const b0 = buf[0];
  const b1 = buf[1];
  if (b0 >> 6 !== 2) return null;
  const pt = b1 & 127;
  if (pt >= 72 && pt <= 76) return null;
  let off = 12 + (b0 & 15) * 4;
  if (off > buf.length) return null;
  if (b0 & 16) {
    if (off + 4 > buf.length) return null;
    off += 4 + buf.readUInt16BE(off + 2) * 4;
    if (off > buf.length) return null;
  }
  let end2 = buf.length;
  if (b0 & 32) {
    const pad = buf[buf.length - 1];
    if (pad === 0 || end2 - pad < off) return null;
    end2 -= pad;
  }
  return {
    version: 2,
    pt,
    marker: (b1 & 128) !== 0,
    seq: buf.readUInt16BE(2),
    ts: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(off, end2)
  };
}
function parseTelephoneEvent(payload) {
  if (!Buffer.isBuffer(payload) || payload.length < 4) return null;
  return { event: payload[0], end: (payload[1] & 128) !== 0, volume: payload[1] & 63, duration: payload.readUInt16BE(2) };
}
var DIGITS = "0123456789*#ABCD!";
var digitOfEvent = (event) => event >= 0 && event < DIGITS.length ? DIGITS[event] : void 0;

// src/audio/g711.ts
var SIGN_BIT = 128;
var QUANT_MASK = 15;
var SEG_SHIFT = 4;
var SEG_MASK = 112;
var ULAW_BIAS = 132;
function alawToLinear(byte) {
  const a = byte ^ 85;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  let t = (a & QUANT_MASK) << 4;
  if (seg === 0) t += 8;
  else t = t + 264 << seg - 1;
  return a & SIGN_BIT ? t : -t;
}
function ulawToLinear(byte) {
  const u = ~byte & 255;
  const t = ((u & QUANT_MASK) << 3) + ULAW_BIAS << ((u & SEG_MASK) >> SEG_SHIFT);
  return u & SIGN_BIT ? ULAW_BIAS - t : t - ULAW_BIAS;
}
var ALAW_TABLE = Int16Array.from({ length: 256 }, (_, b) => alawToLinear(b));
var ULAW_TABLE = Int16Array.from({ length: 256 }, (_, b) => ulawToLinear(b));
var decode2 = (buf, table) => {
  const out = new Int16Array(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = table[buf[i]];
  return out;
};
var alawDecode = (buf) => decode2(buf, ALAW_TABLE);
var ulawDecode = (buf) => decode2(buf, ULAW_TABLE);

// src/rtp/stream.ts
var DEFAULT_PAYLOADS = { 0: "PCMU", 8: "PCMA", 101: "telephone-event" };
var MAX_DROPOUT = 3e3;
var MAX_MISORDER = 100;
var DUP_WINDOW = 1024;
var TRUST_GAP = 2 * SAMPLE_RATE;
var AGREE = SAMPLE_RATE;
var SILENCE_BLOCK = SAMPLE_RATE;
var MAX_DIGITS = 512;
var RtpStream = class {
  stats = { packets: 0, lost: 0, reordered: 0, duplicates: 0, late: 0, jitterMs: 0, ssrcChanges: 0, ignored: 0, filled: 0 };
  digits = [];
  payloads;
  depth;
  maxDelay;
  origin;
  // sequence state of the current source
  ssrc;
  maxExt = 0;
  baseExt = 0;
  received = 0;
  lostBefore = 0;
  badSeq = -1;
  seen = new Float64Array(DUP_WINDOW).fill(-1);
  nextPlay = -Infinity;
  held = [];
  jitter = 0;
  lastTransit;
  // timeline
  pos = 0;
  anchor;
  resync = true;
  event;
  constructor(opts = {}) {
    this.payloads = opts.payloads ?? DEFAULT_PAYLOADS;
    this.depth = Math.max(0, opts.depth ?? 5);
    this.maxDelay = Math.max(0, opts.maxDelayMs ?? 200);
    this.origin = opts.origin;
    this.onDigit = opts.onDigit;
  }
  onDigit;
  /** Samples put out so far: the stream's length from its origin. */
  get samples() {
    return this.pos;
  }
  /** Takes one packet that arrived at `arrivalMs`; returns the audio it lets out, in order. */
  push(p, arrivalMs) {
    const out = [];
    if (!Number.isFinite(arrivalMs)) return out;
    if (this.ssrc !== p.ssrc) {
      if (this.ssrc !== void 0) {
        this.releaseAll(out);
        this.stats.ssrcChanges++;
        this.resync = true;
      }
      this.restartSequence(p.ssrc, p.seq);
    }
    let ext = this.extend(p.seq);
    if (ext === void 0) {
      if (this.badSeq === p.seq) {
        this.releaseAll(out);
        this.restartSequence(p.ssrc, p.seq);
        this.resync = true;
        ext = this.maxExt;
      } else {
        this.badSeq = p.seq + 1 & 65535;
        this.stats.ignored++;
        return out;
      }
    }
    const slot = ext % DUP_WINDOW;
    if (this.seen[slot] === ext) {
      this.stats.duplicates++;
      return out;
    }
    this.seen[slot] = ext;
    this.stats.packets++;
    this.received++;
    if (ext < this.baseExt) this.baseExt = ext;
    if (ext > this.maxExt) this.maxExt = ext;
    else if (ext < this.maxExt) this.stats.reordered++;
    this.updateJitter(p, arrivalMs);
    if (ext < this.nextPlay) {
      this.stats.late++;
      return out;
    }
    let i = this.held.length;
    while (i > 0 && this.held[i - 1].ext > ext) i--;
    this.held.splice(i, 0, { ext, p, arrival: arrivalMs });
    while (this.held.length > this.depth || this.held.length > 0 && this.held[0].arrival + this.maxDelay <= arrivalMs) this.release(this.held.shift(), out);
    return out;
  }
  /** Lets out packets that waited longer than the reorder delay (call it on a timer for live streams). */
  drain(nowMs) {
    const out = [];
    while (this.held.length > 0 && this.held[0].arrival + this.maxDelay <= nowMs) this.release(this.held.shift(), out);
    return out;
  }
  /** Lets out everything held, at the end of the call. */
  flush() {
    const out = [];
    this.releaseAll(out);
    return out;
  }
  /** Pads the timeline with silence up to `index` samples (to end two directions together). */
  padTo(index) {
    const out = [];
    if (this.origin === void 0) return out;
    this.silence(Math.floor(index) - this.pos, out);
    return out;
  }
  restartSequence(ssrc, seq) {
    this.lostBefore += this.lostNow();
    const floor = this.ssrc === void 0 ? 0 : Math.ceil((this.maxExt + 131072) / 65536) * 65536;
    this.maxExt = this.baseExt = floor + 65536 + seq;
    this.ssrc = ssrc;
    this.received = 0;
    this.badSeq = -1;
    this.lastTransit = void 0;
    this.nextPlay = -Infinity;
    this.event = void 0;
  }
  lostNow() {
    return this.ssrc === void 0 ? 0 : Math.max(0, this.maxExt - this.baseExt + 1 - this.received);
  }
  extend(seq) {
    const delta = (seq - (this.maxExt & 65535) + 32768 & 65535) - 32768;
    if (delta > MAX_DROPOUT || delta < -MAX_MISORDER) return void 0;
    return this.maxExt + delta;
  }
  updateJitter(p, arrivalMs) {
    const codec = this.payloads[p.pt];
    if (codec !== "PCMA" && codec !== "PCMU") return;
    const transit = arrivalMs * (SAMPLE_RATE / 1e3) - p.ts;
    if (this.lastTransit !== void 0) {
      let d = Math.abs(transit - this.lastTransit);
      if (d > 2147483648) d = Math.abs(d - 4294967296);
      if (d < SAMPLE_RATE * 10) this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.stats.jitterMs = Math.round(this.jitter * 1e3 / SAMPLE_RATE * 100) / 100;
  }
  releaseAll(out) {
    while (this.held.length > 0) this.release(this.held.shift(), out);
  }
  release(h, out) {
    this.nextPlay = h.ext + 1;
    this.stats.lost = this.lostBefore + this.lostNow();
    const codec = this.payloads[h.p.pt];
    if (codec === "PCMA" || codec === "PCMU") this.play(h, codec, out);
    else if (codec === "telephone-event") this.telephoneEvent(h);
    else this.stats.ignored++;
  }
  /** Where the sample of timestamp `ts` falls, judged by arrival time alone. */
  byArrival(arrival, samplesBefore) {
    if (this.anchor) return this.anchor.index + this.anchor.n + Math.round((arrival - this.anchor.arrival) * (SAMPLE_RATE / 1e3)) - samplesBefore;
    return Math.round((arrival - this.origin) * (SAMPLE_RATE / 1e3)) - samplesBefore;
  }
  play(h, codec, out) {
    const n = h.p.payload.length;
    if (n === 0) return;
    this.stats.codec = codec;
    if (this.origin === void 0) this.origin = h.arrival - n * 1e3 / SAMPLE_RATE;
    let index;
    if (this.resync || !this.anchor) {
      index = this.byArrival(h.arrival, n);
      this.resync = false;
    } else {
      index = this.anchor.index + (h.p.ts - this.anchor.ts | 0);
      const gap = index - this.pos;
      const arrived = this.byArrival(h.arrival, n);
      if ((gap > TRUST_GAP || gap < -AGREE) && Math.abs(arrived - index) > AGREE || index > arrived + AGREE) index = arrived;
    }
    this.anchor = { ts: h.p.ts, index, arrival: h.arrival, n, ssrc: h.p.ssrc };
    this.silence(index - this.pos, out);
    const skip = this.pos - index;
    if (skip >= n) return;
    const pcm = (codec === "PCMA" ? alawDecode : ulawDecode)(skip > 0 ? h.p.payload.subarray(skip) : h.p.payload);
    out.push({ index: this.pos, at: this.timeOf(this.pos), pcm });
    this.pos += pcm.length;
  }
  silence(samples2, out) {
    if (!(samples2 > 0)) return;
    this.stats.filled += samples2;
    while (samples2 > 0) {
      const k = Math.min(samples2, SILENCE_BLOCK);
      out.push({ index: this.pos, at: this.timeOf(this.pos), pcm: new Int16Array(k) });
      this.pos += k;
      samples2 -= k;
    }
  }
  timeOf(index) {
    return this.origin + index * 1e3 / SAMPLE_RATE;
  }
  telephoneEvent(h) {
    const te = parseTelephoneEvent(h.p.payload);
    if (!te) {
      this.stats.ignored++;
      return;
    }
    const digit = digitOfEvent(te.event);
    if (digit === void 0) return;
    const cur = this.event;
    if (cur && cur.ts === h.p.ts && cur.event === te.event) {
      cur.digit.durationMs = Math.max(cur.digit.durationMs, te.duration * 1e3 / SAMPLE_RATE);
      if (te.end) cur.digit.ended = true;
      return;
    }
    if (this.origin === void 0) this.origin = h.arrival - te.duration * 1e3 / SAMPLE_RATE;
    const arrived = this.byArrival(h.arrival, te.duration);
    let index = this.anchor?.ssrc === h.p.ssrc ? this.anchor.index + (h.p.ts - this.anchor.ts | 0) : arrived;
    if (Math.abs(index - arrived) > TRUST_GAP) index = arrived;
    const d = { digit, at: Math.round(this.timeOf(Math.max(0, index))), durationMs: te.duration * 1e3 / SAMPLE_RATE, ended: te.end };
    this.event = { ts: h.p.ts, event: te.event, digit: d };
    if (this.digits.length < MAX_DIGITS) this.digits.push(d);
    this.onDigit?.(d);
  }
};

// src/rtp/stereo.ts
var StereoJoiner = class {
  constructor(emit, opts = {}) {
    this.emit = emit;
    this.maxLag = Math.round((opts.maxLagMs ?? 2e3) * SAMPLE_RATE / 1e3);
  }
  emit;
  queues = [[], []];
  ends = [0, 0];
  out = 0;
  maxLag;
  /** Frames already put out. */
  get frames() {
    return this.out;
  }
  push(channel, b) {
    if (b.pcm.length === 0) return;
    this.queues[channel].push(b);
    this.ends[channel] = Math.max(this.ends[channel], b.index + b.pcm.length);
    const ready = Math.max(Math.min(this.ends[0], this.ends[1]), Math.max(this.ends[0], this.ends[1]) - this.maxLag);
    this.emitTo(ready);
  }
  /** Puts out everything, the shorter side padded with silence (at the end of the call). */
  flush(toIndex) {
    this.emitTo(Math.max(this.ends[0], this.ends[1], toIndex ?? 0));
  }
  emitTo(end2) {
    while (this.out < end2) {
      const n = Math.min(end2 - this.out, SAMPLE_RATE);
      const pcm = new Int16Array(n * 2);
      for (const ch of [0, 1]) this.fill(ch, pcm, this.out, n);
      this.emit(this.out, pcm);
      this.out += n;
    }
  }
  /** Copies channel `ch`'s samples for frames [from, from+n) into the interleaved block; drops what is used up. */
  fill(ch, pcm, from, n) {
    const q = this.queues[ch];
    const to = from + n;
    while (q.length > 0) {
      const b = q[0];
      const bEnd = b.index + b.pcm.length;
      if (bEnd <= from) {
        q.shift();
        continue;
      }
      if (b.index >= to) break;
      const s = Math.max(from, b.index);
      const e = Math.min(to, bEnd);
      for (let i = s; i < e; i++) pcm[(i - from) * 2 + ch] = b.pcm[i - b.index];
      if (bEnd <= to) q.shift();
      else break;
    }
  }
};

// src/sip/message.ts
var DEFAULT_SIP_LIMITS = { maxBytes: 65536, maxHeaders: 200 };
var COMPACT = {
  i: "Call-ID",
  f: "From",
  t: "To",
  m: "Contact",
  l: "Content-Length",
  c: "Content-Type",
  v: "Via",
  k: "Supported",
  e: "Content-Encoding",
  s: "Subject",
  o: "Event",
  r: "Refer-To",
  b: "Referred-By",
  u: "Allow-Events",
  x: "Session-Expires"
};
var headerKey = (name) => (COMPACT[name.toLowerCase()] ?? name).toLowerCase();
var malformed = (what) => new RvError("RV_ERR_SIP_MALFORMED", `Malformed SIP message: ${what}. Check the SIP peer's configuration or trace the traffic; the message was ignored.`, 400);
var TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
var START_REQ = /^([A-Za-z0-9\-.!%*_+`'~]+) +(\S+) +SIP\/2\.0$/i;
var START_RES = /^SIP\/2\.0 +([1-6][0-9]{2})(?: +(.*))?$/i;
function makeMessage(base) {
  const msg = base;
  msg.get = (name) => {
    const k = headerKey(name);
    return msg.headers.find(([n]) => headerKey(n) === k)?.[1];
  };
  msg.getAll = (name) => {
    const k = headerKey(name);
    return msg.headers.filter(([n]) => headerKey(n) === k).map(([, v]) => v);
  };
  return msg;
}
function findHeadEnd(buf, from = 0, limit = buf.length) {
  for (let i = buf.indexOf(10, from); i >= 0 && i < limit; i = buf.indexOf(10, i + 1)) {
    if (buf[i + 1] === 10) return { at: i + (buf[i - 1] === 13 ? -1 : 0), sep: buf[i - 1] === 13 ? 3 : 2 };
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return { at: i + (buf[i - 1] === 13 ? -1 : 0), sep: buf[i - 1] === 13 ? 4 : 3 };
  }
  return void 0;
}
function parseSip(buf, limits = DEFAULT_SIP_LIMITS) {
  if (buf.length > limits.maxBytes) throw malformed(`it is ${buf.length} bytes, more than the ${limits.maxBytes} allowed`);
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start >= buf.length) throw malformed("it is empty");
  const end2 = findHeadEnd(buf, start);
  const headText = buf.subarray(start, end2 ? end2.at : buf.length).toString("utf8");
  let rest = end2 ? buf.subarray(end2.at + end2.sep) : Buffer.alloc(0);
  const lines = headText.split(/\r?\n/);
  const first = lines.shift().trim();
  const headers = [];
  for (const line of lines) {
    if (line === "" || line === "\r") continue;
    if (line[0] === " " || line[0] === "	") {
      const last = headers[headers.length - 1];
      if (!last) throw malformed("the first header line is a continuation line");
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed(`header line "${line.slice(0, 40)}" has no name and colon`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw malformed(`header name "${name.slice(0, 40)}" has characters a header name cannot have`);
    headers.push([COMPACT[name.toLowerCase()] ?? name, line.slice(colon + 1).trim()]);
    if (headers.length > limits.maxHeaders) throw malformed(`it has more than ${limits.maxHeaders} headers`);
  }
  const msg = { kind: "request", headers, body: rest };
  const req = START_REQ.exec(first);
  const res = req ? null : START_RES.exec(first);
  if (req) {
    msg.method = req[1].toUpperCase();
    msg.uri = req[2];
  } else if (res) {
    msg.kind = "response";
    msg.status = Number(res[1]);
    msg.reason = (res[2] ?? "").trim();
  } else {
    throw malformed(`the first line "${first.slice(0, 60)}" is neither a request line nor a status line`);
  }
  const full = makeMessage(msg);
  const cl = full.get("Content-Length");
  if (cl !== void 0) {
    if (!/^\s*[0-9]{1,9}\s*$/.test(cl)) throw malformed(`Content-Length "${cl.slice(0, 20)}" is not a number`);
    const n = Number(cl);
    if (n > rest.length) throw malformed(`Content-Length says ${n} bytes but only ${rest.length} arrived`);
    rest = rest.subarray(0, n);
    full.body = rest;
  }
  for (const h of ["Call-ID", "CSeq", "From", "To", "Via"]) {
    if (full.get(h) === void 0) throw malformed(`the mandatory ${h} header is missing`);
  }
  const cseq = /^\s*([0-9]{1,10})\s+(\S+)\s*$/.exec(full.get("CSeq"));
  if (!cseq || Number(cseq[1]) > 4294967295) throw malformed(`CSeq "${full.get("CSeq").slice(0, 40)}" is not "<number> <method>"`);
  return full;
}
function cseqOf(msg) {
  const [n, m] = msg.get("CSeq").trim().split(/\s+/);
  return { seq: Number(n), method: m.toUpperCase() };
}
function serializeSip(m) {
  const body = m.body === void 0 ? Buffer.alloc(0) : Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body, "utf8");
  const first = m.kind === "request" ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason ?? ""}`.trimEnd();
  const lines = [first];
  for (const [n, v] of m.headers) if (headerKey(n) !== "content-length") lines.push(`${n}: ${v.replace(/[\r\n]+/g, " ")}`);
  lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r
\r
`, "utf8"), body]);
}
var SipStreamFramer = class {
  constructor(limits = DEFAULT_SIP_LIMITS) {
    this.limits = limits;
  }
  limits;
  buf = Buffer.alloc(0);
  /** Bytes waiting for the rest of a message. */
  get pending() {
    return this.buf.length;
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out = [];
    for (; ; ) {
      let s = 0;
      while (s < this.buf.length && (this.buf[s] === 13 || this.buf[s] === 10)) s++;
      if (s) this.buf = this.buf.subarray(s);
      if (!this.buf.length) break;
      const end2 = findHeadEnd(this.buf, 0, this.limits.maxBytes);
      if (!end2) {
        if (this.buf.length > this.limits.maxBytes) throw malformed(`its header block is longer than ${this.limits.maxBytes} bytes`);
        break;
      }
      const head = this.buf.subarray(0, end2.at).toString("latin1");
      const m = /^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*$/im.exec(head);
      if (!m && /^(?:content-length|l)[ \t]*:/im.test(head)) throw malformed("its Content-Length is not a number");
      const len = m ? Number(m[1]) : 0;
      const total = end2.at + end2.sep + len;
      if (total > this.limits.maxBytes) throw malformed(`it is ${total} bytes, more than the ${this.limits.maxBytes} allowed`);
      if (this.buf.length < total) break;
      out.push(Buffer.from(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
    }
    if (this.buf.length && this.buf.byteOffset > 0 && this.buf.buffer.byteLength > this.limits.maxBytes * 2) this.buf = Buffer.from(this.buf);
    return out;
  }
};
function splitParams(s) {
  const params = {};
  for (const p of s.split(";")) {
    const t = p.trim();
    if (!t) continue;
    const eq = t.indexOf("=");
    if (eq < 0) params[t.toLowerCase()] = "";
    else params[t.slice(0, eq).trim().toLowerCase()] = t.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
  }
  return params;
}
function parseNameAddr(v) {
  const s = v.trim();
  const lt = s.indexOf("<");
  let display;
  let uri;
  let rest;
  if (lt >= 0) {
    const gt = s.indexOf(">", lt);
    if (gt < 0) throw malformed(`address "${s.slice(0, 60)}" has "<" without ">"`);
    display = s.slice(0, lt).trim().replace(/^"(.*)"$/s, "$1").replace(/\\(.)/g, "$1") || void 0;
    uri = s.slice(lt + 1, gt).trim();
    rest = s.slice(gt + 1);
  } else {
    const semi = s.indexOf(";");
    uri = (semi < 0 ? s : s.slice(0, semi)).trim();
    rest = semi < 0 ? "" : s.slice(semi);
  }
  if (!uri) throw malformed(`address "${s.slice(0, 60)}" has no URI`);
  const params = splitParams(rest);
  const out = { uri, params };
  if (display) out.display = display;
  const user = userOfUri(uri);
  if (user !== void 0) out.user = user;
  if (params.tag) out.tag = params.tag;
  return out;
}
function userOfUri(uri) {
  const m = /^\s*(sips?|tel):([^;?>]*)/i.exec(uri);
  if (!m) return void 0;
  let u = m[2];
  if (m[1].toLowerCase() !== "tel") {
    const at = u.lastIndexOf("@");
    if (at < 0) return void 0;
    u = u.slice(0, at);
    const colon = u.indexOf(":");
    if (colon >= 0) u = u.slice(0, colon);
  }
  try {
    u = decodeURIComponent(u);
  } catch {
  }
  return u || void 0;
}
function numberFromUri(uri) {
  const u = userOfUri(uri);
  if (u === void 0) return void 0;
  if (/^(anonymous|restricted|private|withheld)$/i.test(u)) return "withheld";
  if (/^(unknown|unavailable)$/i.test(u)) return "unavailable";
  const stripped = u.replace(/[\s\-.()]/g, "");
  if (/^\+?[0-9*#]+$/.test(stripped)) return stripped;
  return u;
}

// src/sip/siprec-meta.ts
import { XMLParser } from "fast-xml-parser";
var MAX_XML = 64 * 1024;
var ARRAYS = /* @__PURE__ */ new Set(["participant", "stream", "participantstreamassoc", "send", "recv", "nameID", "nameid", "aor", "name", "label"]);
var parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => ARRAYS.has(name)
});
var asArray = (v) => v === void 0 || v === null ? [] : Array.isArray(v) ? v : [v];
var text3 = (v) => {
  if (typeof v === "string" || typeof v === "number") return String(v).trim() || void 0;
  if (v && typeof v === "object" && "#text" in v) return text3(v["#text"]);
  return void 0;
};
var child = (n, name) => {
  const k = Object.keys(n).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === void 0 ? void 0 : n[k];
};
var attr = (n, ...names2) => {
  for (const name of names2) {
    const v = child(n, `@_${name}`);
    if (v !== void 0) return text3(v);
  }
  return void 0;
};
var nodes = (v) => asArray(v).filter((x) => !!x && typeof x === "object");
var texts = (v) => asArray(v).map(text3).filter((x) => !!x);
function parseSiprecMetadata(xml) {
  const s = Buffer.isBuffer(xml) ? xml.toString("utf8") : xml;
  if (s.length > MAX_XML) throw new RvError("RV_ERR_SIPREC_METADATA", `The recording metadata is ${s.length} bytes, more than the ${MAX_XML} read; it was ignored.`, 400);
  if (/<!DOCTYPE|<!ENTITY/i.test(s)) throw new RvError("RV_ERR_SIPREC_METADATA", "The recording metadata carries a DOCTYPE, which RFC 7865 metadata never has; it was ignored.", 400);
  let doc;
  try {
    doc = parser.parse(s, true);
  } catch (e) {
    throw new RvError("RV_ERR_SIPREC_METADATA", `The recording metadata is not well-formed XML (${e.message.split("\n")[0]}); it was ignored.`, 400);
  }
  const root = child(doc, "recording");
  if (!root || typeof root !== "object") throw new RvError("RV_ERR_SIPREC_METADATA", "The recording metadata has no <recording> element (RFC 7865); it was ignored.", 400);
  const rec = root;
  const participants = [];
  for (const p of nodes(child(rec, "participant"))) {
    const id = attr(p, "participant_id", "id");
    if (!id) continue;
    const aors = [];
    const names2 = [];
    for (const n of nodes(child(p, "nameID"))) {
      const a = attr(n, "aor");
      if (a) aors.push(a);
      names2.push(...texts(child(n, "name")));
    }
    aors.push(...texts(child(p, "aor")));
    for (const n of asArray(child(p, "nameID"))) if (typeof n === "string" && /^(sips?|tel):/i.test(n)) aors.push(n);
    names2.push(...texts(child(p, "name")));
    const part = { id, aors, names: names2, send: texts(child(p, "send")), recv: texts(child(p, "recv")) };
    const calling = findText(child(p, "extensiondata"), /^(callingparty|callerorig)$/i);
    if (calling !== void 0) part.calling = /^true$/i.test(calling);
    participants.push(part);
  }
  for (const a of nodes(child(rec, "participantstreamassoc"))) {
    const id = attr(a, "participant_id", "id");
    const p = participants.find((x) => x.id === id);
    if (!p) continue;
    p.send.push(...texts(child(a, "send")));
    p.recv.push(...texts(child(a, "recv")));
  }
  const streams = [];
  for (const st of nodes(child(rec, "stream"))) {
    const id = attr(st, "stream_id", "id");
    if (!id) continue;
    const label = texts(child(st, "label"))[0];
    streams.push(label === void 0 ? { id } : { id, label });
  }
  const out = { participants, streams };
  const from = findText(rec, /^fromhdr$/i);
  if (from) out.fromHeader = from;
  return out;
}
function findText(n, name, depth = 0) {
  if (depth > 8) return void 0;
  for (const x of asArray(n)) {
    if (!x || typeof x !== "object") continue;
    for (const [k, v] of Object.entries(x)) {
      if (k.startsWith("@_")) continue;
      if (name.test(k)) {
        const t = texts(v)[0];
        if (t !== void 0) return t;
      }
      const deeper = findText(v, name, depth + 1);
      if (deeper !== void 0) return deeper;
    }
  }
  return void 0;
}
function mergeSiprecMetadata(known, update) {
  const out = structuredClone(known);
  if (update.fromHeader) out.fromHeader = update.fromHeader;
  for (const p of update.participants) {
    const k = out.participants.find((x) => x.id === p.id);
    if (!k) {
      out.participants.push(structuredClone(p));
      continue;
    }
    if (p.calling !== void 0) k.calling = p.calling;
    for (const f of ["aors", "names", "send", "recv"]) for (const v of p[f]) if (!k[f].includes(v)) k[f].push(v);
  }
  for (const s of update.streams) {
    const k = out.streams.find((x) => x.id === s.id);
    if (!k) out.streams.push({ ...s });
    else if (s.label !== void 0) k.label = s.label;
  }
  return out;
}
function participantNumber(p) {
  for (const a of p.aors) {
    const n = numberFromUri(/^(sips?|tel):/i.test(a) ? a : `sip:${a}`);
    if (n) return n;
  }
  for (const n of p.names) {
    const d = n.replace(/[\s\-.()]/g, "");
    if (/^\+?[0-9]{3,20}$/.test(d)) return d;
  }
  return void 0;
}
function participantsForStreams(meta, labels) {
  const byLabel = (label) => {
    if (label === void 0) return void 0;
    const ids = new Set(meta.streams.filter((s) => s.label === label).map((s) => s.id));
    ids.add(label);
    return meta.participants.find((p) => p.send.some((id) => ids.has(id)));
  };
  const out = labels.map(byLabel);
  const free = meta.participants.filter((p) => !out.includes(p));
  return out.map((p) => p ?? free.shift());
}
function siprecRoles(meta, labels) {
  const ps = meta.participants;
  let caller = ps.find((p) => p.calling === true);
  if (!caller && meta.fromHeader) {
    const fromUser = /<([^>]+)>/.exec(meta.fromHeader)?.[1] ?? meta.fromHeader;
    const n = numberFromUri(/^(sips?|tel):/i.test(fromUser) ? fromUser : `sip:${fromUser}`);
    caller = ps.find((p) => n !== void 0 && participantNumber(p) === n);
  }
  caller ??= ps.find((p) => p.calling !== false) ?? ps[0];
  const callee = ps.find((p) => p !== caller && p.calling !== true);
  const senders = participantsForStreams(meta, labels);
  const channels = senders.map((p, i) => p === caller ? 0 : p === callee ? 1 : i === 0 ? 0 : 1);
  if (channels.length === 2 && channels[0] === channels[1]) return { caller, callee, channels: [0, 1] };
  const out = { channels };
  if (caller) out.caller = caller;
  if (callee) out.callee = callee;
  return out;
}

// src/sip/siprec-server.ts
import { EventEmitter as EventEmitter5 } from "node:events";
import { randomBytes as randomBytes12, randomUUID as randomUUID2 } from "node:crypto";

// src/sip/multipart.ts
function parseContentType(v) {
  const params = {};
  const semi = v.indexOf(";");
  const type = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  if (semi >= 0) {
    const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
    for (let m = re.exec(v); m; m = re.exec(v)) params[m[1].toLowerCase()] = m[2] !== void 0 ? m[2].replace(/\\(.)/g, "$1") : m[3].trim();
  }
  return { type, params };
}
var MAX_DEPTH = 4;
var MAX_PARTS = 32;
function splitMultipart(contentType, body, depth = 0) {
  const { type, params } = parseContentType(contentType);
  if (!type.startsWith("multipart/")) return [{ type, contentType, headers: [["Content-Type", contentType]], body }];
  const boundary = params.boundary;
  if (!boundary || boundary.length > 200) {
    throw new RvError("RV_ERR_SIP_MALFORMED", `The ${type} body has ${boundary ? "an overlong" : "no"} boundary parameter; the peer must send one (RFC 2046).`, 400);
  }
  if (depth >= MAX_DEPTH) throw new RvError("RV_ERR_SIP_MALFORMED", `The body nests multiparts more than ${MAX_DEPTH} deep; it was not read.`, 400);
  const delim = Buffer.from(`--${boundary}`, "latin1");
  const starts = [];
  for (let i = body.indexOf(delim); i >= 0; i = body.indexOf(delim, i + delim.length)) {
    if (i === 0 || body[i - 1] === 10) starts.push(i);
  }
  const parts = [];
  for (let n = 0; n < starts.length; n++) {
    const at = starts[n];
    const after = at + delim.length;
    if (body[after] === 45 && body[after + 1] === 45) break;
    const eol = body.indexOf(10, after);
    if (eol < 0) break;
    let endAt = n + 1 < starts.length ? starts[n + 1] : body.length;
    if (n + 1 < starts.length) {
      if (body[endAt - 1] === 10) endAt--;
      if (body[endAt - 1] === 13) endAt--;
    }
    const part = body.subarray(eol + 1, Math.max(eol + 1, endAt));
    const head = findHeadEnd(part);
    const blankFirst = part[0] === 10 || part[0] === 13 && part[1] === 10;
    const headText = blankFirst ? "" : head ? part.subarray(0, head.at).toString("utf8") : "";
    const content = blankFirst ? part.subarray(part[0] === 10 ? 1 : 2) : head ? part.subarray(head.at + head.sep) : part;
    const headers = [];
    for (const line of headText.split(/\r?\n/)) {
      if (!line) continue;
      if ((line[0] === " " || line[0] === "	") && headers.length) {
        headers[headers.length - 1][1] += ` ${line.trim()}`;
        continue;
      }
      const c = line.indexOf(":");
      if (c > 0) headers.push([line.slice(0, c).trim(), line.slice(c + 1).trim()]);
    }
    const ct = headers.find(([h]) => /^(content-type|c)$/i.test(h))?.[1] ?? "text/plain";
    const leafType = parseContentType(ct).type;
    if (leafType.startsWith("multipart/")) parts.push(...splitMultipart(ct, content, depth + 1));
    else parts.push({ type: leafType, contentType: ct, headers, body: content });
    if (parts.length > MAX_PARTS) throw new RvError("RV_ERR_SIP_MALFORMED", `The body has more than ${MAX_PARTS} parts; it was not read.`, 400);
  }
  return parts;
}

// src/sip/sdp.ts
import { parse, write } from "sdp-transform";
var STATIC = { 0: ["PCMU", 8e3], 3: ["GSM", 8e3], 4: ["G723", 8e3], 8: ["PCMA", 8e3], 9: ["G722", 8e3], 18: ["G729", 8e3] };
var DIRECTIONS = /* @__PURE__ */ new Set(["sendrecv", "sendonly", "recvonly", "inactive"]);
var bad3 = (what) => new RvError("RV_ERR_SDP_MALFORMED", `The SDP body ${what}; the SIP peer must send a valid offer (RFC 4566).`, 488);
function parseSdpStreams(sdp) {
  const text4 = Buffer.isBuffer(sdp) ? sdp.toString("utf8") : sdp;
  if (!/^\s*v=0/.test(text4)) throw bad3('does not start with "v=0"');
  let s;
  try {
    s = parse(text4);
  } catch (e) {
    throw bad3(`could not be read (${e.message})`);
  }
  const sessionDir = s.direction;
  const sessionAddr = s.connection?.ip;
  const out = { streams: [] };
  if (sessionAddr) out.sessionAddr = sessionAddr;
  if (s.origin) out.origin = { sessionId: String(s.origin.sessionId), version: Number(s.origin.sessionVersion) || 0 };
  (s.media ?? []).forEach((m, index) => {
    const pts = String(m.payloads ?? "").trim().split(/\s+/).filter((p) => /^[0-9]{1,3}$/.test(p)).map(Number);
    const payloads = pts.map((pt) => {
      const map = m.rtp?.find((r) => r.payload === pt);
      if (map) return { pt, codec: /^(pcma|pcmu|telephone-event)$/i.test(map.codec) ? map.codec.toUpperCase() === "TELEPHONE-EVENT" ? "telephone-event" : map.codec.toUpperCase() : map.codec, rate: map.rate ?? 8e3 };
      const st = STATIC[pt];
      return { pt, codec: st ? st[0] : `pt${pt}`, rate: st ? st[1] : 8e3 };
    });
    const dir = m.direction ?? sessionDir;
    const stream = {
      index,
      media: m.type,
      addr: m.connection?.ip ?? sessionAddr ?? "",
      port: Number(m.port) || 0,
      payloads,
      direction: dir && DIRECTIONS.has(dir) ? dir : "sendrecv"
    };
    if (m.label !== void 0) stream.label = String(m.label);
    out.streams.push(stream);
  });
  return out;
}
function buildAnswerSdp(a) {
  const ip42 = a.addr.includes(":") ? 6 : 4;
  const desc = {
    version: 0,
    origin: { username: "ringvault", sessionId: a.sessionId, sessionVersion: a.version, netType: "IN", ipVer: ip42, address: a.addr },
    name: "ringvault",
    connection: { version: ip42, ip: a.addr },
    timing: { start: 0, stop: 0 },
    media: a.streams.map((s) => {
      const m = {
        type: s.media,
        port: s.port,
        protocol: "RTP/AVP",
        payloads: s.payloads.length ? s.payloads.map((p) => p.pt).join(" ") : "0",
        rtp: s.payloads.map((p) => ({ payload: p.pt, codec: p.codec, rate: p.rate })),
        fmtp: s.payloads.filter((p) => p.codec === "telephone-event").map((p) => ({ payload: p.pt, config: "0-16" }))
      };
      if (s.port !== 0) m.direction = s.direction;
      if (s.label !== void 0) m.label = s.label;
      return m;
    })
  };
  return write(desc);
}
function answerDirection(offered) {
  return offered === "inactive" || offered === "recvonly" ? "inactive" : "recvonly";
}
function chooseAudioPayloads(offered) {
  const g711 = offered.find((p) => (p.codec === "PCMA" || p.codec === "PCMU") && p.rate === 8e3);
  if (!g711) return [];
  const te = offered.find((p) => p.codec === "telephone-event" && p.rate === 8e3);
  return te ? [g711, te] : [g711];
}

// src/sip/transport.ts
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { EventEmitter as EventEmitter4, once } from "node:events";
var SipTransport = class extends EventEmitter4 {
  constructor(o) {
    super();
    this.o = o;
    this.limits = o.limits ?? DEFAULT_SIP_LIMITS;
  }
  o;
  udp;
  tcp;
  conns = /* @__PURE__ */ new Set();
  limits;
  port = 0;
  async start() {
    const wantUdp = this.o.udp ?? true;
    const wantTcp = this.o.tcp ?? true;
    for (let attempt = 0; ; attempt++) {
      try {
        let port = this.o.port;
        if (wantUdp) port = await this.startUdp(port);
        if (wantTcp) port = await this.startTcp(port);
        this.port = port;
        return;
      } catch (e) {
        await this.stop();
        if (this.o.port !== 0 || attempt >= 5) {
          const err = e;
          throw new RvError("RV_ERR_SIP_LISTEN", `Cannot listen for SIP on ${this.o.host}:${this.o.port} (${err.code ?? err.message}); free the port or set siprec.port to another.`, 500);
        }
      }
    }
  }
  async startUdp(port) {
    const s = createSocket({ type: this.o.host.includes(":") ? "udp6" : "udp4", reuseAddr: false });
    s.on("error", (e) => this.emit("error", e));
    s.on("message", (buf, rinfo) => {
      const peer = {
        proto: "udp",
        address: rinfo.address,
        port: rinfo.port,
        send: (b) => s.send(b, rinfo.port, rinfo.address, (err) => {
          if (err) this.emit("error", err);
        })
      };
      this.deliver(buf, peer);
    });
    s.bind(port, this.o.host);
    await once(s, "listening");
    this.udp = s;
    return s.address().port;
  }
  async startTcp(port) {
    const srv = createServer((sock) => this.onConnection(sock));
    srv.maxConnections = this.o.maxConnections ?? 256;
    srv.on("error", (e) => this.emit("error", e));
    await new Promise((res, rej) => {
      srv.once("error", rej);
      srv.listen(port, this.o.host, () => {
        srv.off("error", rej);
        res();
      });
    });
    this.tcp = srv;
    const a = srv.address();
    return typeof a === "object" && a ? a.port : port;
  }
  onConnection(sock) {
    this.conns.add(sock);
    const framer = new SipStreamFramer(this.limits);
    const peer = {
      proto: "tcp",
      address: sock.remoteAddress ?? "?",
      port: sock.remotePort ?? 0,
      send: (b) => {
        if (!sock.destroyed) sock.write(b);
      }
    };
    sock.setNoDelay(true);
    sock.on("data", (chunk) => {
      let msgs;
      try {
        msgs = framer.push(chunk);
      } catch (e) {
        this.emit("malformed", e, chunk.subarray(0, 512), peer);
        sock.destroy();
        return;
      }
      for (const m of msgs) this.deliver(m, peer);
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => this.conns.delete(sock));
  }
  deliver(buf, peer) {
    if (buf.length <= 4 && buf.every((b) => b === 13 || b === 10)) return;
    let msg;
    try {
      msg = parseSip(buf, this.limits);
    } catch (e) {
      this.emit("malformed", e instanceof RvError ? e : new RvError("RV_ERR_SIP_MALFORMED", String(e)), buf.subarray(0, this.limits.maxBytes), peer);
      return;
    }
    this.emit("message", msg, peer);
  }
  async stop() {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const u = this.udp;
    this.udp = void 0;
    if (u) await new Promise((r) => u.close(() => r()));
    const t = this.tcp;
    this.tcp = void 0;
    if (t) await new Promise((r) => t.close(() => r()));
  }
};

// src/sip/rtp-ports.ts
import { createSocket as createSocket2 } from "node:dgram";
import { once as once2 } from "node:events";
var RtpPortPool = class {
  constructor(o) {
    this.o = o;
    this.next = o.min + o.min % 2;
  }
  o;
  used = /* @__PURE__ */ new Set();
  next;
  get inUse() {
    return this.used.size;
  }
  /** Throws when the range holds no even port, so the server refuses to start instead of refusing every call. */
  check() {
    if (this.o.min + this.o.min % 2 > this.o.max) throw new RvError("RV_ERR_CONFIG", `The RTP port range ${this.o.min}\u2013${this.o.max} holds no even port; set siprec.rtpPortMin below siprec.rtpPortMax.`, 500);
  }
  /** Binds a socket on the next free port; ports another program holds are skipped. */
  async open() {
    const first = this.o.min + this.o.min % 2;
    const span = Math.floor((this.o.max - first) / 2) + 1;
    for (let tried = 0; tried < span; tried++) {
      const port = this.next;
      this.next = port + 2 > this.o.max ? first : port + 2;
      if (this.used.has(port)) continue;
      this.used.add(port);
      const socket = createSocket2({ type: this.o.host.includes(":") ? "udp6" : "udp4" });
      try {
        socket.bind(port, this.o.host);
        await Promise.race([once2(socket, "listening"), once2(socket, "error").then(([e]) => {
          throw e;
        })]);
        return { port, socket };
      } catch {
        this.used.delete(port);
        socket.close();
      }
    }
    throw new RvError("RV_ERR_RTP_PORTS_EXHAUSTED", `No free RTP port in ${this.o.min}\u2013${this.o.max}; widen siprec.rtpPortMin/rtpPortMax or lower the number of recorded calls at once.`, 503);
  }
  release(port, socket) {
    if (socket) {
      try {
        socket.close();
      } catch {
      }
    }
    this.used.delete(port);
  }
};

// src/sip/siprec-server.ts
var RecordingSession = class {
  constructor(callId, remoteTag, from, to, peer, invite, now) {
    this.callId = callId;
    this.remoteTag = remoteTag;
    this.from = from;
    this.to = to;
    this.peer = peer;
    this.invite = invite;
    this.startedAt = now;
    this.mediaChangedAt = now;
    const contact = invite.get("Contact");
    let target = from.uri;
    try {
      if (contact) target = parseNameAddr(contact).uri;
    } catch {
    }
    this.remoteTarget = target;
  }
  callId;
  remoteTag;
  from;
  to;
  peer;
  id = randomUUID2();
  localTag = randomBytes12(6).toString("hex");
  state = "early";
  streams = [];
  metadata = { participants: [], streams: [] };
  /** every metadata document the SRC sent, in order (kept with the call) */
  metadataXml = [];
  /** the line a source assigned this session to */
  line;
  sdpVersion = 1;
  remoteTarget;
  localCseq = 1;
  /** when media last started or changed direction, for the RTP timeout */
  mediaChangedAt;
  startedAt;
  invite;
  /** the INVITE transaction's response-cache key, so a late retransmission gets the final answer again */
  inviteKey = "";
  timers = {};
  /** True while the SRC says it sends on at least one stream. */
  get sending() {
    return this.streams.some((s) => s.port !== 0 && (s.offered === "sendonly" || s.offered === "sendrecv"));
  }
};
var ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO";
var SUPPORTED = /* @__PURE__ */ new Set(["siprec", "timer"]);
var T1 = 500;
var T2 = 4e3;
var PAUSED_LIMIT_MS = 4 * 36e5;
var BAD_LOGS_PER_SEC = 5;
var MAX_CACHED_RESPONSES = 4096;
var MAX_METADATA_DOCS = 16;
var SiprecServer = class extends EventEmitter5 {
  constructor(o) {
    super();
    this.o = o;
    this.now = o.now ?? Date.now;
    this.transport = new SipTransport({ host: o.host, port: o.port, udp: o.udp, tcp: o.tcp, limits: o.limits });
    this.ports = new RtpPortPool({ host: o.host, min: o.rtpPortMin, max: o.rtpPortMax });
    this.transport.on("message", (m, p) => {
      void this.onMessage(m, p).catch((e) => this.o.log.error({ err: e }, "SIP request handling failed"));
    });
    this.transport.on("malformed", (e, raw, p) => {
      try {
        this.onMalformed(e, raw, p);
      } catch (err) {
        this.o.log.error({ err }, "answering a malformed SIP message failed");
      }
    });
    this.transport.on("error", (e) => this.o.log.warn({ err: e }, "SIP socket error"));
  }
  o;
  transport;
  ports;
  sessions = /* @__PURE__ */ new Map();
  responses = /* @__PURE__ */ new Map();
  sweeper;
  now;
  badLog = { second: 0, count: 0, suppressed: 0 };
  get port() {
    return this.transport.port;
  }
  get liveSessions() {
    return [...this.sessions.values()];
  }
  get rtpPortsInUse() {
    return this.ports.inUse;
  }
  async start() {
    this.ports.check();
    await this.transport.start();
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1e3, this.o.rtpTimeoutMs / 4)));
    this.sweeper.unref();
  }
  async stop() {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) {
      if (s.state === "confirmed") this.sendBye(s);
      this.end(s, "shutdown");
    }
    await this.transport.stop();
  }
  key(callId, tag) {
    return `${callId}\0${tag}`;
  }
  async onMessage(m, peer) {
    if (m.kind === "response") return;
    if (!this.allowed(peer.address)) {
      this.warnBad({ from: peer.address, code: "RV_ERR_SIP_FORBIDDEN" }, `SIP ${m.method} from ${peer.address}, which is not in siprec.allowFrom; refused`);
      return m.method === "ACK" ? void 0 : this.reply(m, peer, 403, "Forbidden");
    }
    const method = m.method;
    const cseq = cseqOf(m);
    if (method !== "ACK" && cseq.method !== method) return this.reply(m, peer, 400, "Bad Request - CSeq method differs");
    const cacheKey = `${m.get("Call-ID")}|${m.get("CSeq")}|${this.topBranch(m)}`;
    const cached = method === "ACK" ? void 0 : this.responses.get(cacheKey);
    if (cached) {
      peer.send(cached.buf);
      return;
    }
    let from, to;
    try {
      from = parseNameAddr(m.get("From"));
      to = parseNameAddr(m.get("To"));
    } catch (e) {
      return method === "ACK" ? void 0 : this.reply(m, peer, 400, "Bad Request - unreadable From or To");
    }
    const callId = m.get("Call-ID");
    const found = from.tag ? this.sessions.get(this.key(callId, from.tag)) : void 0;
    const session = found && (!to.tag || to.tag === found.localTag) ? found : void 0;
    switch (method) {
      case "OPTIONS":
        return this.reply(m, peer, 200, "OK", [["Accept", "application/sdp, application/rs-metadata+xml, multipart/mixed"]]);
      case "INVITE":
        if (session && to.tag) return this.reInvite(session, m, peer, cacheKey);
        if (to.tag) return this.reply(m, peer, 481, "Call/Transaction Does Not Exist");
        if (session) return;
        return this.newInvite(m, peer, from, to, cacheKey);
      case "ACK":
        if (session) {
          if (session.timers.retransmit) {
            clearTimeout(session.timers.retransmit);
            session.timers.retransmit = void 0;
          }
        }
        return;
      case "CANCEL":
        if (!session) return this.reply(m, peer, 481, "Call/Transaction Does Not Exist");
        this.reply(m, peer, 200, "OK");
        if (session.state === "early") this.cancel(session, "cancelled");
        return;
      case "BYE":
        if (!session) return this.reply(m, peer, 481, "Call/Transaction Does Not Exist");
        this.reply(m, peer, 200, "OK", [], void 0, cacheKey);
        if (session.state === "early") this.cancel(session, "ended before the answer");
        else this.end(session, "bye");
        return;
      case "UPDATE":
        if (!session) return this.reply(m, peer, 481, "Call/Transaction Does Not Exist");
        return this.reInvite(session, m, peer, cacheKey);
      case "INFO":
        return session ? this.reply(m, peer, 200, "OK") : this.reply(m, peer, 481, "Call/Transaction Does Not Exist");
      default:
        return this.reply(m, peer, 405, "Method Not Allowed");
    }
  }
  /** Keeps a final response for retransmissions (RFC 3261 §17.2), bounded so a flood cannot grow it without end. */
  remember(key, buf) {
    this.responses.delete(key);
    this.responses.set(key, { buf, at: this.now() });
    if (this.responses.size > MAX_CACHED_RESPONSES) this.responses.delete(this.responses.keys().next().value);
  }
  allowed(address) {
    const list = this.o.allowFrom ?? [];
    if (!list.length) return true;
    const a = address.replace(/^::ffff:/, "");
    return list.some((entry) => {
      const [net, bits] = entry.split("/");
      if (bits === void 0) return net === a;
      const v4 = (x) => x.split(".").reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(a) || !/^\d+\.\d+\.\d+\.\d+$/.test(net)) return false;
      const b = Math.min(32, Number(bits));
      const mask = b === 0 ? 0 : ~0 << 32 - b >>> 0;
      return (v4(a) & mask) >>> 0 === (v4(net) & mask) >>> 0;
    });
  }
  topBranch(m) {
    return /;\s*branch=([^;,\s]+)/i.exec(m.get("Via") ?? "")?.[1] ?? "";
  }
  /** The SDP offer and metadata of a request body; throws an RvError with the status to answer. */
  readBody(m) {
    if (!m.body.length) return {};
    const enc = m.get("Content-Encoding");
    if (enc && !/^\s*identity\s*$/i.test(enc)) throw new RvError("RV_ERR_SIP_UNSUPPORTED", `Content-Encoding ${enc} is not supported`, 415);
    const ct = m.get("Content-Type") ?? "application/sdp";
    const parts = splitMultipart(ct, m.body);
    const out = {};
    for (const p of parts) {
      if (p.type === "application/sdp" && out.sdp === void 0) out.sdp = p.body.toString("utf8");
      else if (/rs-metadata/.test(p.type) && out.xml === void 0) out.xml = p.body.toString("utf8");
    }
    if (!parts.some((p) => p.type === "application/sdp" || /rs-metadata/.test(p.type))) {
      throw new RvError("RV_ERR_SIP_UNSUPPORTED", `body type ${parseContentType(ct).type} is not SDP or recording metadata`, 415);
    }
    return out;
  }
  takeMetadata(s, xml) {
    if (!xml) return;
    if (s.metadataXml[s.metadataXml.length - 1] === xml) return;
    if (s.metadataXml.length >= MAX_METADATA_DOCS) s.metadataXml.splice(1, 1);
    s.metadataXml.push(xml);
    try {
      s.metadata = mergeSiprecMetadata(s.metadata, parseSiprecMetadata(xml));
    } catch (e) {
      this.warnBad({ callId: s.callId, err: e.message }, "recording metadata unreadable; kept as sent");
    }
  }
  async newInvite(m, peer, from, to, cacheKey) {
    const unsupported = m.getAll("Require").flatMap((v) => v.split(",")).map((t) => t.trim().toLowerCase()).filter((t) => t && !SUPPORTED.has(t));
    if (unsupported.length) return this.reply(m, peer, 420, "Bad Extension", [["Unsupported", unsupported.join(", ")]]);
    if (!from.tag) return this.reply(m, peer, 400, "Bad Request - From has no tag");
    let body;
    try {
      body = this.readBody(m);
    } catch (e) {
      return this.replyError(m, peer, e);
    }
    if (!body.sdp) return this.reply(m, peer, 488, "Not Acceptable Here", [["Warning", '399 ringvault "An SDP offer is needed in the INVITE"']]);
    let offer;
    try {
      offer = parseSdpStreams(body.sdp);
    } catch (e) {
      return this.replyError(m, peer, e);
    }
    if (this.sessions.size >= this.o.maxSessions) return this.reply(m, peer, 503, "Service Unavailable", [["Retry-After", "5"]]);
    const s = new RecordingSession(m.get("Call-ID"), from.tag, from, to, peer, m, this.now());
    s.inviteKey = cacheKey;
    this.takeMetadata(s, body.xml);
    if (this.o.admit && !this.o.admit(s)) return this.reply(m, peer, 486, "Busy Here", [["Warning", '399 ringvault "No free recording line"']]);
    this.sessions.set(this.key(s.callId, s.remoteTag), s);
    this.reply(m, peer, 100, "Trying");
    const refuse = (why) => {
      this.release(s);
      s.state = "ended";
      this.sessions.delete(this.key(s.callId, s.remoteTag));
      this.emit("refused", s, why);
    };
    try {
      for (const st of offer.streams) s.streams.push(await this.openStream(s, st.index, st.media, st.label, st.port, st.payloads, st.direction));
    } catch (e) {
      refuse(e.message);
      return this.replyError(m, peer, e);
    }
    if (!s.streams.some((x) => x.port !== 0)) {
      refuse("no G.711 stream");
      return this.reply(m, peer, 488, "Not Acceptable Here", [["Warning", '399 ringvault "Only G.711 A-law or u-law audio can be recorded"']], void 0, cacheKey);
    }
    const answer = () => {
      if (s.state !== "early") return;
      s.state = "confirmed";
      s.mediaChangedAt = this.now();
      this.sendOk(s, m, peer, cacheKey);
      this.emit("session", s);
    };
    const delay = this.o.answerDelayMs ?? 0;
    if (delay > 0) {
      this.reply(m, peer, 180, "Ringing", [], s.localTag);
      s.timers.answer = setTimeout(answer, delay);
    } else answer();
  }
  async openStream(s, index, media, label, remotePort, offered, direction) {
    const payloads = media === "audio" && remotePort !== 0 ? chooseAudioPayloads(offered) : [];
    const st = { index, media, port: 0, payloads, offered: direction, packets: 0, lastPacketAt: 0 };
    if (label !== void 0) st.label = label;
    if (!payloads.length) return st;
    const { port, socket } = await this.ports.open();
    st.port = port;
    st.socket = socket;
    socket.on("message", (buf) => {
      if (s.state === "ended") return;
      const at = this.now();
      st.packets++;
      st.lastPacketAt = at;
      try {
        this.emit("rtp", s, index, buf, at);
      } catch (e) {
        if (st.packets % 1e3 === 1) this.o.log.error({ err: e, port }, "RTP packet handling failed");
      }
    });
    socket.on("error", (e) => this.o.log.warn({ err: e, port }, "RTP socket error"));
    return st;
  }
  answerSdp(s) {
    return buildAnswerSdp({
      addr: this.o.mediaAddr,
      sessionId: String(parseInt(s.localTag.slice(0, 8), 16)),
      version: s.sdpVersion,
      streams: s.streams.map((st) => ({
        media: st.media,
        port: st.port,
        payloads: st.port ? st.payloads : [{ pt: 0, codec: "PCMU", rate: 8e3 }],
        direction: answerDirection(st.offered),
        ...st.label !== void 0 ? { label: st.label } : {}
      }))
    });
  }
  sendOk(s, m, peer, cacheKey) {
    const buf = this.response(m, 200, "OK", [["Contact", this.contact(peer)], ["Content-Type", "application/sdp"]], this.answerSdp(s), s.localTag);
    this.remember(cacheKey, buf);
    peer.send(buf);
    if (peer.proto !== "udp") return;
    let wait = T1;
    let spent = 0;
    const again = () => {
      spent += wait;
      if (s.state === "ended" || spent > 64 * T1) {
        s.timers.retransmit = void 0;
        return;
      }
      peer.send(buf);
      wait = Math.min(wait * 2, T2);
      s.timers.retransmit = setTimeout(again, wait);
    };
    if (s.timers.retransmit) clearTimeout(s.timers.retransmit);
    s.timers.retransmit = setTimeout(again, wait);
  }
  async reInvite(s, m, peer, cacheKey) {
    let body;
    try {
      body = this.readBody(m);
    } catch (e) {
      return this.replyError(m, peer, e);
    }
    this.takeMetadata(s, body.xml);
    s.peer = peer;
    if (body.sdp) {
      let offer;
      try {
        offer = parseSdpStreams(body.sdp);
      } catch (e) {
        return this.replyError(m, peer, e);
      }
      try {
        for (const st of offer.streams) {
          const known = s.streams[st.index];
          if (!known) {
            s.streams.push(await this.openStream(s, st.index, st.media, st.label, st.port, st.payloads, st.direction));
            continue;
          }
          known.offered = st.port === 0 ? "inactive" : st.direction;
          if (st.label !== void 0) known.label = st.label;
          const chosen = chooseAudioPayloads(st.payloads);
          if (known.port && chosen.length) known.payloads = chosen;
        }
      } catch (e) {
        return this.replyError(m, peer, e);
      }
      s.sdpVersion++;
      s.mediaChangedAt = this.now();
    }
    if (m.method === "INVITE") this.sendOk(s, m, peer, cacheKey);
    else if (body.sdp) this.reply(m, peer, 200, "OK", [["Contact", this.contact(peer)], ["Content-Type", "application/sdp"]], this.answerSdp(s), cacheKey);
    else this.reply(m, peer, 200, "OK", [["Contact", this.contact(peer)]], void 0, cacheKey);
    this.emit("update", s);
  }
  cancel(s, why) {
    if (s.timers.answer) clearTimeout(s.timers.answer);
    this.reply(s.invite, s.peer, 487, "Request Terminated", [], void 0, s.inviteKey, s.localTag);
    this.release(s);
    s.state = "ended";
    this.sessions.delete(this.key(s.callId, s.remoteTag));
    this.o.log.info({ callId: s.callId }, `recording session ${why} before it was answered`);
    this.emit("cancelled", s);
  }
  release(s) {
    for (const st of s.streams) if (st.port) this.ports.release(st.port, st.socket);
    for (const t of Object.values(s.timers)) if (t) clearTimeout(t);
  }
  end(s, reason) {
    if (s.state === "ended") return;
    const wasLive = s.state === "confirmed";
    s.state = "ended";
    this.release(s);
    this.sessions.delete(this.key(s.callId, s.remoteTag));
    if (wasLive) this.emit("end", s, reason);
  }
  /** Ends calls whose RTP stopped without a BYE, and forgets old cached responses. */
  sweep() {
    const now = this.now();
    for (const s of [...this.sessions.values()]) {
      if (s.state !== "confirmed") continue;
      const last = Math.max(s.mediaChangedAt, ...s.streams.map((x) => x.lastPacketAt));
      if (!s.sending) {
        if (now - last >= PAUSED_LIMIT_MS) {
          this.o.log.warn({ callId: s.callId, line: s.line }, "recording paused for 4 hours without a word from the SRC; ending it");
          this.sendBye(s);
          this.end(s, "paused-timeout");
        }
        continue;
      }
      if (now - last >= this.o.rtpTimeoutMs) {
        this.o.log.warn({ callId: s.callId, line: s.line }, `no RTP for ${Math.round((now - last) / 1e3)} s and no BYE; ending the recording`);
        this.sendBye(s);
        this.end(s, "rtp-timeout");
      }
    }
    for (const [k, v] of this.responses) if (now - v.at > 32e3) this.responses.delete(k);
  }
  sendBye(s) {
    const via = `SIP/2.0/${s.peer.proto.toUpperCase()} ${this.hostPort()};branch=z9hG4bK${randomBytes12(8).toString("hex")};rport`;
    const buf = serializeSip({
      kind: "request",
      method: "BYE",
      uri: s.remoteTarget,
      headers: [["Via", via], ["Max-Forwards", "70"], ["From", this.withTag(s.invite.get("To"), s.localTag)], ["To", s.invite.get("From")], ["Call-ID", s.callId], ["CSeq", `${s.localCseq++} BYE`], ["User-Agent", "ringvault"]]
    });
    try {
      s.peer.send(buf);
    } catch (e) {
      this.o.log.warn({ err: e }, "could not send BYE");
    }
  }
  hostPort() {
    const h = this.o.mediaAddr.includes(":") ? `[${this.o.mediaAddr}]` : this.o.mediaAddr;
    return `${h}:${this.transport.port}`;
  }
  contact(peer) {
    return `<sip:srs@${this.hostPort()}${peer.proto === "tcp" ? ";transport=tcp" : ""}>`;
  }
  withTag(v, tag) {
    return /;\s*tag=/i.test(v) ? v : `${v};tag=${tag}`;
  }
  response(m, status, reason, extra = [], body, tag) {
    const headers = [];
    for (const v of m.getAll("Via")) headers.push(["Via", v]);
    headers.push(["From", m.get("From")]);
    const to = m.get("To");
    headers.push(["To", status > 100 ? this.withTag(to, tag ?? randomBytes12(6).toString("hex")) : to]);
    headers.push(["Call-ID", m.get("Call-ID")], ["CSeq", m.get("CSeq")]);
    if (status === 405 || m.method === "OPTIONS" || m.method === "INVITE" && status === 200) headers.push(["Allow", ALLOW]);
    if (m.method === "OPTIONS" || status === 200) headers.push(["Supported", [...SUPPORTED].join(", ")]);
    headers.push(["Server", "ringvault"], ...extra);
    return serializeSip({ kind: "response", status, reason, headers, ...body !== void 0 ? { body } : {} });
  }
  reply(m, peer, status, reason, extra = [], body, cacheKey, tag) {
    const s = this.sessions.get(this.key(m.get("Call-ID"), parseTagOf(m.get("From")) ?? ""));
    const buf = this.response(m, status, reason, extra, body, tag ?? s?.localTag);
    if (cacheKey && status >= 200) this.remember(cacheKey, buf);
    peer.send(buf);
  }
  replyError(m, peer, e) {
    const err = e instanceof RvError ? e : new RvError("RV_ERR_SIP_INTERNAL", e.message, 500);
    const status = err.status >= 400 && err.status < 700 ? err.status : 500;
    const reason = { 400: "Bad Request", 415: "Unsupported Media Type", 488: "Not Acceptable Here", 503: "Service Unavailable" }[status] ?? "Server Internal Error";
    this.warnBad({ callId: m.get("Call-ID"), code: err.code }, err.message);
    this.reply(m, peer, status, reason, [["Warning", `399 ringvault "${err.message.replace(/["\\\r\n]/g, "'").slice(0, 200)}"`]]);
  }
  /** A request that could not be parsed gets a 400 when enough of it is readable to address one (RFC 3261 §8.2). */
  /** Logs bad input, at most a few lines a second, so a flood from one broken peer cannot fill the disk. */
  warnBad(obj, msg) {
    const sec = Math.floor(this.now() / 1e3);
    if (sec !== this.badLog.second) this.badLog = { second: sec, count: 0, suppressed: this.badLog.suppressed };
    if (this.badLog.count++ >= BAD_LOGS_PER_SEC) {
      this.badLog.suppressed++;
      return;
    }
    const more = this.badLog.suppressed ? ` (${this.badLog.suppressed} more bad messages were not logged)` : "";
    this.badLog.suppressed = 0;
    this.o.log.warn(obj, msg + more);
  }
  onMalformed(e, raw, peer) {
    this.warnBad({ from: `${peer.proto}:${peer.address}:${peer.port}`, code: e.code }, e.message);
    const text4 = raw.subarray(0, 8192).toString("latin1");
    const first = /^\s*([A-Z]+) \S+ SIP\/2\.0\r?\n/i.exec(text4);
    if (!first || first[1].toUpperCase() === "ACK") return;
    const grab = (re) => [...text4.split(/\r?\n\r?\n/)[0].matchAll(re)].map((x) => x[1].trim());
    const via = grab(/^(?:via|v)[ \t]*:(.*)$/gim);
    const from = grab(/^(?:from|f)[ \t]*:(.*)$/gim)[0];
    const to = grab(/^(?:to|t)[ \t]*:(.*)$/gim)[0];
    const callId = grab(/^(?:call-id|i)[ \t]*:(.*)$/gim)[0];
    const cseq = grab(/^cseq[ \t]*:(.*)$/gim)[0];
    if (!via.length || !from || !to || !callId || !cseq) return;
    const reason = `Bad Request - ${e.message.replace(/^Malformed SIP message: /, "").split(".")[0].replace(/[\r\n]/g, " ").slice(0, 100)}`;
    const headers = [...via.map((v) => ["Via", v]), ["From", from], ["To", this.withTag(to, randomBytes12(6).toString("hex"))], ["Call-ID", callId], ["CSeq", cseq], ["Server", "ringvault"]];
    peer.send(serializeSip({ kind: "response", status: 400, reason, headers }));
  }
};
function parseTagOf(v) {
  return /;\s*tag=([^;>\s]+)/i.exec(v)?.[1];
}

// src/sources/siprec.ts
var SETTLE_PACKETS = 5;
var SETTLE_MS = 120;
function defaultMediaAddr(host) {
  if (host !== "0.0.0.0" && host !== "::") return host;
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "127.0.0.1";
}
var SiprecSource = class extends LineSource {
  constructor(o) {
    super();
    this.o = o;
    this.lines = o.lines.map((l) => l.id);
    this.now = o.now ?? Date.now;
    this.server = new SiprecServer({
      ...o.server,
      mediaAddr: o.server.mediaAddr || defaultMediaAddr(o.server.host),
      log: o.log,
      now: this.now,
      admit: (s) => this.admit(s)
    });
    this.server.on("session", (s) => this.onSession(s));
    this.server.on("rtp", (s, i, buf, at) => this.onRtp(s, i, buf, at));
    this.server.on("update", (s) => this.onUpdate(s));
    this.server.on("end", (s, reason) => this.onEnd(s, reason));
    this.server.on("cancelled", (s) => {
      if (s.line) this.busy.delete(s.line);
    });
    this.server.on("refused", (s) => {
      if (s.line) this.busy.delete(s.line);
    });
  }
  o;
  kind = "siprec";
  lines;
  server;
  live = /* @__PURE__ */ new Map();
  busy = /* @__PURE__ */ new Set();
  drainTimer;
  now;
  async start() {
    await this.server.start();
    this.drainTimer = setInterval(() => this.drain(), 50);
    this.drainTimer.unref();
    this.o.log.info({ port: this.server.port, lines: this.lines }, "SIPREC recording server listening");
  }
  async stop() {
    if (this.drainTimer) clearInterval(this.drainTimer);
    await this.server.stop();
  }
  /** Numbers of the parties as far as the session tells: metadata first, the SIP From/To as fallback. */
  partiesOf(s, line) {
    const roles = siprecRoles(s.metadata, s.streams.map((x) => x.label));
    const caller = (roles.caller && participantNumber(roles.caller)) ?? numberFromUri(s.from.uri);
    const called = (roles.callee && participantNumber(roles.callee)) ?? numberFromUri(s.to.uri);
    const own = new Set(line.match ?? []);
    const p = { direction: caller !== void 0 && own.has(caller) ? "out" : "in" };
    if (caller !== void 0) p.caller = caller;
    if (called !== void 0) p.called = called;
    if (s.metadataXml.length) p.siprecMetadata = [...s.metadataXml];
    return p;
  }
  admit(s) {
    const free = this.o.lines.filter((l) => !this.busy.has(l.id));
    const numbers = /* @__PURE__ */ new Set();
    for (const p of s.metadata.participants) {
      const n = participantNumber(p);
      if (n) numbers.add(n);
    }
    for (const u of [s.from.uri, s.to.uri]) {
      const n = numberFromUri(u);
      if (n) numbers.add(n);
    }
    const line = free.find((l) => l.match?.some((n) => numbers.has(n))) ?? free.find((l) => !l.match?.length);
    if (!line) {
      this.o.log.warn({ callId: s.callId }, "SIPREC session refused: every SIPREC line is busy or none matches its numbers; add lines or widen their match lists");
      return false;
    }
    this.busy.add(line.id);
    s.line = line.id;
    return true;
  }
  onSession(s) {
    const line = this.o.lines.find((l) => l.id === s.line);
    const live = {
      s,
      line,
      parties: this.partiesOf(s, line),
      streams: /* @__PURE__ */ new Map(),
      garbage: 0,
      channels: this.channelsOf(s),
      sending: this.sendingOf(s),
      floor: /* @__PURE__ */ new Map(),
      last: /* @__PURE__ */ new Map(),
      resumed: /* @__PURE__ */ new Set(),
      pending: /* @__PURE__ */ new Map(),
      joiner: new StereoJoiner((index, pcm) => this.emitAudio(live, index, pcm), { maxLagMs: 1e3 })
    };
    this.live.set(s.id, live);
    this.emit("call-start", { line: line.id, ref: s.id, at: this.now(), channels: line.channels, parties: { ...live.parties } });
  }
  sendingOf(s) {
    return s.streams.map((x) => x.port !== 0 && (x.offered === "sendonly" || x.offered === "sendrecv"));
  }
  channelsOf(s) {
    return siprecRoles(s.metadata, s.streams.map((x) => x.label)).channels;
  }
  streamFor(live, index, arrival, firstLen) {
    let st = live.streams.get(index);
    if (st) return st;
    live.origin ??= arrival - firstLen * 1e3 / SAMPLE_RATE;
    const payloads = {};
    for (const p of live.s.streams[index]?.payloads ?? []) {
      if (p.codec === "PCMA" || p.codec === "PCMU" || p.codec === "telephone-event") payloads[p.pt] = p.codec;
    }
    st = new RtpStream({
      origin: live.origin,
      payloads,
      onDigit: (d) => {
        live.parties.digits = (live.parties.digits ?? "") + d.digit;
        this.emit("call-info", { line: live.line.id, ref: live.s.id, parties: { digits: live.parties.digits } });
      }
    });
    live.streams.set(index, st);
    return st;
  }
  onRtp(s, index, buf, at) {
    const live = this.live.get(s.id);
    if (!live) return;
    const p = parseRtp(buf);
    if (!p) {
      if (live.garbage++ === 0) this.o.log.warn({ line: live.line.id, port: s.streams[index]?.port }, "packets on an RTP port that are not RTP; ignored");
      return;
    }
    const last = live.last.get(index);
    if (live.resumed.delete(index) && last && !(p.ssrc === last.ssrc && (p.seq - last.seq & 65535) > 0 && (p.seq - last.seq & 65535) < 3e3)) {
      const old = live.streams.get(index);
      if (old) {
        this.place(live, index, old.flush());
        live.floor.set(index, Math.max(live.floor.get(index) ?? 0, old.samples));
        live.streams.delete(index);
      }
    }
    live.last.set(index, { ssrc: p.ssrc, seq: p.seq });
    const st = live.streams.get(index);
    if (st) {
      this.place(live, index, st.push(p, at));
      return;
    }
    const pend = live.pending.get(index) ?? [];
    pend.push({ p, at });
    live.pending.set(index, pend);
    if (pend.length >= SETTLE_PACKETS) this.settle(live, index);
  }
  /**
   * Starts a stream segment from its first packets. Its place on the call's timeline comes from arrival
   * time, so the least delayed of the first few packets (by their RTP timestamps) sets it: one late
   * wake-up of the event loop does not shift the whole segment.
   */
  settle(live, index) {
    const pend = live.pending.get(index);
    if (!pend?.length) return;
    live.pending.delete(index);
    const first = pend[0];
    let base = first.at;
    for (const x of pend) {
      if (x.p.ssrc !== first.p.ssrc) continue;
      const ahead = (x.p.ts - first.p.ts | 0) * 1e3 / SAMPLE_RATE;
      if (ahead >= 0 && ahead < 1e3) base = Math.min(base, x.at - ahead);
    }
    const shift = first.at - base;
    const st = this.streamFor(live, index, base, first.p.payload.length);
    for (const x of pend) this.place(live, index, st.push(x.p, x.at - (x.p.ssrc === first.p.ssrc ? shift : 0)));
  }
  place(live, index, audio) {
    const ch = live.channels[index] ?? (index === 0 ? 0 : 1);
    const floor = live.floor.get(index) ?? 0;
    for (const a of audio) {
      if (a.index + a.pcm.length <= floor) continue;
      const pcm = a.index < floor ? a.pcm.subarray(floor - a.index) : a.pcm;
      live.joiner.push(ch, { index: Math.max(a.index, floor), pcm });
    }
  }
  drain() {
    const now = this.now();
    for (const live of this.live.values()) {
      for (const [i, pend] of live.pending) if (now - pend[0].at >= SETTLE_MS) this.settle(live, i);
      for (const [i, st] of live.streams) this.place(live, i, st.drain(now));
    }
  }
  emitAudio(live, index, stereo) {
    const at = (live.origin ?? this.now()) + index * 1e3 / SAMPLE_RATE;
    let pcm = stereo;
    if (live.line.channels === 1) {
      pcm = new Int16Array(stereo.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = stereo[2 * i] + stereo[2 * i + 1] >> 1;
    }
    this.emit("call-audio", { line: live.line.id, ref: live.s.id, block: { at, channels: live.line.channels, pcm } });
  }
  onUpdate(s) {
    const live = this.live.get(s.id);
    if (!live) return;
    live.channels = this.channelsOf(s);
    const sending = this.sendingOf(s);
    sending.forEach((now, i) => {
      if (now && !live.sending[i]) live.resumed.add(i);
    });
    live.sending = sending;
    const next = this.partiesOf(s, live.line);
    const changed = {};
    for (const k of ["caller", "called", "direction"]) if (next[k] !== void 0 && next[k] !== live.parties[k]) changed[k] = next[k];
    const [a, b] = [next.siprecMetadata ?? [], live.parties.siprecMetadata ?? []];
    if (a.length !== b.length || a[a.length - 1] !== b[b.length - 1]) changed.siprecMetadata = next.siprecMetadata;
    if (!Object.keys(changed).length) return;
    Object.assign(live.parties, changed);
    this.emit("call-info", { line: live.line.id, ref: s.id, parties: changed });
  }
  onEnd(s, reason) {
    const live = this.live.get(s.id);
    if (s.line) this.busy.delete(s.line);
    if (!live) return;
    this.live.delete(s.id);
    for (const i of [...live.pending.keys()]) this.settle(live, i);
    for (const [i, st] of live.streams) this.place(live, i, st.flush());
    live.joiner.flush();
    this.emit("call-end", { line: live.line.id, ref: s.id, at: this.now(), reason });
  }
};

// src/sources/pcap.ts
import { spawn as spawn2 } from "node:child_process";

// src/pcap/decode.ts
var LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, RAW_BSD: 12, RAW_BSD14: 14, LOOP: 108, LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276 };
var FRAG_TIMEOUT_MS = 3e4;
var MAX_FRAG_SETS = 256;
var MAX_DATAGRAM = 65535;
var ip4 = (b, at) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
function ip6(b, at) {
  const parts = [];
  for (let i = 0; i < 8; i++) parts.push(b.readUInt16BE(at + i * 2).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return parts.join(":");
  return `${parts.slice(0, best).join(":")}::${parts.slice(best + bestLen).join(":")}`;
}
var FrameDecoder = class {
  stats = { undecodable: 0, otherProtocols: 0, fragmentsPending: 0 };
  frags = /* @__PURE__ */ new Map();
  decode(f) {
    try {
      const ip = this.ipOf(f.linkType, f.data);
      if (!ip) return void 0;
      return this.ip(f.ts, ip);
    } catch {
      this.stats.undecodable++;
      return void 0;
    }
  }
  ipOf(link, d) {
    switch (link) {
      case LINKTYPE.ETHERNET: {
        let at = 12;
        let type = d.readUInt16BE(at);
        while (type === 33024 || type === 34984 || type === 37120) {
          at += 4;
          type = d.readUInt16BE(at);
        }
        return this.byEthertype(type, d.subarray(at + 2));
      }
      case LINKTYPE.LINUX_SLL:
        return this.byEthertype(d.readUInt16BE(14), d.subarray(16));
      case LINKTYPE.LINUX_SLL2:
        return this.byEthertype(d.readUInt16BE(0), d.subarray(20));
      case LINKTYPE.NULL:
      case LINKTYPE.LOOP: {
        const le = d.readUInt32LE(0);
        const be = d.readUInt32BE(0);
        const af = link === LINKTYPE.LOOP ? be : le < 256 ? le : be;
        if (af === 2 || af === 24 || af === 28 || af === 30) return d.subarray(4);
        this.stats.otherProtocols++;
        return void 0;
      }
      case LINKTYPE.RAW:
      case LINKTYPE.RAW_BSD:
      case LINKTYPE.RAW_BSD14:
      case LINKTYPE.IPV4:
      case LINKTYPE.IPV6:
        return d;
      default:
        this.stats.undecodable++;
        return void 0;
    }
  }
  byEthertype(type, rest) {
    if (type === 2048 || type === 34525) return rest;
    this.stats.otherProtocols++;
    return void 0;
  }
  ip(ts, d) {
    const v = d[0] >> 4;
    if (v === 4) return this.ipv4(ts, d);
    if (v === 6) return this.ipv6(ts, d);
    this.stats.undecodable++;
    return void 0;
  }
  ipv4(ts, d) {
    const ihl = (d[0] & 15) * 4;
    const total = d.readUInt16BE(2);
    if (ihl < 20 || total < ihl) {
      this.stats.undecodable++;
      return void 0;
    }
    const pkt = total > 0 ? d.subarray(0, Math.min(total, d.length)) : d;
    const frag = d.readUInt16BE(6);
    const more = (frag & 8192) !== 0;
    const off = (frag & 8191) * 8;
    const proto = d[9];
    const src = ip4(d, 12);
    const dst = ip4(d, 16);
    let payload = pkt.subarray(ihl);
    if (more || off > 0) {
      const whole = this.fragment(`4/${src}/${dst}/${d.readUInt16BE(4)}/${proto}`, ts, off, more, payload, proto, src, dst);
      if (!whole) return void 0;
      payload = whole;
    }
    return this.transport(ts, proto, src, dst, payload);
  }
  ipv6(ts, d) {
    const plen = d.readUInt16BE(4);
    let next = d[6];
    const src = ip6(d, 8);
    const dst = ip6(d, 24);
    let p = d.subarray(40, 40 + plen);
    for (let hops = 0; hops < 8; hops++) {
      if (next === 0 || next === 43 || next === 60) {
        const n = p[0];
        p = p.subarray((p[1] + 1) * 8);
        next = n;
        continue;
      }
      if (next === 44) {
        const n = p[0];
        const fo = p.readUInt16BE(2);
        const id = p.readUInt32BE(4);
        const whole = this.fragment(`6/${src}/${dst}/${id}`, ts, fo & 65528, (fo & 1) === 1, p.subarray(8), n, src, dst);
        if (!whole) return void 0;
        p = whole;
        next = n;
        continue;
      }
      break;
    }
    return this.transport(ts, next, src, dst, p);
  }
  transport(ts, proto, src, dst, p) {
    if (proto === 17) {
      if (p.length < 8) {
        this.stats.undecodable++;
        return void 0;
      }
      const len = p.readUInt16BE(4);
      const payload = p.subarray(8, len >= 8 ? Math.min(len, p.length) : p.length);
      return { ts, proto: "udp", src, sport: p.readUInt16BE(0), dst, dport: p.readUInt16BE(2), payload };
    }
    if (proto === 6) {
      if (p.length < 20) {
        this.stats.undecodable++;
        return void 0;
      }
      const hl = (p[12] >> 4) * 4;
      if (hl < 20 || hl > p.length) {
        this.stats.undecodable++;
        return void 0;
      }
      const flags = p[13];
      return {
        ts,
        proto: "tcp",
        src,
        sport: p.readUInt16BE(0),
        dst,
        dport: p.readUInt16BE(2),
        payload: p.subarray(hl),
        tcp: { seq: p.readUInt32BE(4), syn: (flags & 2) !== 0, fin: (flags & 1) !== 0, rst: (flags & 4) !== 0 }
      };
    }
    this.stats.otherProtocols++;
    return void 0;
  }
  /** Gathers fragments; returns the whole payload once every part is in. Bounded in count and age. */
  fragment(key, ts, off, more, data, proto, src, dst) {
    for (const [k, s] of this.frags) if (ts - s.ts > FRAG_TIMEOUT_MS) this.frags.delete(k);
    let set = this.frags.get(key);
    if (!set) {
      if (this.frags.size >= MAX_FRAG_SETS) this.frags.delete(this.frags.keys().next().value);
      set = { ts, parts: [], proto, src, dst };
      this.frags.set(key, set);
    }
    if (off + data.length > MAX_DATAGRAM) {
      this.frags.delete(key);
      this.stats.undecodable++;
      return void 0;
    }
    set.parts.push({ off, data: Buffer.from(data) });
    if (!more) set.total = off + data.length;
    this.stats.fragmentsPending = this.frags.size;
    if (set.total === void 0) return void 0;
    const have = new Uint8Array(set.total);
    const out = Buffer.alloc(set.total);
    for (const part of set.parts) {
      const end2 = Math.min(set.total, part.off + part.data.length);
      part.data.copy(out, part.off, 0, end2 - part.off);
      have.fill(1, part.off, end2);
    }
    if (have.indexOf(0) >= 0) return void 0;
    this.frags.delete(key);
    this.stats.fragmentsPending = this.frags.size;
    return out;
  }
};

// src/pcap/tcp.ts
var MAX_FLOWS = 256;
var MAX_PENDING = 96 * 1024;
var IDLE_MS = 10 * 6e4;
var before = (a, b) => (a - b | 0) < 0;
var TcpReassembler = class {
  stats = { flows: 0, gaps: 0, retransmits: 0 };
  flows = /* @__PURE__ */ new Map();
  /** Returns the bytes now in order for this segment's direction; bytes were lost before `data[gapAt]`, if set. */
  push(s) {
    const key = `${s.src}|${s.sport}|${s.dst}|${s.dport}`;
    const t = s.tcp;
    let f = this.flows.get(key);
    if (!f || t.syn) {
      this.expire(s.ts);
      f = { pending: [], pendingBytes: 0, last: s.ts };
      this.flows.set(key, f);
      this.stats.flows = this.flows.size;
    }
    f.last = s.ts;
    let seq = t.syn ? t.seq + 1 >>> 0 : t.seq;
    f.next ??= seq;
    const out = [];
    let gapAt;
    let data = s.payload;
    if (data.length > 0) {
      if (before(seq, f.next)) {
        const skip = f.next - seq >>> 0;
        if (skip >= data.length) {
          this.stats.retransmits++;
          data = Buffer.alloc(0);
        } else {
          data = data.subarray(skip);
          seq = f.next;
        }
      }
      if (data.length > 0) {
        if (seq === f.next) {
          out.push(data);
          f.next = f.next + data.length >>> 0;
        } else {
          f.pending.push({ seq, data: Buffer.from(data) });
          f.pendingBytes += data.length;
        }
      }
      gapAt = this.drainPending(f, out);
    }
    const closed = t.fin || t.rst;
    if (closed && f.pending.length === 0) this.flows.delete(key);
    return { key, data: out, ...gapAt !== void 0 ? { gapAt } : {}, closed };
  }
  drainPending(f, out) {
    let gapAt;
    for (; ; ) {
      f.pending.sort((a, b) => a.seq - b.seq | 0);
      let moved = false;
      while (f.pending.length > 0) {
        const p = f.pending[0];
        const end2 = p.seq + p.data.length >>> 0;
        if (!before(f.next, end2) || end2 === f.next) {
          f.pending.shift();
          f.pendingBytes -= p.data.length;
          this.stats.retransmits++;
          continue;
        }
        if (before(f.next, p.seq)) break;
        const skip = f.next - p.seq >>> 0;
        out.push(p.data.subarray(skip));
        f.next = end2;
        f.pending.shift();
        f.pendingBytes -= p.data.length;
        moved = true;
      }
      if (moved || f.pendingBytes <= MAX_PENDING || f.pending.length === 0) return gapAt;
      f.next = f.pending[0].seq;
      this.stats.gaps++;
      gapAt = out.length;
    }
  }
  expire(now) {
    if (this.flows.size < MAX_FLOWS) {
      for (const [k, f] of this.flows) if (now - f.last > IDLE_MS) this.flows.delete(k);
      return;
    }
    let oldest;
    let t = Infinity;
    for (const [k, f] of this.flows) if (f.last < t) {
      t = f.last;
      oldest = k;
    }
    if (oldest) this.flows.delete(oldest);
  }
};

// src/pcap/passive.ts
var BASE_PAYLOADS = () => ({ 0: "PCMU", 8: "PCMA" });
var MAX_TCP_FLOWS = 1024;
function looksLikeSip(b) {
  let i = 0;
  while (i < b.length && i < 4 && (b[i] === 13 || b[i] === 10)) i++;
  const c = b[i];
  if (c === void 0 || c < 65 || c > 90) return false;
  const nl = b.indexOf(10, i);
  const line = b.subarray(i, nl < 0 ? Math.min(b.length, i + 256) : nl);
  return line.length < 2048 && line.includes("SIP/2.0");
}
function canonicalAddr(a) {
  if (!a.includes(":")) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a.toLowerCase();
  }
}
var tagOf = (v) => {
  if (!v) return void 0;
  try {
    return parseNameAddr(v).tag;
  } catch {
    return void 0;
  }
};
var PassiveTracker = class {
  stats = { sipMessages: 0, sipMalformed: 0, rtpMatched: 0, rtpUnmatched: 0, calls: 0 };
  o;
  byCallId = /* @__PURE__ */ new Map();
  byMedia = /* @__PURE__ */ new Map();
  live = /* @__PURE__ */ new Set();
  tcp = new TcpReassembler();
  tcpFlows = /* @__PURE__ */ new Map();
  uses = /* @__PURE__ */ new Map();
  now = 0;
  lastSweep = 0;
  constructor(opts = {}) {
    this.o = { rtpTimeoutMs: 3e4, ringTimeoutMs: 5 * 6e4, maxCalls: 512, ...opts };
  }
  /** Calls followed now. */
  get active() {
    return this.live.size;
  }
  push(s) {
    if (s.ts > this.now) this.now = s.ts;
    if (this.now - this.lastSweep >= 1e3) this.tick(this.now);
    if (s.proto === "udp") {
      if (looksLikeSip(s.payload)) this.sip(s.payload, s.ts, "udp");
      else this.rtp(s);
    } else {
      this.tcpSegment(s);
    }
  }
  /** Lets held RTP out and ends calls that went quiet; call it every second on a live interface. */
  tick(now) {
    this.lastSweep = now;
    for (const d of [...this.live]) {
      if (d.call.answeredAt === void 0) {
        if (now - d.call.invitedAt > this.o.ringTimeoutMs) this.end(d, d.call.invitedAt, "no-answer");
        continue;
      }
      if (now - d.lastActivity > this.o.rtpTimeoutMs) {
        this.end(d, d.lastActivity, "rtp-timeout");
        continue;
      }
      for (const ch of [0, 1]) {
        const st = d.streams[ch];
        if (st) for (const b of st.drain(now)) d.joiner.push(ch, b);
      }
    }
  }
  /** The capture is over: every call still followed ends at the last packet's time. */
  finish() {
    for (const d of [...this.live]) {
      if (d.call.answeredAt === void 0) this.end(d, this.now, "no-answer");
      else this.end(d, d.lastActivity, "capture-end");
    }
  }
  tcpSegment(s) {
    const r = this.tcp.push(s);
    let framer = this.tcpFlows.get(r.key);
    for (let i = 0; i < r.data.length; i++) {
      const chunk = r.data[i];
      if (r.gapAt === i) {
        framer = void 0;
        this.tcpFlows.delete(r.key);
      }
      if (!framer) {
        if (!looksLikeSip(chunk)) continue;
        if (this.tcpFlows.size >= MAX_TCP_FLOWS) this.tcpFlows.delete(this.tcpFlows.keys().next().value);
        framer = new SipStreamFramer();
        this.tcpFlows.set(r.key, framer);
      }
      let msgs;
      try {
        msgs = framer.push(chunk);
      } catch {
        this.stats.sipMalformed++;
        framer = void 0;
        this.tcpFlows.delete(r.key);
        continue;
      }
      for (const m of msgs) this.sip(m, s.ts, "tcp");
    }
    if (r.closed) this.tcpFlows.delete(r.key);
  }
  sip(buf, ts, transport) {
    let m;
    let cseq;
    try {
      m = parseSip(buf);
      cseq = cseqOf(m);
    } catch {
      this.stats.sipMalformed++;
      return;
    }
    this.stats.sipMessages++;
    try {
      this.onSip(m, cseq, ts, transport);
    } catch (e) {
      this.stats.sipMalformed++;
      this.o.log?.("passive: a SIP message could not be followed", { error: e.message });
    }
  }
  find(callId, fTag, tTag) {
    const list = this.byCallId.get(callId);
    if (!list) return void 0;
    for (let i = list.length - 1; i >= 0; i--) {
      const d = list[i];
      if (d.ended) continue;
      if (d.fromTag === fTag) return { d, byCaller: true };
      if (d.toTag !== void 0 && d.toTag === fTag && d.fromTag === tTag) return { d, byCaller: false };
    }
    return void 0;
  }
  onSip(m, cseq, ts, transport) {
    const callId = m.get("Call-ID").trim();
    const fTag = tagOf(m.get("From"));
    const tTag = tagOf(m.get("To"));
    const hit = this.find(callId, fTag, tTag);
    if (m.kind === "request") {
      const method = m.method;
      if (method === "INVITE" && tTag === void 0) {
        if (hit && (hit.d.inviteCseq === cseq.seq || hit.d.call.answeredAt === void 0)) {
          hit.d.inviteCseq = cseq.seq;
          this.offerAnswer(hit.d, m, 0);
          return;
        }
        this.newDialog(m, callId, fTag, cseq.seq, ts, transport);
        return;
      }
      if (!hit) return;
      const d2 = hit.d;
      const sender2 = hit.byCaller ? 0 : 1;
      if (method === "INVITE" || method === "UPDATE") this.offerAnswer(d2, m, sender2);
      else if (method === "BYE") this.end(d2, ts, "bye");
      else if (method === "CANCEL" && d2.call.answeredAt === void 0) this.end(d2, ts, "cancel");
      else if (method === "ACK") this.offerAnswer(d2, m, sender2);
      return;
    }
    if (!hit || cseq.method !== "INVITE" && cseq.method !== "UPDATE") return;
    const d = hit.d;
    const sender = hit.byCaller ? 1 : 0;
    const status = m.status;
    if (status < 200) {
      if (status > 100) this.offerAnswer(d, m, sender);
      return;
    }
    if (status < 300) {
      this.offerAnswer(d, m, sender);
      if (cseq.method === "INVITE" && d.call.answeredAt === void 0 && hit.byCaller) this.answer(d, m, ts, tTag);
      return;
    }
    if (cseq.method === "INVITE" && d.call.answeredAt === void 0 && hit.byCaller) {
      d.call.status = status;
      if (status !== 401 && status !== 407) this.end(d, ts, status === 487 ? "cancel" : "rejected");
    }
  }
  newDialog(m, callId, fromTag, seq, ts, transport) {
    if (this.live.size >= this.o.maxCalls) {
      const oldest = this.live.values().next().value;
      this.o.log?.("passive: too many calls at once; the oldest is ended", { max: this.o.maxCalls });
      this.end(oldest, ts, "evicted");
    }
    const n = (this.uses.get(callId) ?? 0) + 1;
    this.uses.set(callId, n);
    if (this.uses.size > 4 * this.o.maxCalls) this.uses.delete(this.uses.keys().next().value);
    const call = { ref: n === 1 ? callId : `${callId}#${n}`, callId, transport, invitedAt: ts, digits: [], rtp: [void 0, void 0] };
    this.parties(call, m);
    const d = {
      call,
      inviteCseq: seq,
      media: /* @__PURE__ */ new Set(),
      payloads: [BASE_PAYLOADS(), BASE_PAYLOADS()],
      streams: [void 0, void 0],
      lastActivity: ts,
      ended: false,
      ...fromTag !== void 0 ? { fromTag } : {}
    };
    const list = this.byCallId.get(callId) ?? [];
    list.push(d);
    this.byCallId.set(callId, list);
    this.live.add(d);
    this.stats.calls++;
    this.offerAnswer(d, m, 0);
  }
  parties(call, m) {
    try {
      const from = parseNameAddr(m.get("P-Asserted-Identity") ?? m.get("From"));
      const to = parseNameAddr(m.get("To"));
      const caller = numberFromUri(from.uri);
      const called = numberFromUri(to.uri) ?? (m.uri ? numberFromUri(m.uri) : void 0);
      if (caller) call.caller = caller.slice(0, 64);
      if (called) call.called = called.slice(0, 64);
      const name = from.display ?? (m.get("P-Asserted-Identity") ? parseNameAddr(m.get("From")).display : void 0);
      if (name) call.callerName = name.slice(0, 64);
    } catch {
    }
  }
  answer(d, m, ts, toTag) {
    d.call.answeredAt = ts;
    d.call.status = m.status;
    if (toTag !== void 0) d.toTag = toTag;
    d.lastActivity = ts;
    d.joiner = new StereoJoiner((index, pcm) => this.o.onAudio?.(d.call, index, pcm));
    this.o.onStart?.(d.call);
  }
  /** Registers the addresses in an SDP body: the party that sent it receives RTP there. */
  offerAnswer(d, m, sender) {
    if (m.body.length === 0) return;
    const ct = m.get("Content-Type") ?? "application/sdp";
    let sdp;
    try {
      sdp = splitMultipart(ct, m.body).find((p) => p.type === "application/sdp")?.body;
    } catch {
      return;
    }
    if (!sdp) return;
    let streams;
    try {
      streams = parseSdpStreams(sdp).streams;
    } catch {
      return;
    }
    for (const s of streams) {
      if (s.media !== "audio" || s.port === 0 || !s.addr || s.addr === "0.0.0.0" || s.addr === "::") continue;
      const key = `${canonicalAddr(s.addr)}|${s.port}`;
      for (const p of s.payloads) {
        if (p.rate !== 8e3) continue;
        if (p.codec === "PCMA" || p.codec === "PCMU" || p.codec === "telephone-event") d.payloads[sender][p.pt] = p.codec;
      }
      const prev = this.byMedia.get(key);
      if (prev && prev.d !== d && !prev.d.ended) prev.d.media.delete(key);
      this.byMedia.set(key, { d, role: sender });
      d.media.add(key);
    }
  }
  rtp(s) {
    const to = this.byMedia.get(`${s.dst}|${s.dport}`);
    const from = to ? void 0 : this.byMedia.get(`${s.src}|${s.sport}`);
    const hit = to ?? from;
    if (!hit || hit.d.ended) {
      this.stats.rtpUnmatched++;
      return;
    }
    const d = hit.d;
    if (d.call.answeredAt === void 0) return;
    const channel = to ? hit.role === 0 ? 1 : 0 : hit.role;
    const receiver = channel === 0 ? 1 : 0;
    const p = parseRtp(s.payload);
    if (!p) {
      this.stats.rtpUnmatched++;
      return;
    }
    this.stats.rtpMatched++;
    d.lastActivity = Math.max(d.lastActivity, s.ts);
    let st = d.streams[channel];
    if (!st) {
      st = new RtpStream({
        origin: d.call.answeredAt,
        payloads: d.payloads[receiver],
        onDigit: (dg) => {
          d.call.digits.push({ digit: dg.digit, at: dg.at, durationMs: dg.durationMs, channel });
          this.o.onInfo?.(d.call);
        }
      });
      d.streams[channel] = st;
      d.call.rtp[channel] = st.stats;
    }
    for (const b of st.push(p, s.ts)) d.joiner.push(channel, b);
  }
  end(d, at, reason) {
    if (d.ended) return;
    d.ended = true;
    this.live.delete(d);
    for (const key of d.media) if (this.byMedia.get(key)?.d === d) this.byMedia.delete(key);
    const list = this.byCallId.get(d.call.callId);
    if (list) {
      const rest = list.filter((x) => x !== d);
      if (rest.length) this.byCallId.set(d.call.callId, rest);
      else this.byCallId.delete(d.call.callId);
    }
    d.call.endedAt = Math.max(Math.min(at, d.lastActivity + this.o.rtpTimeoutMs), d.call.answeredAt ?? at);
    d.call.endReason = reason;
    if (d.call.answeredAt !== void 0 && d.joiner) {
      for (const ch of [0, 1]) {
        const st = d.streams[ch];
        if (st) for (const b of st.flush()) d.joiner.push(ch, b);
      }
      for (const dg of d.call.digits) {
        const src = d.streams[dg.channel]?.digits.find((x) => x.at === dg.at && x.digit === dg.digit);
        if (src) dg.durationMs = src.durationMs;
      }
      d.joiner.flush(Math.round((d.call.endedAt - d.call.answeredAt) * SAMPLE_RATE / 1e3));
    }
    this.o.onEnd?.(d.call);
  }
};

// src/pcap/reader.ts
var MAX_RECORD = 4 * 1024 * 1024;
var PCAP_MAGIC_US = 2712847316;
var PCAP_MAGIC_NS = 2712812621;
var NG_SHB = 168627466;
var NG_BOM = 439041101;
var damaged = (offset, what) => new RvError("RV_ERR_PCAP_DAMAGED", `The capture is damaged at byte ${offset}: ${what}. Frames before it were read; make the capture again or repair it (for example with pcapfix).`, 422);
var PcapReader = class {
  stats = { frames: 0, bytes: 0, skipped: 0, truncated: false };
  buf = Buffer.alloc(0);
  /** byte offset of buf[0] in the whole input, for error messages */
  offset = 0;
  le = true;
  nsec = false;
  linkType = 0;
  headerRead = false;
  ifaces = [];
  lastTs = 0;
  failed;
  push(chunk) {
    if (this.failed) throw this.failed;
    this.stats.bytes += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out = [];
    try {
      let used = 0;
      for (; ; ) {
        const n = this.next(this.buf.subarray(used), out);
        if (n === 0) break;
        used += n;
      }
      this.offset += used;
      this.buf = used < this.buf.length ? this.buf.subarray(used) : Buffer.alloc(0);
      if (this.buf.length && this.buf.buffer.byteLength > 4 * this.buf.length + 65536) this.buf = Buffer.from(this.buf);
    } catch (e) {
      this.failed = e;
      throw e;
    }
    return out;
  }
  /** The input is over: a partial record left over is counted as truncated, not an error. */
  end() {
    if (this.failed) return;
    if (!this.headerRead && this.stats.bytes === 0) throw new RvError("RV_ERR_PCAP_FORMAT", "The capture is empty: it holds no bytes at all. Check the file name, or that tcpdump could open the interface.", 422);
    if (!this.headerRead) throw new RvError("RV_ERR_PCAP_FORMAT", `The capture is too short (${this.stats.bytes} bytes) to hold a file header; it is cut off or not a capture.`, 422);
    if (this.buf.length > 0) this.stats.truncated = true;
    this.buf = Buffer.alloc(0);
  }
  u32(b, at) {
    return this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }
  u16(b, at) {
    return this.le ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }
  /** Reads one header, record or block from the front of `b`; returns bytes used, 0 when more are needed. */
  next(b, out) {
    if (!this.headerRead) return this.fileHeader(b);
    return this.stats.format === "pcap" ? this.record(b, out) : this.block(b, out);
  }
  fileHeader(b) {
    if (b.length < 4) return 0;
    const be = b.readUInt32BE(0);
    const le = b.readUInt32LE(0);
    if (be === NG_SHB) {
      this.stats.format = "pcapng";
      this.headerRead = true;
      return 0 + this.block(b, []);
    }
    if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) this.le = false;
    else if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) this.le = true;
    else throw new RvError("RV_ERR_PCAP_FORMAT", `This is not a capture file (it starts with 0x${be.toString(16).padStart(8, "0")}); give a .pcap or .pcapng file written by tcpdump, dumpcap or Wireshark.`, 422);
    if (b.length < 24) return 0;
    this.nsec = (this.le ? le : be) === PCAP_MAGIC_NS;
    this.linkType = this.u32(b, 20) & 65535;
    this.stats.format = "pcap";
    this.headerRead = true;
    return 24;
  }
  record(b, out) {
    if (b.length < 16) return 0;
    const sec = this.u32(b, 0);
    const frac = this.u32(b, 4);
    const incl = this.u32(b, 8);
    const orig = this.u32(b, 12);
    if (incl > MAX_RECORD) throw damaged(this.offset, `a record claims ${incl} bytes`);
    if (frac >= (this.nsec ? 1e9 : 1e6)) throw damaged(this.offset, "a record has an impossible timestamp");
    if (b.length < 16 + incl) return 0;
    const ts = sec * 1e3 + (this.nsec ? frac / 1e6 : frac / 1e3);
    out.push({ ts, linkType: this.linkType, data: b.subarray(16, 16 + incl), origLen: orig });
    this.stats.frames++;
    return 16 + incl;
  }
  block(b, out) {
    if (b.length < 12) return 0;
    const type = b.readUInt32BE(0) === NG_SHB ? NG_SHB : this.u32(b, 0);
    if (type === NG_SHB) {
      const bom = b.readUInt32LE(8);
      if (bom === NG_BOM) this.le = true;
      else if (b.readUInt32BE(8) === NG_BOM) this.le = false;
      else throw damaged(this.offset, "a section header has no byte-order magic");
      this.ifaces = [];
    }
    const len = this.u32(b, 4);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) throw damaged(this.offset, `a block claims ${len} bytes`);
    if (b.length < len) return 0;
    if (this.u32(b, len - 4) !== len) throw damaged(this.offset, "a block's trailing length differs from its leading one");
    const body = b.subarray(8, len - 4);
    switch (type) {
      case NG_SHB:
        break;
      case 1:
        this.interfaceBlock(body);
        break;
      case 6:
        this.packetBlock(body, out, "epb");
        break;
      case 2:
        this.packetBlock(body, out, "pb");
        break;
      case 3:
        this.simpleBlock(body, out);
        break;
      default:
        this.stats.skipped++;
    }
    return len;
  }
  interfaceBlock(body) {
    if (body.length < 8) {
      this.stats.skipped++;
      return;
    }
    const iface = { linkType: this.u16(body, 0), tsPerSec: 1e6 };
    for (let at = 8; at + 4 <= body.length; ) {
      const code = this.u16(body, at);
      const olen = this.u16(body, at + 2);
      if (code === 0) break;
      if (code === 9 && olen >= 1 && at + 4 < body.length) {
        const r = body[at + 4];
        const p = r & 127;
        if (p <= 30) iface.tsPerSec = r & 128 ? 2 ** p : 10 ** p;
      }
      at += 4 + Math.ceil(olen / 4) * 4;
    }
    this.ifaces.push(iface);
  }
  packetBlock(body, out, kind) {
    if (body.length < 20) {
      this.stats.skipped++;
      return;
    }
    const ifId = kind === "epb" ? this.u32(body, 0) : this.u16(body, 0);
    const iface = this.ifaces[ifId];
    const cap = this.u32(body, 12);
    if (!iface || 20 + cap > body.length) {
      this.stats.skipped++;
      return;
    }
    const units = this.u32(body, 4) * 2 ** 32 + this.u32(body, 8);
    const ts = units / iface.tsPerSec * 1e3;
    this.lastTs = ts;
    out.push({ ts, linkType: iface.linkType, data: body.subarray(20, 20 + cap), origLen: this.u32(body, 16) });
    this.stats.frames++;
  }
  simpleBlock(body, out) {
    const iface = this.ifaces[0];
    if (!iface || body.length < 4) {
      this.stats.skipped++;
      return;
    }
    const orig = this.u32(body, 0);
    out.push({ ts: this.lastTs, linkType: iface.linkType, data: body.subarray(4, 4 + Math.min(orig, body.length - 4)), origLen: orig });
    this.stats.frames++;
  }
};

// src/pcap/pipeline.ts
var CapturePipeline = class {
  reader = new PcapReader();
  decoder = new FrameDecoder();
  tracker;
  constructor(opts) {
    this.tracker = new PassiveTracker(opts);
  }
  /** Throws RV_ERR_PCAP_FORMAT / RV_ERR_PCAP_DAMAGED when the bytes are not (or no longer) a capture. */
  push(chunk) {
    for (const f of this.reader.push(chunk)) {
      const s = this.decoder.decode(f);
      if (s) this.tracker.push(s);
    }
  }
  /** The capture is over: ends every call still followed. */
  end() {
    try {
      this.reader.end();
    } finally {
      this.tracker.finish();
    }
  }
  counts() {
    return { ...this.reader.stats, ...this.decoder.stats, ...this.tracker.stats };
  }
};

// src/sources/pcap.ts
var same = (a, b) => a.replace(/^\+/, "") === b.replace(/^\+/, "");
var PcapSource = class extends LineSource {
  constructor(o) {
    super();
    this.o = o;
    this.lines = o.lines.map((l) => l.id);
    this.now = o.now ?? Date.now;
    this.backoff = o.backoffMs ?? 1e3;
  }
  o;
  kind = "pcap";
  lines;
  child;
  pipeline;
  busy = /* @__PURE__ */ new Map();
  now;
  stopping = false;
  faulted = false;
  backoff;
  restartTimer;
  tickTimer;
  stderrTail = "";
  /** calls seen that no line was free for */
  dropped = 0;
  async start() {
    this.stopping = false;
    this.spawn();
    this.tickTimer = setInterval(() => this.pipeline?.tracker.tick(this.now()), 200);
    this.tickTimer.unref();
  }
  async stop() {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.tickTimer);
    const child2 = this.child;
    if (child2 && child2.exitCode === null && child2.signalCode === null) {
      const exited = new Promise((res) => child2.once("exit", res));
      child2.kill("SIGTERM");
      const killer = setTimeout(() => child2.kill("SIGKILL"), 3e3);
      await exited;
      clearTimeout(killer);
    }
    this.endPipeline();
  }
  spawn() {
    const args = ["-U", "--immediate-mode", "-w", "-", "-s", "0", "-n", "-i", this.o.interface, ...this.o.filter.trim() ? [this.o.filter] : []];
    const pipeline3 = this.newPipeline();
    this.pipeline = pipeline3;
    this.stderrTail = "";
    let child2;
    try {
      child2 = spawn2(this.o.tcpdump ?? "tcpdump", args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      this.died(`could not start tcpdump (${e.message})`);
      return;
    }
    this.child = child2;
    const gone = (how) => {
      if (this.child !== child2) return;
      this.child = void 0;
      if (this.stopping) return;
      const lines = this.stderrTail.trim().split("\n").filter((l) => l && !/^listening on|^tcpdump: verbose output|^\d+ packets/.test(l));
      const why = (lines.filter((l) => l.startsWith("tcpdump:")).pop() ?? lines.pop())?.replace(/^tcpdump: /, "");
      this.died(`tcpdump on ${this.o.interface} stopped (${how}${why ? `: ${why}` : ""})`);
    };
    child2.on("error", (e) => {
      this.stderrTail = e.code === "ENOENT" ? "tcpdump is not installed (apt install tcpdump)" : e.message;
      if (child2.pid === void 0) gone("not started");
    });
    child2.stderr.setEncoding("utf8").on("data", (d) => {
      this.stderrTail = (this.stderrTail + d).slice(-400);
    });
    child2.stdout.on("data", (chunk) => {
      if (this.pipeline !== pipeline3) return;
      if (this.faulted) {
        this.faulted = false;
        this.backoff = this.o.backoffMs ?? 1e3;
        for (const id of this.lines) this.emit("recovered", { line: id });
      }
      try {
        pipeline3.push(chunk);
      } catch (e) {
        this.o.log.error({ err: e }, "the capture stream from tcpdump is damaged; restarting it");
        child2.kill("SIGTERM");
      }
    });
    child2.on("close", (code, signal) => gone(signal ?? `exit ${code}`));
  }
  died(what) {
    this.endPipeline();
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs ?? 3e4);
    this.faulted = true;
    const message = `${what}; the calls on this trunk are not recorded. Check the interface name and that ringvault may capture (CAP_NET_RAW). Retrying in ${(delay / 1e3).toFixed(delay < 1e3 ? 1 : 0)} s.`;
    for (const id of this.lines) this.emit("fault", { line: id, code: "RV_ERR_PCAP_CAPTURE", message });
    this.restartTimer = setTimeout(() => {
      if (!this.stopping) this.spawn();
    }, delay);
    this.restartTimer.unref();
  }
  endPipeline() {
    const p = this.pipeline;
    this.pipeline = void 0;
    if (!p) return;
    try {
      p.end();
    } catch (e) {
      if (!isRvError(e)) throw e;
    }
  }
  newPipeline() {
    return new CapturePipeline({
      rtpTimeoutMs: this.o.rtpTimeoutMs,
      log: (msg, extra) => this.o.log.warn(extra ?? {}, msg),
      onStart: (c) => this.onStart(c),
      onAudio: (c, index, pcm) => {
        const line = this.busy.get(c);
        if (!line) return;
        const at = c.answeredAt + index * 1e3 / SAMPLE_RATE;
        this.emit("call-audio", { line: line.id, ref: c.ref, block: { at, channels: line.channels, pcm: line.channels === 2 ? pcm : mono2(pcm) } });
      },
      onInfo: (c) => {
        const line = this.busy.get(c);
        if (line) this.emit("call-info", { line: line.id, ref: c.ref, parties: { digits: c.digits.map((d) => d.digit).join("") } });
      },
      onEnd: (c) => {
        const line = this.busy.get(c);
        if (!line) return;
        this.busy.delete(c);
        this.emit("call-end", { line: line.id, ref: c.ref, at: Math.round(c.endedAt), reason: c.endReason ?? "ended" });
      }
    });
  }
  onStart(c) {
    const taken = new Set([...this.busy.values()].map((l) => l.id));
    const free = this.o.lines.filter((l) => !taken.has(l.id));
    const byNumber = (n) => n ? free.find((l) => l.match?.some((m) => same(m, n))) : void 0;
    const outLine = byNumber(c.caller);
    const line = outLine ?? byNumber(c.called) ?? free.find((l) => !l.match?.length) ?? free[0];
    if (!line) {
      this.dropped++;
      this.o.log.warn({ calls: this.busy.size }, 'a call on the mirrored trunk found no free pcap line and is not recorded; add a line with source "pcap"');
      return;
    }
    this.busy.set(c, line);
    const parties = { direction: outLine ? "out" : "in" };
    if (c.caller) parties.caller = c.caller;
    if (c.called) parties.called = c.called;
    this.emit("call-start", { line: line.id, ref: c.ref, at: Math.round(c.answeredAt), channels: line.channels, parties });
  }
};
function mono2(stereo) {
  const out = new Int16Array(stereo.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = stereo[i * 2] + stereo[i * 2 + 1] >> 1;
  return out;
}

// src/board/board.ts
import { EventEmitter as EventEmitter6 } from "node:events";
var ControlBoard = class extends EventEmitter6 {
};

// src/board/sim.ts
var SimBoard = class extends ControlBoard {
  constructor(o) {
    super();
    this.o = o;
  }
  o;
  kind = "sim";
  plugged = true;
  running = false;
  shown = /* @__PURE__ */ new Map();
  watchers = /* @__PURE__ */ new Set();
  get connected() {
    return this.running && this.plugged;
  }
  async start() {
    this.running = true;
  }
  async stop() {
    this.running = false;
  }
  setLed(line, state) {
    if (!this.plugged) return;
    if (state !== "ack") {
      if (this.shown.get(line) === state) return;
      this.shown.set(line, state);
    }
    const c = { line, state, at: this.now() };
    for (const w of this.watchers) w(c);
  }
  /** What the LED of a line shows now (ACK flashes are not a lasting state). */
  led(line) {
    return this.shown.get(line);
  }
  /** Calls `fn` with every LED change the box makes, ACK flashes included; returns an unsubscribe. */
  watchLeds(fn) {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }
  /** Presses a line's button (or the one button when `line` is undefined). */
  press(line, kind) {
    if (!this.connected) return;
    if (line !== void 0) this.known(line);
    this.emit("press", { ...line !== void 0 ? { line } : {}, kind, at: this.now() });
  }
  sense(line, state) {
    if (!this.connected) return;
    this.known(line);
    this.emit("sense", { line, state, at: this.now() });
  }
  /** Pulls the (simulated) plug: the box sees a board fault, as when a USB cable comes out. */
  unplug() {
    if (!this.plugged) return;
    this.plugged = false;
    this.shown.clear();
    this.emit("fault", { code: "RV_ERR_BOARD_GONE", message: "The simulated control board was unplugged; plug it back in from the simulation panel." });
  }
  plug() {
    if (this.plugged) return;
    this.plugged = true;
    this.emit("recovered");
  }
  known(line) {
    if (!this.o.lines().includes(line)) throw new RvError("RV_ERR_UNKNOWN_LINE", `There is no line "${line}" on the simulated board; its lines are ${this.o.lines().join(", ")}.`, 404);
  }
  now() {
    return (this.o.now ?? Date.now)();
  }
};

// src/board/serial.ts
import { existsSync } from "node:fs";
import { readdir as readdir4 } from "node:fs/promises";
import { SerialPort } from "serialport";

// src/board/protocol.ts
var PROTOCOL_VERSION = 1;
var MAX_BOARD_LINE = 80;
var MAX_BOARD_UNITS = 8;
var LONG_MS_RANGE = { min: 300, max: 1e4 };
var SENSE = { OFFHOOK: "offhook", ONHOOK: "onhook", RING: "ring" };
var BTN = { SHORT: "short", LONG: "long" };
var PRINTABLE = /^[\x20-\x7e]*$/;
var NUMBER = /^[1-9][0-9]{0,2}$/;
var unit = (s, what) => {
  if (s === void 0 || !NUMBER.test(s)) return `${what} must be a number from 1 to ${MAX_BOARD_UNITS}, got ${JSON.stringify(s ?? "")}`;
  const n = Number(s);
  return n <= MAX_BOARD_UNITS ? n : `${what} must be a number from 1 to ${MAX_BOARD_UNITS}, got ${n}`;
};
var bad4 = (reason) => ({ ok: false, reason });
function parseBoardLine(raw) {
  const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (line.length + 1 > MAX_BOARD_LINE) return bad4(`line longer than ${MAX_BOARD_LINE} bytes`);
  if (!PRINTABLE.test(line)) return bad4("line holds bytes that are not printable ASCII");
  const f = line.split(" ");
  switch (f[0]) {
    case "PONG":
      return f.length === 1 ? { ok: true, msg: { type: "pong" } } : bad4("PONG takes no fields");
    case "BTN": {
      if (f.length !== 3) return bad4("BTN needs a button number and SHORT or LONG");
      const n = unit(f[1], "button");
      if (typeof n === "string") return bad4(n);
      const kind = BTN[f[2]];
      return kind ? { ok: true, msg: { type: "btn", n, kind } } : bad4(`BTN kind must be SHORT or LONG, got ${JSON.stringify(f[2])}`);
    }
    case "SENSE": {
      if (f.length !== 3) return bad4("SENSE needs a line number and OFFHOOK, ONHOOK or RING");
      const n = unit(f[1], "line");
      if (typeof n === "string") return bad4(n);
      const state = SENSE[f[2]];
      return state ? { ok: true, msg: { type: "sense", n, state } } : bad4(`SENSE state must be OFFHOOK, ONHOOK or RING, got ${JSON.stringify(f[2])}`);
    }
    case "ERR":
      return f.length === 2 && /^[A-Z]{1,16}$/.test(f[1]) ? { ok: true, msg: { type: "err", word: f[1] } } : bad4("ERR needs one upper-case word");
    case "HELLO":
      return parseHello(f);
    default:
      return bad4(`unknown message ${JSON.stringify(f[0].slice(0, 16))}`);
  }
}
function parseHello(f) {
  const [, name, version, ...rest] = f;
  if (!name || !/^[a-z][a-z0-9-]{0,31}$/.test(name)) return bad4("HELLO needs a board name such as ringvault-board");
  if (!version || !/^[0-9]{1,3}$/.test(version)) return bad4("HELLO needs a protocol version number");
  const fields = {};
  for (const kv of rest) {
    const m = /^([a-z]{1,16})=([A-Za-z0-9._-]{1,24})$/.exec(kv);
    if (!m) return bad4(`HELLO field ${JSON.stringify(kv.slice(0, 24))} is not key=value`);
    fields[m[1]] = m[2];
  }
  const buttons = unit(fields.buttons, "buttons=");
  if (typeof buttons === "string") return bad4(`HELLO ${buttons}`);
  const lines = unit(fields.lines, "lines=");
  if (typeof lines === "string") return bad4(`HELLO ${lines}`);
  let sense = lines;
  if (fields.sense !== void 0) {
    if (!/^[0-9]$/.test(fields.sense) || Number(fields.sense) > lines) return bad4(`HELLO sense= must be 0 to lines= (${lines}), got ${JSON.stringify(fields.sense)}`);
    sense = Number(fields.sense);
  }
  return { ok: true, msg: { type: "hello", name, version: Number(version), buttons, lines, sense, fields } };
}
function formatBoxMessage(m) {
  switch (m.type) {
    case "hello":
      return `HELLO ringvault-box ${PROTOCOL_VERSION}
`;
    case "ping":
      return "PING\n";
    case "led":
      return `LED ${m.n} ${m.state.toUpperCase()}
`;
    case "longms":
      return `LONGMS ${Math.round(Math.min(LONG_MS_RANGE.max, Math.max(LONG_MS_RANGE.min, m.ms)))}
`;
  }
}
var forLog = (raw) => JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}\u2026` : raw);
var LineSplitter = class {
  constructor(onLine, onOverlong, max = 256) {
    this.onLine = onLine;
    this.onOverlong = onOverlong;
    this.max = max;
  }
  onLine;
  onOverlong;
  max;
  buf = "";
  dropping = false;
  push(chunk) {
    let s = chunk.toString("latin1");
    for (; ; ) {
      const i = s.indexOf("\n");
      if (i < 0) break;
      const line = this.buf + s.slice(0, i);
      s = s.slice(i + 1);
      this.buf = "";
      if (this.dropping) {
        this.dropping = false;
        continue;
      }
      if (line.length > this.max) {
        this.onOverlong();
        continue;
      }
      this.onLine(line);
    }
    if (this.dropping) return;
    this.buf += s;
    if (this.buf.length > this.max) {
      this.buf = "";
      this.dropping = true;
      this.onOverlong();
    }
  }
};

// src/board/serial.ts
var UDEV_NAME = "/dev/ringvault-board";
var BY_ID = "/dev/serial/by-id";
var SerialBoard = class extends ControlBoard {
  constructor(o) {
    super();
    this.o = o;
    this.backoffMs = this.o.backoff?.minMs ?? 500;
  }
  o;
  kind = "serial";
  /** what the board said in its last HELLO */
  hello;
  /** lines the board sent that were not in the protocol (logged and ignored) */
  malformed = 0;
  phase = "closed";
  port;
  faulted = false;
  lastRx = 0;
  backoffMs;
  leds = /* @__PURE__ */ new Map();
  timers = [];
  retry;
  badWindow = { start: 0, logged: 0, muted: 0 };
  get connected() {
    return this.phase === "ready";
  }
  async start() {
    this.phase = "closed";
    void this.attempt();
  }
  async stop() {
    this.phase = "stopped";
    clearTimeout(this.retry);
    await this.teardown();
  }
  setLed(line, state) {
    const n = this.o.lines().indexOf(line) + 1;
    if (n < 1) return;
    if (state !== "ack") {
      if (this.leds.get(line) === state) return;
      this.leds.set(line, state);
    }
    if (this.connected && n <= this.hello.lines) this.send({ type: "led", n, state });
  }
  async attempt() {
    if (this.phase === "stopped") return;
    let path;
    try {
      path = await this.findPath();
    } catch (e) {
      return this.lost(isRvError(e) ? e.code : "RV_ERR_BOARD_NOT_FOUND", e.message);
    }
    const port = new SerialPort({ path, baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1, autoOpen: false });
    try {
      await new Promise((res, rej) => port.open((e) => e ? rej(e) : res()));
    } catch (e) {
      return this.lost("RV_ERR_BOARD_GONE", `Cannot open the control board at ${path} (${e.message}); check its USB cable and the board.serialPath setting.`);
    }
    if (this.phase === "stopped") {
      port.close(() => void 0);
      return;
    }
    this.port = port;
    this.phase = "hello";
    this.lastRx = Date.now();
    const split = new LineSplitter(
      (line) => this.onLine(line),
      () => this.bad({ path }, "control board sent an over-long line; ignored")
    );
    port.on("data", (b) => split.push(b));
    port.on("error", (e) => this.o.log.warn({ err: e, path }, "control board serial error"));
    port.on("close", () => {
      if (this.port === port) this.lost("RV_ERR_BOARD_GONE", `The control board at ${path} went away (unplugged or its port closed); recording goes on, and the box reconnects when it is back.`);
    });
    const hb = this.o.heartbeatMs ?? 1e3;
    this.send({ type: "hello" });
    this.timers.push(setInterval(() => this.tick(), hb));
  }
  /** Once per heartbeat: ask for HELLO until it comes, then PING; a board silent too long is lost. */
  tick() {
    const silence = this.o.silenceMs ?? 3e3;
    if (Date.now() - this.lastRx > silence) {
      const what = this.phase === "hello" ? "did not answer HELLO" : "stopped answering";
      this.lost("RV_ERR_BOARD_SILENT", `The control board ${what} for ${silence / 1e3} s; check that it runs ringvault firmware (board/PROTOCOL.md). Recording goes on.`);
      return;
    }
    this.send(this.phase === "hello" ? { type: "hello" } : { type: "ping" });
  }
  onLine(raw) {
    const p = parseBoardLine(raw);
    if (!p.ok) {
      this.bad({ line: forLog(raw), reason: p.reason }, "control board sent a line that is not in the protocol; ignored");
      return;
    }
    const m = p.msg;
    this.lastRx = Date.now();
    if (m.type === "hello") return this.onHello(m);
    if (this.phase !== "ready") return;
    const lines = this.o.lines();
    switch (m.type) {
      case "btn":
        this.emit("press", { ...m.n <= lines.length ? { line: lines[m.n - 1] } : {}, kind: m.kind, at: Date.now() });
        return;
      case "sense": {
        const line = lines[m.n - 1];
        if (line === void 0) {
          this.o.log.warn({ n: m.n }, "control board reported line sense for a line the box does not have; ignored");
          return;
        }
        this.emit("sense", { line, state: m.state, at: Date.now() });
        return;
      }
      case "err":
        this.o.log.warn({ word: m.word }, "control board did not understand a line from the box");
        return;
      case "pong":
        return;
    }
  }
  onHello(m) {
    if (m.version !== PROTOCOL_VERSION) {
      this.lost("RV_ERR_BOARD_VERSION", `The control board speaks protocol version ${m.version}, this box version ${PROTOCOL_VERSION}; update the board firmware or the box software.`);
      return;
    }
    this.hello = m;
    const wasReady = this.phase === "ready";
    this.phase = "ready";
    this.backoffMs = this.o.backoff?.minMs ?? 500;
    if (!wasReady) this.o.log.info({ board: m.name, fw: m.fields.fw, buttons: m.buttons, lines: m.lines }, "control board connected");
    this.send({ type: "longms", ms: this.o.longPressMs() });
    this.o.lines().forEach((line, i) => {
      if (i < m.lines) this.send({ type: "led", n: i + 1, state: this.leds.get(line) ?? "idle" });
    });
    if (this.faulted) {
      this.faulted = false;
      this.emit("recovered");
    }
  }
  /** Counts a bad line and logs it; a board spewing noise gets at most 10 log lines a minute plus a count. */
  bad(detail, msg) {
    this.malformed++;
    const now = Date.now();
    if (now - this.badWindow.start > 6e4) {
      if (this.badWindow.muted > 0) this.o.log.warn({ count: this.badWindow.muted }, "control board sent more bad lines that were not logged");
      this.badWindow = { start: now, logged: 0, muted: 0 };
    }
    if (this.badWindow.logged < 10) {
      this.badWindow.logged++;
      this.o.log.warn(detail, msg);
    } else this.badWindow.muted++;
  }
  send(m) {
    const port = this.port;
    if (!port?.isOpen) return;
    port.write(formatBoxMessage(m), (e) => {
      if (e) this.o.log.debug({ err: e }, "write to control board failed");
    });
  }
  lost(code, message) {
    if (this.phase === "stopped") return;
    this.phase = "closed";
    void this.teardown();
    if (!this.faulted) {
      this.faulted = true;
      this.o.log.warn({ code }, message);
      this.emit("fault", { code, message });
    }
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.attempt(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoff?.maxMs ?? 1e4);
  }
  async teardown() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const port = this.port;
    this.port = void 0;
    if (port?.isOpen) await new Promise((res) => port.close(() => res()));
  }
  async findPath() {
    if (this.o.path) {
      if (!existsSync(this.o.path)) throw new RvError("RV_ERR_BOARD_GONE", `There is no control board at ${this.o.path}; plug in the button box, or correct board.serialPath (ls /dev/serial/by-id).`);
      return this.o.path;
    }
    if (existsSync(UDEV_NAME)) return UDEV_NAME;
    const byId = await readdir4(BY_ID).catch(() => []);
    const hit = byId.find((n) => /ringvault/i.test(n));
    if (hit) return `${BY_ID}/${hit}`;
    const listed = await SerialPort.list().catch((e) => {
      this.o.log.debug({ err: e }, "serial port list unavailable");
      return [];
    });
    const p = listed.find((x) => /ringvault/i.test(`${x.manufacturer ?? ""} ${x.pnpId ?? ""} ${x.serialNumber ?? ""}`));
    if (p) return p.path;
    throw new RvError("RV_ERR_BOARD_NOT_FOUND", `No ringvault control board found (${UDEV_NAME} and ${BY_ID}/*ringvault* are missing); plug in the button box, or set board.serialPath to its /dev/serial/by-id/\u2026 path.`);
  }
};

// src/board/gpio.ts
import { spawn as spawn3 } from "node:child_process";
var GPIOMON_FORMAT = "%o %e %s %n";
function parseGpiomon(line) {
  let m = /^(\d{1,3}) ([01]) (\d{1,12}) (\d{1,9})$/.exec(line.trim());
  if (m) return { offset: Number(m[1]), rising: m[2] === "1", ms: Number(m[3]) * 1e3 + Number(m[4]) / 1e6 };
  m = /^event:\s+(RISING|FALLING) EDGE offset: (\d{1,3}) timestamp: \[\s*(\d{1,12})\.(\d{9})\]$/.exec(line.trim());
  if (m) return { offset: Number(m[2]), rising: m[1] === "RISING", ms: Number(m[3]) * 1e3 + Number(m[4]) / 1e6 };
  return void 0;
}
var Debouncer = class {
  constructor(ms, stable) {
    this.ms = ms;
    this.stable = stable;
    this.raw = stable;
  }
  ms;
  stable;
  raw;
  since = -Infinity;
  /** An edge at time t; returns when to call settle(). */
  edge(level, t) {
    this.raw = level;
    this.since = t;
    return t + this.ms;
  }
  /** At time t: the new stable level if it changed, else undefined. */
  settle(t) {
    if (t - this.since < this.ms || this.raw === this.stable) return void 0;
    this.stable = this.raw;
    return this.stable;
  }
};
function ledPattern(state) {
  switch (state) {
    case "idle":
      return [[false, 1e3]];
    case "buffering":
      return [[true, 100], [false, 1900]];
    case "keeping":
      return [[true, 1e3]];
    case "private":
      return [[true, 100], [false, 100], [true, 100], [false, 1700]];
    case "fault":
      return [[true, 125], [false, 125]];
  }
}
var ACK_MS = 150;
var GpioBoard = class extends ControlBoard {
  constructor(o) {
    super();
    this.o = o;
    this.backoffMs = o.backoff?.minMs ?? 500;
  }
  o;
  kind = "gpio";
  mon;
  ok = false;
  stopped = false;
  faulted = false;
  backoffMs;
  retry;
  inputs = /* @__PURE__ */ new Map();
  leds = /* @__PURE__ */ new Map();
  get connected() {
    return this.ok;
  }
  tool(name) {
    return this.o.tools?.[name] ?? name;
  }
  lowFlag() {
    return this.o.pins.activeLow ? ["-l"] : [];
  }
  async start() {
    this.stopped = false;
    void this.attempt();
  }
  async stop() {
    this.stopped = true;
    this.ok = false;
    clearTimeout(this.retry);
    this.mon?.kill();
    for (const i of this.inputs.values()) {
      clearTimeout(i.timer);
      clearTimeout(i.longTimer);
    }
    for (const l of this.leds.values()) clearTimeout(l.timer);
  }
  setLed(line, state) {
    const i = this.o.lines().indexOf(line);
    const offset = this.o.pins.leds[i];
    if (i < 0 || offset === void 0) return;
    let led = this.leds.get(offset);
    if (state === "ack") {
      if (!led) return;
      led.ackUntil = Date.now() + ACK_MS;
      clearTimeout(led.timer);
      this.write(offset, !(led.level ?? false));
      led.timer = setTimeout(() => {
        led.ackUntil = 0;
        this.runLed(offset);
      }, ACK_MS);
      return;
    }
    if (led?.state === state) return;
    if (!led) {
      led = { state, step: 0, ackUntil: 0 };
      this.leds.set(offset, led);
    }
    led.state = state;
    led.step = 0;
    clearTimeout(led.timer);
    if (Date.now() >= led.ackUntil) this.runLed(offset);
  }
  runLed(offset) {
    const led = this.leds.get(offset);
    if (!led || this.stopped) return;
    const steps = ledPattern(led.state);
    const [on, ms] = steps[led.step % steps.length];
    if (led.level !== on) this.write(offset, on);
    led.level = on;
    if (steps.length > 1) {
      led.step = (led.step + 1) % steps.length;
      led.timer = setTimeout(() => this.runLed(offset), ms);
    }
  }
  write(offset, on) {
    if (!this.ok) return;
    const p = spawn3(this.tool("gpioset"), ["--mode=exit", this.o.pins.chip, `${offset}=${on ? 1 : 0}`], { stdio: "ignore" });
    p.on("error", (e) => this.o.log.debug({ err: e }, "gpioset failed"));
  }
  async attempt() {
    if (this.stopped) return;
    const { chip, buttons, sense } = this.o.pins;
    const offsets = [...buttons, ...sense];
    if (offsets.length === 0) return this.lost("The gpio board has no button or sense pins configured; set board.gpio.buttons.");
    let initial;
    try {
      initial = await this.readLevels(offsets);
    } catch (e) {
      return this.lost(e.message);
    }
    this.useLevels(initial);
    const mon = spawn3(this.tool("gpiomon"), ["-b", ...this.lowFlag(), "-F", GPIOMON_FORMAT, chip, ...offsets.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
    this.mon = mon;
    let err = "";
    let buf = "";
    mon.stderr.setEncoding("utf8").on("data", (s) => {
      err = (err + s).slice(-400);
    });
    mon.stdout.setEncoding("utf8").on("data", (s) => {
      buf += s;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.feed(line);
      }
      if (buf.length > 1024) buf = "";
    });
    mon.on("error", (e) => {
      if (this.mon === mon) this.lost(`Cannot run ${this.tool("gpiomon")} (${e.message}); install the Debian package gpiod.`);
    });
    mon.on("close", (code) => {
      if (this.mon === mon && !this.stopped) this.lost(`gpiomon on ${chip} stopped (exit ${code}): ${err.trim() || "no message"}; check board.gpio.chip (gpiodetect) and that the service user is in the gpio group.`);
    });
    this.ok = true;
    this.backoffMs = this.o.backoff?.minMs ?? 500;
    sense.forEach((off, k) => {
      const line = this.o.lines()[k];
      if (line !== void 0) this.emit("sense", { line, state: this.inputs.get(off).deb.stable ? "offhook" : "onhook", at: Date.now() });
    });
    for (const off of this.leds.keys()) {
      const l = this.leds.get(off);
      l.level = void 0;
      this.runLed(off);
    }
    if (this.faulted) {
      this.faulted = false;
      this.emit("recovered");
    }
  }
  /** Starts debouncing from these levels (gpioget's answer, in buttons-then-sense order). */
  useLevels(levels) {
    [...this.o.pins.buttons, ...this.o.pins.sense].forEach((off, k) => this.inputs.set(off, { deb: new Debouncer(this.o.pins.debounceMs, levels[k] ?? false) }));
  }
  /** One line of gpiomon's output. */
  feed(line) {
    const e = parseGpiomon(line);
    if (e) this.onEdge(e);
    else this.o.log.warn({ line: line.slice(0, 80) }, "gpiomon printed a line that is not an event; ignored");
  }
  readLevels(offsets) {
    return new Promise((res, rej) => {
      const p = spawn3(this.tool("gpioget"), [...this.lowFlag(), this.o.pins.chip, ...offsets.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      p.stdout.setEncoding("utf8").on("data", (s) => {
        out += s;
      });
      p.stderr.setEncoding("utf8").on("data", (s) => {
        err += s;
      });
      p.on("error", (e) => rej(new Error(`Cannot run ${this.tool("gpioget")} (${e.message}); install the Debian package gpiod.`)));
      p.on("close", (code) => {
        const levels = out.trim().split(/\s+/);
        if (code === 0 && levels.length === offsets.length && levels.every((v) => v === "0" || v === "1")) res(levels.map((v) => v === "1"));
        else rej(new Error(`Cannot read GPIO ${this.o.pins.chip} (${err.trim() || `exit ${code}`}); check board.gpio.chip (gpiodetect) and that the service user is in the gpio group.`));
      });
    });
  }
  onEdge(e) {
    const input = this.inputs.get(e.offset);
    if (!input) return;
    const due = input.deb.edge(e.rising, e.ms);
    clearTimeout(input.timer);
    input.timer = setTimeout(() => {
      const level = input.deb.settle(due);
      if (level !== void 0) this.onStable(e.offset, level);
    }, Math.max(0, due - e.ms));
  }
  onStable(offset, active) {
    const lines = this.o.lines();
    const b = this.o.pins.buttons.indexOf(offset);
    if (b >= 0) {
      const input = this.inputs.get(offset);
      const line2 = b < lines.length ? lines[b] : void 0;
      const press = (kind) => this.emit("press", { ...line2 !== void 0 ? { line: line2 } : {}, kind, at: Date.now() });
      if (active) {
        input.longFired = false;
        input.longTimer = setTimeout(() => {
          input.longFired = true;
          press("long");
        }, this.o.longPressMs());
      } else {
        clearTimeout(input.longTimer);
        if (input.longFired === false) press("short");
        input.longFired = void 0;
      }
      return;
    }
    const s = this.o.pins.sense.indexOf(offset);
    const line = lines[s];
    if (s >= 0 && line !== void 0) this.emit("sense", { line, state: active ? "offhook" : "onhook", at: Date.now() });
  }
  lost(message) {
    if (this.stopped) return;
    this.ok = false;
    this.mon = void 0;
    if (!this.faulted) {
      this.faulted = true;
      this.o.log.warn({ code: "RV_ERR_BOARD_GPIO" }, message);
      this.emit("fault", { code: "RV_ERR_BOARD_GPIO", message });
    }
    this.retry = setTimeout(() => void this.attempt(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoff?.maxMs ?? 3e4);
  }
};

// src/board/factory.ts
function createBoard(cfg, lines, log) {
  const c = cfg();
  const longPressMs = () => cfg().longPressMs;
  switch (c.driver) {
    case "sim":
      return new SimBoard({ lines });
    case "serial":
      return new SerialBoard({ path: c.serialPath, lines, longPressMs, log });
    case "gpio":
      return new GpioBoard({ pins: c.gpio, lines, longPressMs, log });
    case "none":
      return void 0;
  }
}

// src/board/controller.ts
import { EventEmitter as EventEmitter7 } from "node:events";
import { spawn as spawn4 } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as join6 } from "node:path";
import wav2 from "node-wav";
function ledFor(line, boxFault) {
  if (boxFault || line.state === "fault") return "fault";
  if (line.call?.private) return "private";
  if (line.call?.keeping || line.state === "keeping") return "keeping";
  if (line.call) return "buffering";
  return "idle";
}
function pressTargets(p, mode, lines, now) {
  if (mode === "per-line" && p.line !== void 0) return [p.line];
  const live = lines.filter((l) => l.call).map((l) => l.id);
  if (live.length > 0) return live;
  return lines.filter((l) => l.lastEnded && now <= l.lastEnded.savableUntil).map((l) => l.id);
}
var BoardController = class extends EventEmitter7 {
  constructor(d) {
    super();
    this.d = d;
    const on = (em, ev, f) => {
      em.on(ev, f);
      this.unsubscribe.push(() => em.off(ev, f));
    };
    on(d.board, "press", (p) => this.onPress(p));
    on(d.board, "recovered", () => {
      this.shown.clear();
      this.update();
    });
    on(d.recorder, "change", () => this.update());
    on(d.recorder, "kept", (k) => {
      if (k.keptBy !== "import") this.beep();
    });
    on(d.health, "change", () => this.update());
    this.update();
  }
  d;
  shown = /* @__PURE__ */ new Map();
  beepFile;
  unsubscribe = [];
  stop() {
    for (const f of this.unsubscribe.splice(0)) f();
  }
  /** The LED state of every line, as the board shows it. */
  leds() {
    const boxFault = this.d.health.boxFault();
    return Object.fromEntries(this.d.recorder.status().map((l) => [l.id, ledFor(l, boxFault)]));
  }
  update() {
    for (const [line, state] of Object.entries(this.leds())) {
      if (this.shown.get(line) === state) continue;
      this.shown.set(line, state);
      this.d.board.setLed(line, state);
    }
  }
  onPress(p) {
    const status = this.d.recorder.status();
    for (const l of p.line !== void 0 ? [p.line] : status.map((s) => s.id)) this.d.board.setLed(l, "ack");
    const targets = pressTargets(p, this.d.mode(), status, this.d.now());
    if (targets.length === 0) {
      this.d.log.info({ kind: p.kind }, "save button pressed with no live or just-ended call");
      this.emit("handled", { line: p.line ?? "", kind: p.kind, ok: false, error: "There is no live or just-ended call to act on." });
      return;
    }
    for (const line of targets) void this.act(line, p.kind);
  }
  async act(line, kind) {
    try {
      if (kind === "short") {
        const r = await this.d.recorder.save(line, { keptBy: "button" });
        this.emit("handled", { line, kind, ok: true, callId: r.callId });
      } else {
        await this.d.recorder.private(line);
        await this.d.audit({ actor: "button", action: "call.private", detail: { line } });
        this.emit("handled", { line, kind, ok: true });
      }
    } catch (e) {
      const error = e.message;
      if (isRvError(e)) this.d.log.info({ line, kind, code: e.code }, error);
      else this.d.log.error({ err: e, line, kind }, "save button press failed");
      this.emit("handled", { line, kind, ok: false, error });
    }
    this.update();
  }
  /** Plays a short two-tone beep through `aplay`, the staff notice that a call is now kept. */
  beep() {
    const device = this.d.beepDevice();
    if (device === void 0) return;
    this.beepFile ??= writeBeep();
    const child2 = spawn4("aplay", ["-q", "-D", device, this.beepFile], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child2.stderr.setEncoding("utf8").on("data", (s) => {
      err += s;
    });
    child2.on("error", (e) => {
      this.d.log.warn({ err: e }, "beep failed: aplay is missing (install alsa-utils)");
      this.emit("beep", { device, ok: false });
    });
    child2.on("close", (code) => {
      if (code === 0) {
        this.emit("beep", { device, ok: true });
        return;
      }
      if (code !== null) this.d.log.warn({ device, stderr: err.trim().slice(0, 200) }, "beep failed: aplay could not play on the audio output; check board.beepDevice");
      this.emit("beep", { device, ok: false });
    });
  }
};
function beepSamples(rate = 8e3) {
  const tone = Math.round(0.12 * rate), gap = Math.round(0.08 * rate), ramp = Math.round(5e-3 * rate);
  const out = new Float32Array(tone * 2 + gap);
  for (const start of [0, tone + gap]) {
    for (let i = 0; i < tone; i++) {
      const env = Math.min(1, i / ramp, (tone - 1 - i) / ramp);
      out[start + i] = 0.25 * env * Math.sin(2 * Math.PI * 1e3 * i / rate);
    }
  }
  return out;
}
function writeBeep() {
  const file = join6(mkdtempSync(join6(tmpdir(), "ringvault-beep-")), "beep.wav");
  writeFileSync(file, wav2.encode([beepSamples()], { sampleRate: 8e3, bitDepth: 16 }));
  return file;
}

// src/health.ts
import { EventEmitter as EventEmitter8 } from "node:events";
import { readdir as readdir5, stat as stat2, statfs } from "node:fs/promises";
import { join as join7 } from "node:path";
var NOMINAL_BYTES_PER_HOUR = 2 * 8e3 * 2 * 3600 * 1.01;
async function archiveBytes(dir) {
  let total = 0;
  const entries = await readdir5(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join7(dir, e.name);
    if (e.isDirectory()) total += await archiveBytes(p);
    else if (e.name.endsWith(".audio")) total += (await stat2(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
var Health = class extends EventEmitter8 {
  constructor(d) {
    super();
    this.d = d;
    d.board?.on("fault", (f) => {
      this.boardFault = f.message;
      this.changed();
    });
    d.board?.on("recovered", () => {
      this.boardFault = void 0;
      this.changed();
    });
  }
  d;
  setUp = true;
  disk;
  boardFault;
  timer;
  last = "";
  checking;
  async start() {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), (this.d.checkSeconds ?? 30) * 1e3);
    this.timer.unref();
  }
  stop() {
    clearInterval(this.timer);
  }
  /** Re-reads what needs I/O (disk, vault); the rest is read live by report(). */
  refresh() {
    this.checking ??= this.check().finally(() => {
      this.checking = void 0;
    });
    return this.checking;
  }
  async check() {
    try {
      this.setUp = await this.d.initialized();
      const fs2 = await statfs(this.d.archiveDir);
      const freeBytes = fs2.bavail * fs2.bsize;
      const ms = this.d.archivedMs();
      const measured = ms > 0 && ms >= (this.d.measureAfterMs ?? 36e5);
      const bytesPerHour = measured ? await archiveBytes(this.d.archiveDir) / (ms / 36e5) : NOMINAL_BYTES_PER_HOUR;
      const hoursWanted = this.d.hoursWanted();
      const f = freeSpaceForecast({ freeBytes, bytesPerHour, hoursWanted });
      this.disk = { freeBytes, bytesPerHour: Math.round(bytesPerHour), hoursLeft: Number.isFinite(f.hoursLeft) ? f.hoursLeft : null, hoursWanted, measured };
    } catch (e) {
      this.d.log.error({ err: e }, "health check failed");
    }
    this.changed();
  }
  /** Called on any change of a source; emits `change` only when the report's issues differ. */
  changed() {
    const key = JSON.stringify(this.issues());
    if (key === this.last) return;
    this.last = key;
    this.emit("change");
  }
  issues() {
    const out = [];
    for (const l of this.d.lines()) {
      if (l.state === "fault") out.push({ code: "RV_ERR_AUDIO_SOURCE", line: l.id, message: `No audio from ${l.name}: ${l.fault ?? "the line source failed"}. Check the cable and the audio interface; calls on this line are not recorded until it is back.` });
    }
    if (this.disk && this.disk.hoursLeft !== null && this.disk.hoursLeft < this.disk.hoursWanted) {
      out.push({ code: "RV_ERR_DISK_LOW", message: `The disk is nearly full: room for about ${this.disk.hoursLeft} h of recordings, ${this.disk.hoursWanted} h wanted. Export and delete recordings whose purpose has ended, or fit a bigger disk.` });
    }
    if (!this.d.clock.synced()) out.push({ code: "RV_ERR_CLOCK_UNSYNCED", message: "The clock is not synchronised (no network time yet); recordings made now are marked. Check the network connection and NTP." });
    if (!this.setUp) out.push({ code: "RV_ERR_NOT_SET_UP", message: "The box has never been set up, so no call can be kept; open the web UI and run the setup." });
    if (this.boardFault !== void 0) out.push({ code: "RV_ERR_BOARD_DISCONNECTED", message: `The save button board is not connected: ${this.boardFault}` });
    return out;
  }
  /** True when something stops the box from keeping calls on every line (shown as fault on every LED). */
  boxFault() {
    return this.issues().some((i) => i.line === void 0 && i.code !== "RV_ERR_BOARD_DISCONNECTED");
  }
  report() {
    const issues = this.issues();
    const b = this.d.board;
    return {
      ok: issues.length === 0,
      issues,
      ...this.disk ? { disk: this.disk } : {},
      board: b ? { kind: b.kind, connected: b.connected, ...this.boardFault !== void 0 ? { fault: this.boardFault } : {} } : null,
      checkedAt: this.d.clock.now()
    };
  }
};

// src/box.ts
var dataPaths = (dataDir) => ({
  vault: join8(dataDir, "vault"),
  archive: join8(dataDir, "archive"),
  ring: join8(dataDir, "ring.bin"),
  settings: join8(dataDir, "settings.json"),
  audit: join8(dataDir, "audit.log"),
  socket: join8(dataDir, "control.sock"),
  holds: join8(dataDir, "holds.json")
});
var Box = class _Box {
  constructor(base, log, clock, settings, vault, archive, ring, audit, recorder, catalog) {
    this.base = base;
    this.log = log;
    this.clock = clock;
    this.settings = settings;
    this.vault = vault;
    this.archive = archive;
    this.ring = ring;
    this.audit = audit;
    this.recorder = recorder;
    this.catalog = catalog;
  }
  base;
  log;
  clock;
  settings;
  vault;
  archive;
  ring;
  audit;
  recorder;
  catalog;
  sources = [];
  sim;
  siprec;
  retention;
  /** the save button / LED / line sense board (issue 5); undefined with board.driver "none" */
  board;
  boardController;
  health;
  /** legal holds (issue 6) */
  holds;
  static async open(o) {
    const p = dataPaths(o.config.dataDir);
    await mkdir2(o.config.dataDir, { recursive: true, mode: 448 });
    const settings = new SettingsStore(p.settings);
    await settings.load();
    const cfg = settings.effective(o.config);
    const vault = new Vault(p.vault);
    const archive = new Archive({ dir: p.archive, vault, log: (msg, extra) => o.log.info({ ...extra }, msg) });
    const opened = await archive.open();
    o.log.info(opened, "archive opened");
    const ring = await Ring.open({ path: p.ring, slots: slotsForMinutes(cfg.ring.minutesPerLine, cfg.lines.length), log: (msg, extra) => o.log.info({ ...extra }, msg) });
    const audit = new AuditLog(p.audit, o.clock.now);
    await audit.open();
    let box;
    const recorder = new Recorder({
      ring,
      archive,
      clock: o.clock,
      log: o.log,
      lines: () => box.config().lines,
      graceSeconds: () => box.config().graceSeconds,
      exclusions: () => box.config().exclusions
    });
    const catalog = new Catalog(archive);
    box = new _Box(o.config, o.log, o.clock, settings, vault, archive, ring, audit, recorder, catalog);
    recorder.on("archived", (h) => void catalog.refresh(h.id).catch((e) => o.log.error({ err: e }, "catalog refresh failed")));
    recorder.on("kept", (k) => void audit.append({ actor: "box", action: "call.kept", target: k.callId, detail: { line: k.line, keptBy: k.keptBy } }));
    box.board = createBoard(() => box.config().board, () => box.config().lines.map((l) => l.id), o.log);
    const simLines = cfg.lines.filter((l) => l.source === "sim");
    if (simLines.length > 0) {
      box.sim = new SimSource({
        lines: simLines.map((l) => ({ id: l.id, channels: l.channels })),
        speechDir: o.speechDir,
        random: cfg.sim.randomCalls ? { meanGapSec: cfg.sim.meanGapSec, minSec: 5, maxSec: 90 } : false,
        speed: cfg.sim.speed,
        clock: o.clock.now
      });
      box.sources.push(box.sim);
    }
    const siprecLines = cfg.lines.filter((l) => l.source === "siprec");
    if (siprecLines.length > 0) {
      const sc = cfg.siprec;
      box.siprec = new SiprecSource({
        lines: siprecLines.map((l) => ({ id: l.id, channels: l.channels, match: l.match ?? [] })),
        log: o.log,
        now: o.clock.now,
        server: { host: sc.host, port: sc.port, udp: sc.udp, tcp: sc.tcp, mediaAddr: sc.mediaAddr, rtpPortMin: sc.rtpPortMin, rtpPortMax: sc.rtpPortMax, rtpTimeoutMs: sc.rtpTimeoutSec * 1e3, answerDelayMs: sc.answerDelayMs, maxSessions: sc.maxSessions, allowFrom: sc.allowFrom }
      });
      box.sources.push(box.siprec);
    }
    const pcapLines = cfg.lines.filter((l) => l.source === "pcap");
    if (pcapLines.length > 0) {
      box.sources.push(new PcapSource({
        lines: pcapLines.map((l) => ({ id: l.id, channels: l.channels, match: l.match ?? [] })),
        log: o.log,
        now: o.clock.now,
        interface: cfg.pcap.interface,
        filter: cfg.pcap.filter,
        rtpTimeoutMs: cfg.pcap.rtpTimeoutSec * 1e3
      }));
    }
    const holds = new HoldStore({
      path: p.holds,
      archive,
      vault,
      audit,
      now: o.clock.now,
      partiesOf: (id) => {
        const h = archive.get(id);
        return h && catalog.unlocked ? catalog.summary(h) : void 0;
      }
    });
    await holds.open();
    box.holds = holds;
    recorder.on("archived", (h, parties) => void holds.onKept(h.id, parties ?? {}).catch((e) => o.log.error({ err: e, id: h.id }, "legal hold check failed; the next unlock retries")));
    box.retention = new RetentionScheduler({
      archive,
      audit,
      clock: o.clock,
      log: o.log,
      policy: () => validateRetention(box.config().retention),
      numberHeld: (id) => holds.maybeHeld(id)
    });
    box.retention.start();
    for (const s of box.sources) recorder.attach(s);
    for (const s of box.sources) {
      await s.start().catch((e) => o.log.error({ err: e, source: s.kind }, "line source failed to start"));
    }
    await box.startBoard(p.archive);
    const analogLines = cfg.lines.filter((l) => l.source === "alsa");
    if (analogLines.length > 0) {
      const analog = new AnalogSource({ devices: cfg.alsa.devices, lines: analogLines, board: box.board, log: o.log, clock: o.clock.now });
      box.sources.push(analog);
      recorder.attach(analog);
      await analog.start().catch((e) => o.log.error({ err: e, source: analog.kind }, "line source failed to start"));
    }
    return box;
  }
  config() {
    return this.settings.effective(this.base);
  }
  /** Box health and the control board; a board that fails to start is a fault, and recording goes on. */
  async startBoard(archiveDir) {
    const cfg = () => this.config();
    this.health = new Health({
      clock: this.clock,
      log: this.log,
      lines: () => this.recorder.status(),
      initialized: () => this.vault.isInitialized(),
      archiveDir,
      archivedMs: () => this.archive.list().reduce((s, h) => s + h.durationMs, 0),
      hoursWanted: () => cfg().health.diskHoursWanted,
      checkSeconds: cfg().health.checkSeconds,
      board: this.board
    });
    this.recorder.on("change", () => this.health?.changed());
    await this.health.start();
    if (!this.board) return;
    this.boardController = new BoardController({
      board: this.board,
      recorder: this.recorder,
      health: this.health,
      log: this.log,
      now: () => this.clock.now(),
      mode: () => cfg().board.buttonMode,
      audit: (e) => this.audit.append(e),
      beepDevice: () => cfg().board.beep ? cfg().board.beepDevice : void 0
    });
    await this.board.start().catch((e) => this.log.error({ err: e, board: this.board?.kind }, "control board failed to start"));
  }
  coverageMinutes() {
    return this.ring.coverageSeconds(this.config().lines.length) / 60;
  }
  async initialized() {
    return this.vault.isInitialized();
  }
  async setup(username, passphrase, via = "web") {
    const r = await firstRunSetup({ vault: this.vault, settings: this.settings, audit: this.audit, now: this.clock.now }, username, passphrase, via);
    await this.catalog.unlock();
    await this.holds?.sweep().catch((e) => this.log.error({ err: e }, "legal hold sweep failed"));
    void this.health?.refresh();
    return r;
  }
  async authenticate(username, passphrase) {
    const user = this.settings.users.find((u) => u.name === username);
    const ok = await checkPassword(passphrase, user?.passHash ?? "scrypt$16384$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    if (!user || !ok) {
      await this.audit.append({ actor: username.slice(0, 32) || "?", action: "login.failed" });
      throw new RvError("RV_ERR_BAD_LOGIN", "Wrong user name or passphrase.", 401);
    }
    await this.audit.append({ actor: user.name, action: "login" });
    return user;
  }
  async unlock(secret, actor) {
    const r = await this.vault.unlock(secret).catch(async (e) => {
      await this.audit.append({ actor, action: "vault.unlock.failed" });
      throw e;
    });
    await this.catalog.unlock();
    await this.holds?.sweep().catch((e) => this.log.error({ err: e }, "legal hold sweep failed"));
    await this.audit.append({ actor, action: "vault.unlock", detail: { via: r.via } });
    return { via: r.via };
  }
  async lock(actor) {
    this.vault.lock();
    this.catalog.lock();
    await this.audit.append({ actor, action: "vault.lock" });
  }
  async addUser(actor, u) {
    if (!USERNAME.test(u.username)) throw new RvError("RV_ERR_BAD_USERNAME", "A user name is 1\u201332 letters, digits, dots, dashes or underscores.", 422);
    if (!ROLES.includes(u.role)) throw new RvError("RV_ERR_BAD_ROLE", `Role must be one of ${ROLES.join(", ")}.`, 422);
    if (this.settings.users.some((x) => x.name === u.username)) throw new RvError("RV_ERR_USER_EXISTS", `There is already a user "${u.username}".`, 409);
    if (u.passphrase.length < 8) throw new RvError("RV_ERR_WEAK_PASSPHRASE", "A passphrase needs at least 8 characters; a few random words are best.", 422);
    if (u.role !== "staff") await this.vault.addKeyslot(u.username, u.passphrase);
    const user = { name: u.username, role: u.role, passHash: await hashPassword(u.passphrase), createdAt: this.clock.now(), ...u.extension ? { extension: u.extension } : {} };
    await this.settings.update((d) => {
      d.users.push(user);
    });
    await this.audit.append({ actor, action: "user.add", target: u.username, detail: { role: u.role } });
    return user;
  }
  async removeUser(actor, name) {
    const user = this.settings.users.find((x) => x.name === name);
    if (!user) throw new RvError("RV_ERR_NO_SUCH_USER", `There is no user "${name}".`, 404);
    if (user.role === "admin" && this.settings.users.filter((x) => x.role === "admin").length === 1) {
      throw new RvError("RV_ERR_LAST_ADMIN", "This is the last administrator; add another administrator before removing this one.", 409);
    }
    if (await this.vault.hasKeyslot(name)) await this.vault.removeKeyslot(name);
    await this.settings.update((d) => {
      d.users = d.users.filter((x) => x.name !== name);
    });
    await this.audit.append({ actor, action: "user.remove", target: name });
  }
  async updateSettings(actor, patch) {
    const known = new Set(this.base.lines.map((l) => l.id));
    for (const l of patch.lines ?? []) if (!known.has(l.id)) throw new RvError("RV_ERR_UNKNOWN_LINE", `There is no line "${l.id}".`, 404);
    const next = structuredClone(this.settings.overrides);
    if (patch.lines) {
      next.lines ??= [];
      for (const l of patch.lines) {
        const i = next.lines.findIndex((x) => x.id === l.id);
        if (i >= 0) next.lines[i] = { ...next.lines[i], ...l };
        else next.lines.push(l);
      }
    }
    for (const k of ["graceSeconds", "exclusions", "language", "rolePurposes"]) if (patch[k] !== void 0) next[k] = patch[k];
    if (patch.retention !== void 0) next.retention = validateRetention(patch.retention);
    for (const l of applyOverrides(this.base, next).lines) {
      const stray = l.keepPurposes.filter((p) => !l.announced.includes(p));
      if (stray.length) throw new RvError("RV_ERR_PURPOSE_NOT_ANNOUNCED", `Line ${l.id}: ${stray.join(", ")} is kept for but not announced; announce it or remove it from the keep purposes.`, 422);
    }
    await this.settings.update((d) => {
      d.overrides = next;
    });
    const logged = patch.exclusions ? { ...patch, exclusions: `${patch.exclusions.length} number(s)` } : patch;
    await this.audit.append({ actor, action: "settings.change", detail: { patch: logged } });
    return this.config();
  }
  async close() {
    await this.retention?.stop();
    this.boardController?.stop();
    await this.board?.stop().catch(() => void 0);
    this.health?.stop();
    for (const s of this.sources) await s.stop().catch(() => void 0);
    await this.recorder.close();
    await this.ring.close();
    await this.audit.close();
    this.vault.lock();
  }
};

// src/http/app.ts
import Fastify from "fastify";
import cookie from "@fastify/cookie";
import csrf from "@fastify/csrf-protection";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";

// src/http/sessions.ts
import { randomBytes as randomBytes13 } from "node:crypto";
var SESSION_COOKIE = "rv_session";
var Sessions = class {
  constructor(ttlMs, now = Date.now) {
    this.ttlMs = ttlMs;
    this.now = now;
  }
  ttlMs;
  now;
  byToken = /* @__PURE__ */ new Map();
  create(user, role, extension) {
    const s = { token: randomBytes13(32).toString("base64url"), user, role, extension, expires: this.now() + this.ttlMs };
    this.byToken.set(s.token, s);
    return s;
  }
  get(token) {
    if (!token) return void 0;
    const s = this.byToken.get(token);
    if (!s) return void 0;
    if (s.expires < this.now()) {
      this.byToken.delete(token);
      return void 0;
    }
    s.expires = this.now() + this.ttlMs;
    return s;
  }
  drop(token) {
    if (token) this.byToken.delete(token);
  }
  /** After a user is deleted or their role changes, their sessions end. */
  dropUser(user) {
    for (const [t, s] of this.byToken) if (s.user === user) this.byToken.delete(t);
  }
};
var STAFF_AND_UP = ["admin", "manager", "reviewer", "staff"];
var REVIEWERS = ["admin", "manager", "reviewer"];
var MANAGERS = ["admin", "manager"];
var ADMINS = ["admin"];
function allow(roles) {
  return async (req, _reply) => {
    if (!req.session) throw new RvError("RV_ERR_NOT_LOGGED_IN", "Log in first.", 401);
    if (!roles.includes(req.session.role)) throw new RvError("RV_ERR_FORBIDDEN", `Your role (${req.session.role}) may not do this; ask an administrator.`, 403);
  };
}

// src/http/routes/auth.ts
import { Type as Type3 } from "@sinclair/typebox";
var Credentials = Type3.Object({ username: Type3.String({ minLength: 1, maxLength: 64 }), passphrase: Type3.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
var authRoutes = (ctx) => async (app) => {
  const { box, sessions, cookieBase } = ctx;
  app.get("/api/state", async (req, reply) => {
    const initialized = await box.initialized();
    const s = req.session;
    return {
      initialized,
      user: s ? { name: s.user, role: s.role, ...s.extension ? { extension: s.extension } : {} } : null,
      vault: !initialized ? "uninitialized" : box.vault.unlocked ? "unlocked" : "locked",
      csrfToken: reply.generateCsrf(),
      sim: !!box.sim,
      clockSynced: box.clock.synced(),
      language: box.config().language,
      version: ctx.o.version,
      // Box health (issue 5): strangers learn only whether all is well; a login sees what is wrong.
      health: s ? box.health?.report() ?? null : { ok: box.health?.report().ok ?? true },
      simBoard: box.board?.kind === "sim"
    };
  });
  app.post("/api/setup", { schema: { body: Type3.Object({ username: Type3.String({ minLength: 1, maxLength: 32 }), passphrase: Type3.String({ minLength: 1, maxLength: 1024 }), language: Type3.Optional(Type3.Union([Type3.Literal("nl"), Type3.Literal("en")])) }, { additionalProperties: false }) } }, async (req, reply) => {
    const { recoveryKey, user } = await box.setup(req.body.username, req.body.passphrase);
    if (req.body.language) await box.updateSettings(user.name, { language: req.body.language });
    const s = sessions.create(user.name, user.role);
    reply.setCookie(SESSION_COOKIE, s.token, cookieBase);
    return { recoveryKey, user: { name: user.name, role: user.role } };
  });
  app.post("/api/login", { config: { rateLimit: { max: ctx.o.loginsPerMinute, timeWindow: 6e4 } }, schema: { body: Credentials } }, async (req, reply) => {
    const user = await box.authenticate(req.body.username, req.body.passphrase);
    sessions.drop(req.cookies[SESSION_COOKIE]);
    const s = sessions.create(user.name, user.role, user.extension);
    reply.setCookie(SESSION_COOKIE, s.token, cookieBase);
    return { user: { name: user.name, role: user.role, ...user.extension ? { extension: user.extension } : {} } };
  });
  app.post("/api/logout", { onRequest: allow(STAFF_AND_UP) }, async (req, reply) => {
    sessions.drop(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieBase);
    await box.audit.append({ actor: req.session.user, action: "logout" });
    return { ok: true };
  });
  app.post("/api/unlock", { onRequest: allow(REVIEWERS), config: { rateLimit: { max: ctx.o.loginsPerMinute, timeWindow: 6e4 } }, schema: { body: Type3.Object({ secret: Type3.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }) } }, async (req) => {
    if (!await box.initialized()) throw new RvError("RV_ERR_NOT_SET_UP", "The box is not set up yet; run the setup first.", 409);
    const r = await box.unlock(req.body.secret, req.session.user);
    return { ok: true, via: r.via };
  });
  app.post("/api/lock", { onRequest: allow(MANAGERS) }, async (req) => {
    await box.lock(req.session.user);
    return { ok: true };
  });
};

// src/http/routes/lines.ts
import { Type as Type4 } from "@sinclair/typebox";
var LineParams = Type4.Object({ id: Type4.String({ maxLength: 32 }) });
var SIM_ROLES = ["admin", "manager", "staff"];
var lineRoutes = (ctx) => async (app) => {
  const { box } = ctx;
  const lines = () => {
    const coverageMinutes = Math.round(box.coverageMinutes() * 10) / 10;
    const leds = box.boardController?.leds() ?? {};
    return box.recorder.status().map((l) => ({ ...l, coverageMinutes, ...leds[l.id] ? { led: leds[l.id] } : {} }));
  };
  app.get("/api/lines", { onRequest: allow(STAFF_AND_UP) }, async () => ({ lines: lines() }));
  app.get("/api/events", { onRequest: allow(STAFF_AND_UP) }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-content-type-options": "nosniff" });
    const send = (event, data) => res.write(`event: ${event}
data: ${JSON.stringify(data)}

`);
    let pending;
    const onChange = () => {
      pending ??= setTimeout(() => {
        pending = void 0;
        send("lines", { lines: lines() });
      }, 50);
    };
    const onKept = (k) => send("kept", k);
    box.recorder.on("change", onChange);
    box.recorder.on("kept", onKept);
    const onHealth = () => send("health", box.health?.report() ?? null);
    box.health?.on("change", onHealth);
    box.health?.on("change", onChange);
    const tick = setInterval(() => send("lines", { lines: lines() }), 5e3);
    send("lines", { lines: lines() });
    onHealth();
    req.raw.on("close", () => {
      clearInterval(tick);
      clearTimeout(pending);
      box.recorder.off("change", onChange);
      box.recorder.off("kept", onKept);
      box.health?.off("change", onHealth);
      box.health?.off("change", onChange);
    });
  });
  app.post("/api/lines/:id/save", { onRequest: allow(STAFF_AND_UP), schema: { params: LineParams, body: Type4.Optional(Type4.Object({ purposes: Type4.Optional(Type4.Array(Purpose, { maxItems: 5 })) }, { additionalProperties: false })) } }, async (req) => {
    const r = await box.recorder.save(req.params.id, { purposes: req.body?.purposes, keptBy: "user" });
    await box.audit.append({ actor: req.session.user, action: "call.save", target: r.callId, detail: { line: req.params.id } });
    return { callId: r.callId, line: req.params.id };
  });
  app.post("/api/lines/:id/private", { onRequest: allow(STAFF_AND_UP), schema: { params: LineParams } }, async (req) => {
    await box.recorder.private(req.params.id);
    await box.audit.append({ actor: req.session.user, action: "call.private", detail: { line: req.params.id } });
    return { ok: true };
  });
  const sim = () => {
    if (!box.sim) throw new RvError("RV_ERR_NOT_SIMULATED", "This box has no simulated lines; calls come from the real line.", 404);
    return box.sim;
  };
  app.post("/api/sim/lines/:id/call", {
    onRequest: allow(SIM_ROLES),
    schema: {
      params: LineParams,
      body: Type4.Optional(Type4.Object({
        direction: Type4.Optional(Type4.Union([Type4.Literal("in"), Type4.Literal("out")])),
        caller: Type4.Optional(Type4.String({ pattern: "^\\+?[0-9]{3,20}$" })),
        called: Type4.Optional(Type4.String({ pattern: "^\\+?[0-9]{3,20}$" })),
        extension: Type4.Optional(Type4.String({ pattern: "^[0-9]{1,8}$" })),
        durationSec: Type4.Optional(Type4.Number({ minimum: 1, maximum: 3600 }))
      }, { additionalProperties: false }))
    }
  }, async (req) => ({ ref: sim().placeCall(req.params.id, req.body ?? {}) }));
  app.post("/api/sim/lines/:id/fault", { onRequest: allow(["admin", "manager"]), schema: { params: LineParams, body: Type4.Object({ fault: Type4.Boolean() }, { additionalProperties: false }) } }, async (req) => {
    sim().setFault(req.params.id, req.body.fault);
    return { ok: true };
  });
  app.post("/api/sim/lines/:id/hangup", { onRequest: allow(SIM_ROLES), schema: { params: LineParams } }, async (req) => {
    sim().hangup(req.params.id);
    return { ok: true };
  });
  const simBoard = () => {
    if (!(box.board instanceof SimBoard)) throw new RvError("RV_ERR_NOT_SIMULATED", "This box has a real save-button board (or none); press its buttons instead.", 404);
    return box.board;
  };
  const BoardLine = Type4.String({ pattern: "^[a-z0-9][a-z0-9-]{0,31}$" });
  app.post("/api/sim/board/press", { onRequest: allow(SIM_ROLES), schema: { body: Type4.Object({ line: Type4.Optional(BoardLine), kind: Type4.Union([Type4.Literal("short"), Type4.Literal("long")]) }, { additionalProperties: false }) } }, async (req) => {
    const b = simBoard();
    if (!b.connected) throw new RvError("RV_ERR_BOARD_UNPLUGGED", "The simulated board is unplugged; plug it back in first.", 409);
    b.press(req.body.line, req.body.kind);
    return { ok: true };
  });
  app.post("/api/sim/board/sense", { onRequest: allow(["admin", "manager"]), schema: { body: Type4.Object({ line: BoardLine, state: Type4.Union([Type4.Literal("offhook"), Type4.Literal("onhook"), Type4.Literal("ring")]) }, { additionalProperties: false }) } }, async (req) => {
    simBoard().sense(req.body.line, req.body.state);
    return { ok: true };
  });
  app.post("/api/sim/board/plug", { onRequest: allow(["admin", "manager"]), schema: { body: Type4.Object({ plugged: Type4.Boolean() }, { additionalProperties: false }) } }, async (req) => {
    const b = simBoard();
    if (req.body.plugged) b.plug();
    else b.unplug();
    return { ok: true, connected: b.connected };
  });
};

// src/http/routes/calls.ts
import { Readable } from "node:stream";
import { Type as Type5 } from "@sinclair/typebox";

// src/http/range.ts
function parseRange(header, total) {
  if (!header) return void 0;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || m[1] === "" && m[2] === "") return void 0;
  let start;
  let end2;
  if (m[1] === "") {
    start = Math.max(0, total - Number(m[2]));
    end2 = total - 1;
  } else {
    start = Number(m[1]);
    end2 = m[2] === "" ? total - 1 : Math.min(Number(m[2]), total - 1);
  }
  if (start > end2 || start >= total) throw new RvError("RV_ERR_RANGE", `The requested byte range ${header} lies outside the ${total}-byte recording.`, 416);
  return { start, end: end2 };
}

// src/privacy/access.ts
function allowedPurposes(matrix, role) {
  return role === "staff" ? [] : [...matrix[role] ?? []];
}
function mayOpen(matrix, role, purposes) {
  const allowed = allowedPurposes(matrix, role);
  if (purposes.length === 0) return PURPOSES.every((p) => allowed.includes(p));
  return purposes.some((p) => allowed.includes(p));
}
function requirePurpose(matrix, role, call) {
  if (mayOpen(matrix, role, call.purposes)) return;
  const allowed = allowedPurposes(matrix, role);
  throw new RvError(
    "RV_ERR_PURPOSE_NOT_ALLOWED",
    `Recording ${call.id} was kept for ${call.purposes.join(", ") || "no stated purpose"}; your role (${role}) may only see recordings kept for ${allowed.join(", ") || "no purpose"}. Ask a manager if you need it.`,
    403
  );
}

// src/http/routes/calls.ts
var CallParams = Type5.Object({ id: Type5.String({ pattern: "^[A-Za-z0-9_.-]{1,80}$" }) });
var dateParam = (s, field, endOfDay) => {
  if (!s) return void 0;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T${endOfDay ? "23:59:59.999" : "00:00:00"}` : s);
  if (Number.isNaN(t)) throw new RvError("RV_ERR_BAD_DATE", `${field}: "${s}" is not a date; use YYYY-MM-DD.`, 400);
  return t;
};
var callRoutes = (ctx) => async (app) => {
  const { box } = ctx;
  const header = (id) => {
    const h = box.archive.get(id);
    if (!h) throw new RvError("RV_ERR_NO_SUCH_CALL", `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    return h;
  };
  app.get("/api/calls", {
    onRequest: allow(STAFF_AND_UP),
    schema: { querystring: Type5.Object({ number: Type5.Optional(Type5.String({ maxLength: 32 })), from: Type5.Optional(Type5.String({ maxLength: 40 })), to: Type5.Optional(Type5.String({ maxLength: 40 })), line: Type5.Optional(Type5.String({ maxLength: 32 })) }, { additionalProperties: false }) }
  }, async (req) => {
    const s = req.session;
    const locked2 = !box.catalog.unlocked;
    if (req.query.number && locked2) throw new RvError("RV_ERR_VAULT_LOCKED", "Numbers are encrypted; unlock the vault to search by number.", 423);
    const q = { number: req.query.number || void 0, from: dateParam(req.query.from, "from", false), to: dateParam(req.query.to, "to", true), line: req.query.line || void 0 };
    if (s.role === "staff") {
      if (!s.extension || locked2) return { calls: [], locked: locked2 };
      return { calls: box.catalog.search({ ...q, extension: s.extension }), locked: locked2 };
    }
    if (req.query.number) await box.audit.append({ actor: s.user, action: "calls.search", detail: { by: "number" } });
    const matrix = box.config().rolePurposes;
    return { calls: box.catalog.search(q).filter((c) => mayOpen(matrix, s.role, c.purposes)), locked: locked2, allowedPurposes: allowedPurposes(matrix, s.role) };
  });
  app.get("/api/calls/:id", { onRequest: allow(STAFF_AND_UP), schema: { params: CallParams } }, async (req) => {
    const h = header(req.params.id);
    const summary = box.catalog.summary(h);
    const s = req.session;
    if (s.role === "staff" && (!s.extension || summary.extension !== s.extension)) throw new RvError("RV_ERR_FORBIDDEN", "Staff can see only the kept calls of their own extension.", 403);
    if (s.role !== "staff") requirePurpose(box.config().rolePurposes, s.role, h);
    const v = await box.archive.verify(h.id);
    return { call: { ...summary, verified: v.ok, ...v.reason ? { verifyProblem: v.reason } : {} } };
  });
  app.get("/api/calls/:id/audio.wav", {
    onRequest: allow(REVIEWERS),
    schema: { params: CallParams, querystring: Type5.Object({ download: Type5.Optional(Type5.String({ maxLength: 5 })) }) }
  }, async (req, reply) => {
    const h = header(req.params.id);
    requirePurpose(box.config().rolePurposes, req.session.role, h);
    if (!box.vault.unlocked) throw new RvError("RV_ERR_VAULT_LOCKED", "The vault is locked; unlock it to listen to recordings.", 423);
    if (h.restricted) throw new RvError("RV_ERR_RESTRICTED", "Playback of this recording is restricted (a data-subject request); lift the restriction first.", 403);
    const bytesPerFrame = 2 * h.channels;
    const dataBytes = h.samples * bytesPerFrame;
    const head = wavHeader({ sampleRate: h.sampleRate, channels: h.channels, dataBytes });
    const total = head.length + dataBytes;
    const range = parseRange(req.headers.range, total);
    const download = req.query.download === "1";
    if (!range || range.start === 0) await box.audit.append({ actor: req.session.user, action: download ? "call.download" : "call.play", target: h.id });
    const start = range?.start ?? 0;
    const end2 = range?.end ?? total - 1;
    const chunkBytes = SAMPLE_RATE * bytesPerFrame;
    async function* body() {
      let pos = 0;
      const emit = (buf) => {
        const from = Math.max(start - pos, 0);
        const to = Math.min(end2 + 1 - pos, buf.length);
        pos += buf.length;
        return to > from ? buf.subarray(from, to) : void 0;
      };
      const h0 = emit(head);
      if (h0) yield h0;
      const first = Math.max(0, Math.floor((start - head.length) / chunkBytes));
      pos = head.length + first * chunkBytes;
      for await (const c of box.archive.readPcm(h.id, first)) {
        if (pos > end2) break;
        const part = emit(c.pcm);
        if (part) yield part;
      }
    }
    reply.header("content-type", "audio/wav").header("accept-ranges", "bytes").header("cache-control", "no-store");
    if (download) reply.header("content-disposition", `attachment; filename="ringvault-${h.id}.wav"`);
    if (range) reply.status(206).header("content-range", `bytes ${start}-${end2}/${total}`);
    reply.header("content-length", String(end2 - start + 1));
    return reply.send(Readable.from(body()));
  });
  app.delete("/api/calls/:id", { onRequest: allow(MANAGERS), schema: { params: CallParams } }, async (req) => {
    const h = header(req.params.id);
    requirePurpose(box.config().rolePurposes, req.session.role, h);
    if (h.holds.length > 0) throw new RvError("RV_ERR_ON_HOLD", "This recording is under legal hold; release the hold before deleting it.", 409);
    await box.archive.shred(h.id);
    box.catalog.forget(h.id);
    await box.audit.append({ actor: req.session.user, action: "call.delete", target: h.id });
    return { ok: true };
  });
};

// src/http/routes/admin.ts
import { Type as Type6 } from "@sinclair/typebox";
var Role = Type6.Union([Type6.Literal("admin"), Type6.Literal("manager"), Type6.Literal("reviewer"), Type6.Literal("staff")]);
var adminRoutes = (ctx) => async (app) => {
  const { box, sessions } = ctx;
  const view = () => {
    const c = box.config();
    return { lines: c.lines, graceSeconds: c.graceSeconds, exclusions: c.exclusions, language: c.language, ring: { minutesPerLine: c.ring.minutesPerLine, coverageMinutes: box.coverageMinutes() } };
  };
  app.get("/api/settings", { onRequest: allow(ADMINS) }, async () => ({ settings: view() }));
  app.put("/api/settings", { onRequest: allow(ADMINS), schema: { body: SettingsPatch } }, async (req) => {
    await box.updateSettings(req.session.user, req.body);
    return { settings: view() };
  });
  app.get("/api/users", { onRequest: allow(ADMINS) }, async () => ({
    users: box.settings.users.map((u) => ({ name: u.name, role: u.role, ...u.extension ? { extension: u.extension } : {} }))
  }));
  app.post("/api/users", {
    onRequest: allow(ADMINS),
    schema: { body: Type6.Object({ username: Type6.String({ minLength: 1, maxLength: 32 }), passphrase: Type6.String({ minLength: 1, maxLength: 1024 }), role: Role, extension: Type6.Optional(Type6.String({ pattern: "^[0-9]{0,8}$" })) }, { additionalProperties: false }) }
  }, async (req) => {
    const u = await box.addUser(req.session.user, { ...req.body, extension: req.body.extension || void 0 });
    return { user: { name: u.name, role: u.role, ...u.extension ? { extension: u.extension } : {} } };
  });
  app.delete("/api/users/:name", { onRequest: allow(ADMINS), schema: { params: Type6.Object({ name: Type6.String({ maxLength: 32 }) }) } }, async (req) => {
    await box.removeUser(req.session.user, req.params.name);
    sessions.dropUser(req.params.name);
    return { ok: true };
  });
  app.get("/api/audit", { onRequest: allow(ADMINS), schema: { querystring: Type6.Object({ limit: Type6.Optional(Type6.Integer({ minimum: 1, maximum: 5e3 })) }) } }, async (req) => {
    const entries = await box.audit.recent(req.query.limit ?? 200);
    return { entries: entries.map(({ prev: _p, hash: _h, ...e }) => e) };
  });
  app.get("/api/audit/export", { onRequest: allow(ADMINS) }, async (req, reply) => {
    await box.audit.append({ actor: req.session.user, action: "audit.export" });
    const entries = await box.audit.readAll();
    const verdict = await box.audit.verify();
    reply.header("content-type", "application/x-ndjson; charset=utf-8").header("content-disposition", 'attachment; filename="ringvault-audit.jsonl"').header("x-audit-chain", verdict.ok ? "intact" : `broken at ${verdict.seq}`);
    return entries.map((e) => JSON.stringify(e)).join("\n") + "\n";
  });
};

// src/http/routes/privacy.ts
import { Type as Type7 } from "@sinclair/typebox";

// src/privacy/policy-doc.ts
var T = {
  en: {
    title: "Recording policy",
    intro: (d) => `How this office records business phone calls, who may listen and how long recordings are kept. Generated from the recorder's settings on ${d}; it changes when the settings change.`,
    purposes: { training: "training", evaluation: "evaluation", complaint: "complaint handling", evidence: "evidence (contract)", "legal-obligation": "legal obligation" },
    lines: "What is recorded",
    linesP: ["Every call on these lines is held briefly in an encrypted buffer and wiped unless it is kept. A call is kept only as the line's rule says, and only for purposes announced on that line."],
    lineHead: ["Line", "Which calls are kept", "Purposes announced", "Purpose when kept"],
    keep: (k, n) => ({ all: "every call", sample: `1 in ${n} calls, drawn at random`, "on-demand": "only when a staff member presses save (the whole call)", never: "none; the line is not recorded" })[k] ?? k,
    privateH: "Private calls",
    privateP: (n) => [`Private calls may not be recorded. ${n === 0 ? "No numbers are yet" : n === 1 ? "One number is" : `${n} numbers are`} on the exclusion list; calls with them are never buffered or kept. A long press on the button makes the current call private: it is wiped at once.`],
    staffKept: 'Staff are told afterwards which of their calls were kept and why, sampled calls included (page "My calls").',
    whoH: "Who may listen",
    whoP: ["A person sees a recording only when it was kept for a purpose their role allows."],
    whoHead: ["Role", "May see and play recordings kept for"],
    roles: { admin: "Administrator", manager: "Manager", reviewer: "Reviewer", staff: "Staff" },
    staffRole: "only that their own calls were kept, and why; no audio",
    none: "nothing",
    retH: "How long recordings are kept",
    retP: ["A recording is deleted (crypto-shredded) when every purpose it was kept for has expired. Nothing is deleted while the clock is not synchronised or while a legal hold applies."],
    retHead: ["Purpose", "Kept for"],
    days: (d) => d % 365 === 0 || d === 1826 || d === 2191 || d === 2557 ? `${Math.round(d / 365.25)} years (${d} days)` : `${d} days`,
    untilDate: (p, d) => d ? `until the next ${p === "evaluation" ? "evaluation" : "set"} date (${d})` : `until the next ${p === "evaluation" ? "evaluation" : "set"} date; 92 days when no date is set`,
    untilReleased: (r) => `until the contract ends or the keep is released${r ? `; reviewed every ${r} days` : ""}`,
    holdH: "Legal hold and your rights",
    holdP: [
      "A legal hold stops deletion of a recording, or of every recording of a phone number, for a case. Releasing a hold needs two different managers.",
      "Customers and staff may ask to see their recordings, to have them erased (unless a legal obligation or legal hold requires keeping them; the reason is recorded), to add a note, or to restrict their use. Requests are answered within one month."
    ],
    secH: "Security",
    secP: (c) => [
      "Every kept recording is encrypted at rest with its own key; its personal details (numbers, notes) are encrypted too. Listening, searching by number and exporting need the vault unlocked with a personal passphrase.",
      `The short buffer holds at most ${c.ring.minutesPerLine} minutes per line, encrypted with a key that exists only while the recorder runs. A call that is not kept is wiped ${c.graceSeconds} seconds after it ends.`,
      "Every login, playback, export, deletion, legal hold, request and settings change is written to an audit log that cannot be edited unnoticed (hash-chained)."
    ]
  },
  nl: {
    title: "Opnamebeleid",
    intro: (d) => `Hoe dit kantoor zakelijke telefoongesprekken opneemt, wie mag luisteren en hoe lang opnames worden bewaard. Opgesteld uit de instellingen van de recorder op ${d}; het verandert mee met de instellingen.`,
    purposes: { training: "training", evaluation: "beoordeling", complaint: "klachtafhandeling", evidence: "bewijs (overeenkomst)", "legal-obligation": "wettelijke plicht" },
    lines: "Wat wordt opgenomen",
    linesP: ["Elk gesprek op deze lijnen staat kort in een versleutelde buffer en wordt gewist, tenzij het bewaard wordt. Een gesprek wordt alleen bewaard zoals de regel van de lijn zegt, en alleen voor doelen die op die lijn zijn aangekondigd."],
    lineHead: ["Lijn", "Welke gesprekken worden bewaard", "Aangekondigde doelen", "Doel bij bewaren"],
    keep: (k, n) => ({ all: "elk gesprek", sample: `1 op de ${n} gesprekken, willekeurig gekozen`, "on-demand": "alleen als een medewerker op bewaren drukt (het hele gesprek)", never: "geen; de lijn wordt niet opgenomen" })[k] ?? k,
    privateH: "Priv\xE9gesprekken",
    privateP: (n) => [`Priv\xE9gesprekken mogen niet worden opgenomen. ${n === 0 ? "Er staan nog geen nummers" : n === 1 ? "E\xE9n nummer staat" : `${n} nummers staan`} op de uitzonderingslijst; gesprekken daarmee worden nooit gebufferd of bewaard. Lang drukken op de knop maakt het lopende gesprek priv\xE9: het wordt meteen gewist.`],
    staffKept: 'Medewerkers zien achteraf welke van hun gesprekken zijn bewaard en waarom, steekproefgesprekken inbegrepen (pagina "Mijn gesprekken").',
    whoH: "Wie mag luisteren",
    whoP: ["Iemand ziet een opname alleen als die bewaard is voor een doel dat zijn of haar rol toestaat."],
    whoHead: ["Rol", "Mag opnames zien en afspelen die bewaard zijn voor"],
    roles: { admin: "Beheerder", manager: "Leidinggevende", reviewer: "Beoordelaar", staff: "Medewerker" },
    staffRole: "alleen dat de eigen gesprekken zijn bewaard, en waarom; geen geluid",
    none: "niets",
    retH: "Hoe lang opnames worden bewaard",
    retP: ["Een opname wordt vernietigd (cryptografisch gewist) zodra elk doel waarvoor hij bewaard is, verlopen is. Er wordt niets gewist zolang de klok niet gelijkloopt of een juridische bewaarplicht (legal hold) geldt."],
    retHead: ["Doel", "Bewaard"],
    days: (d) => d % 365 === 0 || d === 1826 || d === 2191 || d === 2557 ? `${Math.round(d / 365.25)} jaar (${d} dagen)` : `${d} dagen`,
    untilDate: (p, d) => d ? `tot de volgende ${p === "evaluation" ? "beoordelingsdatum" : "ingestelde datum"} (${d})` : `tot de volgende ${p === "evaluation" ? "beoordelingsdatum" : "ingestelde datum"}; 92 dagen als er geen datum is`,
    untilReleased: (r) => `tot het einde van de overeenkomst of tot vrijgave${r ? `; elke ${r} dagen herbeoordeeld` : ""}`,
    holdH: "Juridische bewaarplicht en uw rechten",
    holdP: [
      "Een juridische bewaarplicht (legal hold) houdt een opname, of alle opnames van een telefoonnummer, vast voor een zaak. Opheffen vraagt twee verschillende managers.",
      "Klanten en medewerkers kunnen vragen hun opnames in te zien, te laten wissen (tenzij een wettelijke plicht of bewaarplicht dat verhindert; de reden wordt vastgelegd), een aanvulling toe te voegen of het gebruik te beperken. Verzoeken worden binnen een maand beantwoord."
    ],
    secH: "Beveiliging",
    secP: (c) => [
      "Elke bewaarde opname is versleuteld opgeslagen met een eigen sleutel; de persoonsgegevens (nummers, notities) ook. Luisteren, zoeken op nummer en exporteren kan alleen met de kluis ontgrendeld met een persoonlijke wachtzin.",
      `De korte buffer bevat hooguit ${c.ring.minutesPerLine} minuten per lijn, versleuteld met een sleutel die alleen bestaat zolang de recorder draait. Een gesprek dat niet bewaard wordt, is ${c.graceSeconds} seconden na afloop gewist.`,
      "Elke aanmelding, afspeelbeurt, export, verwijdering, bewaarplicht, verzoek en wijziging van instellingen komt in een auditlog dat niet ongemerkt te wijzigen is (hashketen)."
    ]
  }
};
function policyDocument(cfg, lang, now) {
  const s = T[lang];
  const date = (t) => new Date(t).toISOString().slice(0, 10);
  const pl = (ps) => ps.map((p) => s.purposes[p] ?? p).join(", ") || s.none;
  const retention = validateRetention(cfg.retention);
  const keptFor = (p, r) => {
    if (r.kind === "days") return s.days(r.days);
    if (r.kind === "until-date") return s.untilDate(p, r.date === void 0 ? void 0 : date(r.date));
    return s.untilReleased(r.reviewEvery);
  };
  return {
    lang,
    title: s.title,
    generatedAt: now,
    intro: s.intro(date(now)),
    sections: [
      {
        id: "lines",
        heading: s.lines,
        paragraphs: [...s.linesP, s.staffKept],
        table: { head: s.lineHead, rows: cfg.lines.map((l) => [l.name, s.keep(l.keep, l.sampleN), pl(l.announced), l.keep === "never" ? s.none : pl(l.keepPurposes)]) }
      },
      { id: "private", heading: s.privateH, paragraphs: s.privateP(cfg.exclusions.length) },
      {
        id: "roles",
        heading: s.whoH,
        paragraphs: s.whoP,
        table: { head: s.whoHead, rows: [...["admin", "manager", "reviewer"].map((r) => [s.roles[r], pl(cfg.rolePurposes[r])]), [s.roles.staff, s.staffRole]] }
      },
      { id: "retention", heading: s.retH, paragraphs: s.retP, table: { head: s.retHead, rows: PURPOSES.map((p) => [s.purposes[p], keptFor(p, retention[p])]) } },
      { id: "rights", heading: s.holdH, paragraphs: s.holdP },
      { id: "security", heading: s.secH, paragraphs: s.secP(cfg) }
    ]
  };
}

// src/http/routes/privacy.ts
var HoldParams = Type7.Object({ id: Type7.String({ pattern: "^hold-[0-9a-f]{12}$" }) });
var PlaceHold = Type7.Object({
  kind: Type7.Union([Type7.Literal("call"), Type7.Literal("number")]),
  callId: Type7.Optional(Type7.String({ pattern: "^[A-Za-z0-9_.-]{1,80}$" })),
  number: Type7.Optional(Type7.String({ maxLength: 32 })),
  reason: Type7.String({ maxLength: 500 }),
  caseRef: Type7.String({ maxLength: 120 })
}, { additionalProperties: false });
var PrivacySettings = Type7.Object({
  retention: Type7.Optional(Config.properties.retention),
  exclusions: Type7.Optional(Config.properties.exclusions),
  rolePurposes: Type7.Optional(Config.properties.rolePurposes)
}, { additionalProperties: false });
var privacyRoutes = (ctx) => async (app) => {
  const { box } = ctx;
  const holds = () => {
    if (!box.holds) throw new RvError("RV_ERR_NOT_READY", "Legal holds are not loaded yet; wait for the box to finish starting.", 503);
    return box.holds;
  };
  app.get("/api/holds", { onRequest: allow(MANAGERS) }, async (req) => {
    const locked2 = !box.vault.unlocked;
    const list = await holds().list();
    if (!locked2 && list.length > 0) await box.audit.append({ actor: req.session.user, action: "holds.view", detail: { holds: list.length } });
    return { holds: list, locked: locked2 };
  });
  app.post("/api/holds", { onRequest: allow(MANAGERS), schema: { body: PlaceHold } }, async (req) => {
    const b = req.body;
    if (b.kind === "call" && !b.callId) throw new RvError("RV_ERR_BAD_HOLD", "A hold on a recording needs its call id.", 422);
    if (b.kind === "number" && !b.number) throw new RvError("RV_ERR_BAD_HOLD", "A hold on a number needs the phone number.", 422);
    return { hold: await holds().place(req.session.user, b) };
  });
  app.post("/api/holds/:id/propose-release", { onRequest: allow(MANAGERS), schema: { params: HoldParams } }, async (req) => ({ hold: await holds().proposeRelease(req.session.user, req.params.id) }));
  app.post("/api/holds/:id/confirm-release", { onRequest: allow(MANAGERS), schema: { params: HoldParams } }, async (req) => ({ hold: await holds().confirmRelease(req.session.user, req.params.id) }));
  app.post("/api/holds/:id/withdraw-release", { onRequest: allow(MANAGERS), schema: { params: HoldParams } }, async (req) => ({ hold: await holds().withdrawRelease(req.session.user, req.params.id) }));
  const privacyView = () => {
    const c = box.config();
    return { retention: validateRetention(c.retention), exclusions: c.exclusions, rolePurposes: c.rolePurposes, purposes: PURPOSES };
  };
  app.get("/api/privacy/settings", { onRequest: allow(MANAGERS) }, async () => ({ settings: privacyView() }));
  app.put("/api/privacy/settings", { onRequest: allow(ADMINS), schema: { body: PrivacySettings } }, async (req) => {
    await box.updateSettings(req.session.user, req.body);
    return { settings: privacyView() };
  });
  app.get("/api/mycalls", {
    onRequest: allow(STAFF_AND_UP),
    schema: { querystring: Type7.Object({ period: Type7.Optional(Type7.Union([Type7.Literal("week"), Type7.Literal("month")])) }, { additionalProperties: false }) }
  }, async (req) => {
    const s = req.session;
    const period = req.query.period ?? "week";
    const since = box.clock.now() - (period === "week" ? 7 : 31) * DAY_MS;
    if (!s.extension) return { calls: [], locked: !box.catalog.unlocked, extension: null, period, since };
    if (!box.catalog.unlocked) return { calls: [], locked: true, extension: s.extension, period, since };
    const calls = box.catalog.search({ extension: s.extension, from: since }).map((c) => ({
      id: c.id,
      line: c.line,
      startedAt: c.startedAt,
      durationMs: c.durationMs,
      direction: c.direction,
      purposes: c.purposes,
      keptBy: c.keptBy,
      held: c.holds.length > 0
    }));
    await box.audit.append({ actor: s.user, action: "mycalls.view", detail: { period, calls: calls.length } });
    return { calls, locked: false, extension: s.extension, period, since };
  });
  app.get("/api/policy", {
    onRequest: allow(STAFF_AND_UP),
    schema: { querystring: Type7.Object({ lang: Type7.Optional(Type7.Union([Type7.Literal("nl"), Type7.Literal("en")])) }, { additionalProperties: false }) }
  }, async (req) => {
    const cfg = box.config();
    return { policy: policyDocument(cfg, req.query.lang ?? cfg.language, box.clock.now()) };
  });
};

// src/http/routes/requests.ts
import { join as join11 } from "node:path";
import { Type as Type8 } from "@sinclair/typebox";

// src/requests/register.ts
import { randomBytes as randomBytes14 } from "node:crypto";
import { readdir as readdir6, readFile as readFile9, unlink as unlink6 } from "node:fs/promises";
import { join as join9 } from "node:path";
import nacl8 from "tweetnacl";
var REQUEST_KINDS = ["access", "erasure", "note", "restriction"];
var REQUEST_STATUSES = ["open", "in-progress", "done", "rejected"];
var ID = /^RQ-\d{8}-[0-9a-f]{6}$/;
var DATE = /^\d{4}-\d{2}-\d{2}$/;
var NUMBER2 = /^\+?[0-9][0-9 ()\-.]{2,24}$/;
var EXTENSION = /^[0-9]{1,8}$/;
var NONCE2 = nacl8.secretbox.nonceLength;
var bad5 = (msg, status = 422) => new RvError("RV_ERR_BAD_REQUEST_ENTRY", msg, status);
var isoDay = (t) => new Date(t).toISOString().slice(0, 10);
function parseDay(s, field) {
  const d = DATE.test(s) ? /* @__PURE__ */ new Date(`${s}T00:00:00Z`) : /* @__PURE__ */ new Date(NaN);
  if (Number.isNaN(d.getTime()) || isoDay(d.getTime()) !== s) throw bad5(`${field} "${s}" is not a date; use YYYY-MM-DD.`);
  return d;
}
function deadlineOf(received) {
  const d = parseDay(received, "received");
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return isoDay(Date.UTC(y, m, Math.min(d.getUTCDate(), last)));
}
var isOverdue = (r, today) => (r.status === "open" || r.status === "in-progress") && today > r.deadline;
function checkText2(v, field, max) {
  if (v === void 0 || v === "") return void 0;
  if (typeof v !== "string" || v.length > max) throw bad5(`${field} must be text of at most ${max} characters.`);
  return v;
}
function parseStored(text4, file) {
  const x = JSON.parse(text4);
  const ok = x && x.v === 1 && ID.test(x.id) && REQUEST_KINDS.includes(x.kind) && REQUEST_STATUSES.includes(x.status) && DATE.test(x.received) && DATE.test(x.deadline) && SORTABLE_ID.test(x.epoch) && typeof x.sealed === "string" && Number.isFinite(x.createdAt) && Number.isFinite(x.updatedAt) && `${x.id}.json` === file;
  if (!ok) throw new Error("fields missing or invalid");
  return x;
}
var RequestRegister = class {
  constructor(o) {
    this.o = o;
  }
  o;
  byId = /* @__PURE__ */ new Map();
  epoch;
  tail = Promise.resolve();
  /** files that could not be read at open, so a person can be told */
  damaged = [];
  serial(fn) {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => void 0);
    return p;
  }
  async open() {
    await ensureDir(this.o.dir);
    for (const name of await readdir6(this.o.dir)) {
      if (isTempName(name)) {
        await unlink6(join9(this.o.dir, name)).catch(() => void 0);
        continue;
      }
      if (!name.endsWith(".json")) continue;
      try {
        const r = parseStored(await readFile9(join9(this.o.dir, name), "utf8"), name);
        this.byId.set(r.id, r);
      } catch {
        this.damaged.push(name);
      }
    }
  }
  currentEpoch() {
    if (!this.epoch) {
      const p = this.o.vault.newEpoch();
      this.epoch = p;
      p.catch(() => {
        if (this.epoch === p) this.epoch = void 0;
      });
    }
    return this.epoch;
  }
  async seal(p) {
    const e = await this.currentEpoch();
    const nonce = randomBytes14(NONCE2);
    const box = nacl8.secretbox(Buffer.from(JSON.stringify(p), "utf8"), nonce, e.sharedKey);
    return { epoch: e.id, sealed: Buffer.concat([nonce, box]).toString("base64") };
  }
  /** Needs the vault unlocked (RV_ERR_VAULT_LOCKED otherwise). */
  async open1(r) {
    const key = await this.o.vault.epochKey(r.epoch);
    const raw = Buffer.from(r.sealed, "base64");
    const plain = raw.length > NONCE2 ? nacl8.secretbox.open(raw.subarray(NONCE2), raw.subarray(0, NONCE2), key) : null;
    if (!plain) throw new RvError("RV_ERR_REQUEST_DAMAGED", `Request ${r.id} cannot be opened (its file was altered or damaged); restore ${r.id}.json from a backup.`, 500);
    return JSON.parse(Buffer.from(plain).toString("utf8"));
  }
  async write(r) {
    await writeFileDurable(join9(this.o.dir, `${r.id}.json`), JSON.stringify(r) + "\n");
    this.byId.set(r.id, r);
  }
  view(r, personal) {
    const { v: _v, epoch: _e, sealed: _s, ...plain } = r;
    return { ...plain, overdue: isOverdue(r, isoDay(this.o.now())), ...personal ? { personal } : {} };
  }
  must(id) {
    const r = this.byId.get(id);
    if (!r) throw new RvError("RV_ERR_NO_SUCH_REQUEST", `There is no request ${id}.`, 404);
    return r;
  }
  /** Still-open requests first, the nearest deadline on top, then closed ones; personal fields only when `unlocked`. */
  async list(unlocked) {
    const out = [];
    const closed = (r) => r.status === "done" || r.status === "rejected" ? 1 : 0;
    const order = (a, b) => closed(a) - closed(b) || (a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : a.id < b.id ? -1 : 1);
    for (const r of [...this.byId.values()].sort(order)) {
      out.push(this.view(r, unlocked ? await this.open1(r).catch(() => void 0) : void 0));
    }
    return out;
  }
  async get(id, unlocked) {
    const r = this.must(id);
    return this.view(r, unlocked ? await this.open1(r) : void 0);
  }
  /** Counts for the dashboard; needs no unlock. */
  summary() {
    const today = isoDay(this.o.now());
    let open6 = 0;
    let overdue = 0;
    for (const r of this.byId.values()) {
      if (r.status === "open" || r.status === "in-progress") open6++;
      if (isOverdue(r, today)) overdue++;
    }
    return { open: open6, overdue };
  }
  /** Adding works while the vault is locked: the personal part is sealed to the box key. */
  create(n) {
    return this.serial(async () => {
      if (!REQUEST_KINDS.includes(n.kind)) throw bad5(`kind must be one of ${REQUEST_KINDS.join(", ")}.`);
      const received = parseDay(n.received, "received");
      if (received.getTime() > this.o.now() + 864e5) throw bad5(`The received date ${n.received} is in the future; use the date the request came in.`);
      const numbers = (n.subject.numbers ?? []).map((x) => x.trim()).filter(Boolean);
      const extension = n.subject.extension?.trim() || void 0;
      if (numbers.length > 0 === (extension !== void 0)) throw bad5("Give the customer's phone number(s) or the staff member's extension (one of the two).");
      if (numbers.length > 10) throw bad5("At most 10 phone numbers per request; file another request for more.");
      for (const x of numbers) if (!NUMBER2.test(x)) throw bad5(`"${x}" is not a phone number; use digits, optionally with + and spaces.`);
      if (extension !== void 0 && !EXTENSION.test(extension)) throw bad5(`"${extension}" is not an extension; use 1 to 8 digits.`);
      const note = checkText2(n.note, "note", 4e3);
      if (n.kind === "note" && !note) throw bad5("A note request needs the text of the supplementary note.");
      const personal = {
        subject: extension !== void 0 ? { kind: "staff", extension } : { kind: "customer", numbers },
        ...checkText2(n.name, "name", 200) ? { name: n.name } : {},
        ...checkText2(n.details, "details", 4e3) ? { details: n.details } : {},
        ...note ? { note } : {},
        handledBy: n.handledBy
      };
      const now = this.o.now();
      let id;
      do
        id = `RQ-${isoDay(now).replaceAll("-", "")}-${randomBytes14(3).toString("hex")}`;
      while (this.byId.has(id));
      const r = {
        v: 1,
        id,
        kind: n.kind,
        received: n.received,
        deadline: deadlineOf(n.received),
        status: "open",
        createdAt: now,
        updatedAt: now,
        ...await this.seal(personal)
      };
      await this.write(r);
      return this.view(r, personal);
    });
  }
  /** Changes status and/or the personal part; changing the personal part needs the vault unlocked. */
  update(id, patch) {
    return this.serial(async () => {
      const r = this.must(id);
      if (patch.status !== void 0 && !REQUEST_STATUSES.includes(patch.status)) throw bad5(`status must be one of ${REQUEST_STATUSES.join(", ")}.`);
      let personal;
      let sealed = { epoch: r.epoch, sealed: r.sealed };
      if (patch.personal) {
        personal = patch.personal(await this.open1(r));
        sealed = await this.seal(personal);
      }
      const next = { ...r, ...sealed, status: patch.status ?? r.status, updatedAt: this.o.now() };
      await this.write(next);
      return this.view(next, personal);
    });
  }
};

// src/export/bundle.ts
import { createHash as createHash11 } from "node:crypto";
import { Readable as Readable2, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";

// src/export/manifest.ts
import { createHash as createHash10 } from "node:crypto";
import nacl9 from "tweetnacl";
var MANIFEST = "manifest.json";
var SIGNATURE = "manifest.sig";
var FORMAT = "ringvault-export/1";
var boxIdOf = (publicKey) => createHash10("sha256").update(publicKey).digest("hex").slice(0, 16);
function ed25519Pem(publicKey) {
  const der = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(publicKey)]);
  return `-----BEGIN PUBLIC KEY-----
${der.toString("base64")}
-----END PUBLIC KEY-----
`;
}

// src/export/texts.ts
var COLUMNS = {
  nl: ["id", "bestand", "begin (UTC)", "einde (UTC)", "duur (s)", "lijn", "richting", "beller", "gebeld", "toestel", "kanalen", "doelen", "bewaard door", "klok gesynchroniseerd", "aanvullingen"],
  en: ["id", "file", "start (UTC)", "end (UTC)", "duration (s)", "line", "direction", "caller", "called", "extension", "channels", "purposes", "kept by", "clock synchronised", "notes"]
};
var YES = { nl: ["ja", "nee"], en: ["yes", "no"] };
var DIRECTION = { nl: { in: "inkomend", out: "uitgaand" }, en: { in: "inbound", out: "outbound" } };
var excelTime = (iso2) => iso2.slice(0, 19).replace("T", " ");
function csvCell(v) {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s) || /^0\d/.test(s)) s = `'${s}`;
  return `"${s.replaceAll('"', '""')}"`;
}
function metadataCsv(calls, lang) {
  const [yes, no] = YES[lang];
  const num = (n) => lang === "nl" ? String(n).replace(".", ",") : String(n);
  const rows = [COLUMNS[lang].map(csvCell).join(";")];
  for (const c of calls) {
    rows.push([
      c.id,
      c.file,
      excelTime(c.start),
      excelTime(c.end),
      num(c.durationSeconds),
      c.line,
      c.direction ? DIRECTION[lang][c.direction] : "",
      c.caller ?? "",
      c.called ?? "",
      c.extension ?? "",
      c.channels,
      c.purposes.join(", "),
      c.keptBy,
      c.clockSynced ? yes : no,
      c.notes.map((n) => `${excelTime(n.at)}: ${n.text}`).join(" | ")
    ].map((v) => typeof v === "number" ? `"${v}"` : csvCell(v)).join(";"));
  }
  return Buffer.concat([Buffer.from([239, 187, 191]), Buffer.from(rows.join("\r\n") + "\r\n", "utf8")]);
}
function readmeText(o) {
  const when = excelTime(o.createdAt.toISOString());
  const nl = `Export van gespreksopnamen
==========================

Gemaakt op ${when} (UTC) door opnamekastje ${o.boxId}${o.request ? `, voor verzoek ${o.request}` : ""}.
Aantal opnamen: ${o.calls}.

Inhoud
------
recordings/   \xE9\xE9n WAV-bestand per opname (PCM 16-bit, 8000 Hz). Bij stereo is links de beller,
              rechts de gebelde; mono bevat beide kanten.
notes/        aanvullingen bij een opname (een opname zelf kan niet worden gecorrigeerd).
metadata.json alle gegevens per opname: tijden, lijn, nummers, doelen, aanvullingen.
metadata.csv  dezelfde gegevens voor Excel (puntkomma's, UTF-8). Een ' v\xF3\xF3r een telefoonnummer
              zorgt dat Excel het als tekst laat staan; metadata.json bevat de exacte waarden.
manifest.json SHA-256 van elk bestand, en de publieke sleutel van het kastje.
manifest.sig  de Ed25519-handtekening van het kastje over manifest.json.

Controleren
-----------
Op het kastje:   ringvault verify-export <dit-bestand>.zip
Zelf, met standaardgereedschap:
  1. pak het zip-bestand uit en vergelijk "sha256sum <bestand>" met manifest.json;
  2. zet "publicKeyPem" uit manifest.json in key.pem en voer uit:
     openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile manifest.sig
     ("Signature Verified Successfully" betekent: ongewijzigd sinds het kastje dit maakte);
  3. vergelijk de sleutel met die van het kastje (kastje-id ${o.boxId}).
Een gewijzigd, ontbrekend of extra bestand wordt zo altijd gevonden.
`;
  const en = `Export of call recordings
=========================

Made on ${when} (UTC) by recorder box ${o.boxId}${o.request ? `, for request ${o.request}` : ""}.
Number of recordings: ${o.calls}.

Contents
--------
recordings/   one WAV file per recording (PCM 16-bit, 8000 Hz). In stereo the left channel is
              the caller, the right the called party; mono holds both sides.
notes/        supplementary notes to a recording (a recording itself cannot be corrected).
metadata.json everything known per recording: times, line, numbers, purposes, notes.
metadata.csv  the same for Excel (semicolons, UTF-8). A ' before a phone number keeps Excel
              from turning it into a number; metadata.json holds the exact values.
manifest.json the SHA-256 of every file, and the box's public key.
manifest.sig  the box's Ed25519 signature over manifest.json.

How to verify
-------------
On the box:      ringvault verify-export <this-file>.zip
By hand, with standard tools:
  1. unzip the file and compare "sha256sum <file>" with manifest.json;
  2. put "publicKeyPem" from manifest.json into key.pem and run:
     openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile manifest.sig
     ("Signature Verified Successfully" means: unchanged since the box made it);
  3. compare the key with the box's own (box id ${o.boxId}).
Any altered, missing or extra file is found this way.
`;
  return (o.lang === "nl" ? nl : en).replaceAll("\n", "\r\n");
}

// src/export/bundle.ts
function notesOf(meta) {
  const raw = meta.notes;
  if (!Array.isArray(raw)) return [];
  return raw.filter((n) => typeof n === "object" && n !== null && typeof n.text === "string" && typeof n.at === "number");
}
var str2 = (v) => typeof v === "string" && v ? v : void 0;
var READ_AHEAD = 256 * 1024;
var wavName = (id) => `recordings/${id}.wav`;
var notesName = (id) => `notes/${id}.txt`;
var wavBytesOf = (h) => 44 + h.samples * 2 * h.channels;
function checkExportable(source, ids) {
  if (ids.length === 0) throw new RvError("RV_ERR_NOTHING_TO_EXPORT", "There are no recordings to export for this selection; check the number and the dates.", 404);
  const headers = [];
  const restricted = [];
  for (const id of new Set(ids)) {
    const h = source.get(id);
    if (!h) throw new RvError("RV_ERR_NO_SUCH_CALL", `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    if (h.restricted) restricted.push(id);
    headers.push(h);
  }
  if (restricted.length > 0) {
    throw new RvError("RV_ERR_RESTRICTED", `Export is blocked: ${restricted.length} recording(s) are restricted by a data-subject request (${restricted.slice(0, 5).join(", ")}${restricted.length > 5 ? ", \u2026" : ""}); lift the restriction first.`, 403);
  }
  return headers.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1));
}
function exportedCall(h, meta) {
  const dir = meta.direction === "in" || meta.direction === "out" ? meta.direction : void 0;
  return {
    id: h.id,
    file: wavName(h.id),
    start: new Date(h.startedAt).toISOString(),
    end: new Date(h.endedAt).toISOString(),
    durationSeconds: Math.round(h.durationMs / 10) / 100,
    line: h.line,
    direction: dir,
    caller: str2(meta.caller),
    called: str2(meta.called),
    extension: str2(meta.extension),
    channels: h.channels,
    channelLayout: h.channels === 2 ? "left=caller,right=called" : "mono",
    purposes: [...h.purposes],
    keptBy: h.keptBy,
    keptAt: new Date(h.keptAt).toISOString(),
    clockSynced: h.clockSynced,
    notes: notesOf(meta).map((n) => ({ at: new Date(n.at).toISOString(), text: n.text }))
  };
}
async function* wavStream(source, h) {
  const dataBytes = h.samples * 2 * h.channels;
  yield wavHeader({ sampleRate: h.sampleRate, channels: h.channels, dataBytes });
  let n = 0;
  for await (const c of source.readPcm(h.id)) {
    n += c.pcm.length;
    yield c.pcm;
  }
  if (n !== dataBytes) throw new RvError("RV_ERR_ARCHIVE_TAMPERED", `Kept call ${h.id} holds ${n} bytes of audio, its header says ${dataBytes}; check the archive.`, 500);
}
async function writeBundle(out, o) {
  const headers = checkExportable(o.source, o.callIds);
  const publicKey = await o.signer.signPublicKey();
  const boxId = boxIdOf(publicKey);
  const calls = [];
  for (const h of headers) calls.push(exportedCall(h, await o.source.meta(h.id)));
  const mtime = new Date(o.createdAt);
  const entry = { mtime, compress: false };
  const files = [];
  const zip = new yazl.ZipFile();
  const texts2 = [];
  for (const c of calls) {
    if (c.notes.length > 0) texts2.push({ name: notesName(c.id), data: Buffer.from(c.notes.map((n) => `${n.at}\r
${n.text}\r
`).join("\r\n"), "utf8") });
  }
  texts2.push({ name: "metadata.json", data: Buffer.from(JSON.stringify({ format: FORMAT, boxId, request: o.request, exportedAt: mtime.toISOString(), calls }, null, 2) + "\n", "utf8") });
  texts2.push({ name: "metadata.csv", data: metadataCsv(calls, o.lang) });
  texts2.push({ name: "README.txt", data: Buffer.from(readmeText({ lang: o.lang, calls: calls.length, boxId, request: o.request, createdAt: mtime }), "utf8") });
  const wavTotal = headers.reduce((s, h) => s + wavBytesOf(h), 0);
  const progress = { filesDone: 0, filesTotal: headers.length + texts2.length + 2, bytesDone: 0, bytesTotal: wavTotal + texts2.reduce((s, t) => s + t.data.length, 0) + 8192 };
  const report = () => o.onProgress?.({ ...progress, bytesTotal: Math.max(progress.bytesTotal, progress.bytesDone) });
  const record = (name, bytes, sha256) => {
    files.push({ name, bytes, sha256 });
    progress.filesDone++;
    report();
  };
  for (const h of headers) {
    const name = wavName(h.id);
    async function* hashed() {
      const hash = createHash11("sha256");
      let bytes = 0;
      for await (const b of wavStream(o.source, h)) {
        hash.update(b);
        bytes += b.length;
        yield b;
      }
      record(name, bytes, hash.digest("hex"));
    }
    zip.addReadStreamLazy(name, { ...entry, size: wavBytesOf(h) }, (cb) => cb(null, Readable2.from(hashed(), { objectMode: false, highWaterMark: READ_AHEAD })));
  }
  for (const t of texts2) {
    zip.addReadStreamLazy(t.name, { ...entry, size: t.data.length }, (cb) => {
      record(t.name, t.data.length, createHash11("sha256").update(t.data).digest("hex"));
      cb(null, Readable2.from([t.data]));
    });
  }
  let manifestBytes;
  zip.addReadStreamLazy(MANIFEST, entry, (cb) => {
    const m = {
      format: FORMAT,
      boxId,
      createdAt: mtime.toISOString(),
      ...o.request ? { request: o.request } : {},
      calls: calls.length,
      signing: { algorithm: "Ed25519", publicKey: Buffer.from(publicKey).toString("base64"), publicKeyPem: ed25519Pem(publicKey) },
      files: [...files]
    };
    manifestBytes = Buffer.from(JSON.stringify(m, null, 2) + "\n", "utf8");
    progress.filesDone++;
    report();
    cb(null, Readable2.from([manifestBytes]));
  });
  zip.addReadStreamLazy(SIGNATURE, entry, (cb) => {
    o.signer.sign(manifestBytes).then((sig) => {
      progress.filesDone++;
      report();
      cb(null, Readable2.from([Buffer.from(sig)]));
    }, (e) => cb(e, Readable2.from([])));
  });
  zip.end();
  const counter = new Transform({
    transform(chunk, _enc, done) {
      progress.bytesDone += chunk.length;
      if (progress.bytesDone - lastReport >= 256 * 1024) {
        lastReport = progress.bytesDone;
        report();
      }
      done(null, chunk);
    }
  });
  let lastReport = 0;
  zip.on("error", (e) => zip.outputStream.destroy(e));
  await pipeline(zip.outputStream, counter, out);
  report();
  return { calls: calls.length, files: files.length + 2, bytes: progress.bytesDone, wavBytes: wavTotal, boxId };
}

// src/export/select.ts
function matchesSubject(meta, s) {
  const str3 = (v) => typeof v === "string" && v ? v : void 0;
  if (s.extension !== void 0 && str3(meta.extension) === s.extension) return true;
  const parties = [str3(meta.caller), str3(meta.called)].filter((n) => n !== void 0);
  for (const want of s.numbers ?? []) {
    const num = normalizeNumber(want);
    if (parties.some((n) => normalizeNumber(n) === num)) return true;
  }
  return false;
}

// src/requests/actions.ts
var subjectOf = (p) => p.subject.kind === "staff" ? { extension: p.subject.extension } : { numbers: p.subject.numbers };
var RequestActions = class {
  constructor(d) {
    this.d = d;
  }
  d;
  /** The kept calls of the subject, oldest first; matching needs the unlocked catalog (numbers are sealed). */
  matching(p) {
    if (!this.d.catalog.unlocked) throw new RvError("RV_ERR_VAULT_LOCKED", "Numbers are encrypted; unlock the vault to act on a request.", 423);
    const s = subjectOf(p);
    return this.d.archive.list().filter((h) => matchesSubject(this.d.catalog.summary(h), s)).reverse();
  }
  async act(id, actor, o = {}) {
    const req = await this.d.register.get(id, true);
    if (req.status === "rejected") throw new RvError("RV_ERR_REQUEST_CLOSED", `Request ${id} was rejected; reopen it (status open) before acting on it.`, 409);
    const p = req.personal;
    const calls = this.matching(p);
    const audit = (detail) => this.d.audit.append({ actor, action: "request.act", target: id, detail: { kind: req.kind, ...detail } });
    if ((req.kind === "access" || req.kind === "note") && o.mayOpen) {
      const refused = calls.filter((c) => !o.mayOpen(c.purposes));
      if (refused.length > 0) {
        throw new RvError("RV_ERR_PURPOSE_NOT_ALLOWED", `${refused.length} of the ${calls.length} recordings were kept for purposes your role may not use (${[...new Set(refused.flatMap((c) => c.purposes))].join(", ")}); ask an administrator to carry out this request.`, 403);
      }
    }
    switch (req.kind) {
      case "access":
        return this.access(req, actor, calls, o.lang ?? "nl", audit);
      case "erasure":
        return { request: await this.erase(req, actor, calls, audit) };
      case "note":
        return { request: await this.note(req, actor, calls, p.note ?? "", audit) };
      case "restriction":
        return { request: await this.restrict(req, actor, calls, !o.lift, audit) };
    }
  }
  async access(req, actor, calls, lang, audit) {
    if (calls.length === 0) {
      const request2 = await this.finish(req.id, actor, "done", [], "No kept recordings of this subject; nothing to hand over.");
      await audit({ calls: 0 });
      return { request: request2 };
    }
    const ids = calls.map((c) => c.id);
    this.d.exports.check(ids);
    await audit({ calls: ids.length, ids: ids.slice(0, 100) });
    const job = this.d.exports.start({
      callIds: ids,
      lang,
      request: req.id,
      by: actor,
      onDone: async (j) => {
        const results = ids.map((callId) => ({ callId, action: j.state === "done" ? "exported" : "failed", ...j.error ? { reason: j.error.message } : {} }));
        await this.finish(
          req.id,
          actor,
          j.state === "done" ? "done" : "in-progress",
          results,
          j.state === "done" ? `Export of ${ids.length} recording(s) made (${j.id}); hand the download to the person.` : `Export failed: ${j.error?.message}`
        );
      }
    });
    await this.d.audit.append({ actor, action: "export.start", target: req.id, detail: { export: job.id, calls: ids.length } });
    const request = await this.d.register.update(req.id, { status: "in-progress", personal: (p) => ({ ...p, handledBy: actor }) });
    return { request, job };
  }
  async erase(req, actor, calls, audit) {
    const results = [];
    const now = this.d.clock.now();
    const ctx = { now, clockSynced: this.d.clock.synced(), policy: this.d.policy() };
    for (const h of calls) {
      const d = erasureDecision(h, { ...ctx, numberHolds: this.d.numberHeld?.(h.id) ?? false });
      if (!d.erase) {
        results.push({ callId: h.id, action: "kept", reason: d.reason });
        continue;
      }
      try {
        await this.d.archive.shred(h.id);
        this.d.catalog.forget(h.id);
        await this.d.audit.append({ actor, action: "call.delete", target: h.id, detail: { request: req.id, reason: "erasure request" } });
        results.push({ callId: h.id, action: "erased", reason: d.reason });
      } catch (e) {
        results.push({ callId: h.id, action: "kept", reason: e instanceof RvError && e.code === "RV_ERR_ON_HOLD" ? "legal hold" : `could not be deleted: ${e.message}` });
      }
    }
    const erased = results.filter((r) => r.action === "erased").length;
    await audit({ calls: calls.length, erased, kept: calls.length - erased });
    return this.finish(req.id, actor, "done", results, `${erased} recording(s) erased, ${calls.length - erased} kept (the reason is given per recording).`);
  }
  async note(req, actor, calls, text4, audit) {
    const results = [];
    for (const h of calls) {
      const meta = await this.d.archive.meta(h.id);
      const notes = notesOf(meta);
      if (notes.some((n) => n.request === req.id)) {
        results.push({ callId: h.id, action: "noted", reason: "already attached" });
        continue;
      }
      const note = { at: this.d.clock.now(), text: text4, request: req.id };
      await this.d.archive.updateHeader(h.id, { meta: { ...meta, notes: [...notes, note] } });
      await this.d.catalog.refresh(h.id);
      await this.d.audit.append({ actor, action: "call.note", target: h.id, detail: { request: req.id } });
      results.push({ callId: h.id, action: "noted" });
    }
    await audit({ calls: calls.length });
    return this.finish(req.id, actor, "done", results, `Supplementary note attached to ${calls.length} recording(s).`);
  }
  async restrict(req, actor, calls, on, audit) {
    const results = [];
    for (const h of calls) {
      if (h.restricted !== on) {
        await this.d.archive.updateHeader(h.id, { restricted: on });
        await this.d.audit.append({ actor, action: on ? "call.restrict" : "call.unrestrict", target: h.id, detail: { request: req.id } });
      }
      results.push({ callId: h.id, action: on ? "restricted" : "lifted" });
    }
    await audit({ calls: calls.length, restricted: on });
    return this.finish(req.id, actor, "done", results, on ? `${calls.length} recording(s) restricted: no playback or export until the restriction is lifted.` : `Restriction lifted on ${calls.length} recording(s).`);
  }
  /** `summary` is the box's own account; `outcome` stays the manager's words (say, why a request was rejected). */
  finish(id, actor, status, results, summary) {
    return this.d.register.update(id, { status, personal: (p) => ({ ...p, handledBy: actor, results, summary }) });
  }
};

// src/export/jobs.ts
import { createCipheriv, createDecipheriv, randomBytes as randomBytes15 } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readdir as readdir7, unlink as unlink7 } from "node:fs/promises";
import { join as join10 } from "node:path";
import { pipeline as pipeStreams } from "node:stream";
import { pipeline as pipeline2 } from "node:stream/promises";
var JOB_ID = /^ex-[0-9a-f]{16}$/;
var ExportJobs = class {
  constructor(o) {
    this.o = o;
    this.ttlMs = o.ttlMs ?? 36e5;
  }
  o;
  jobs = /* @__PURE__ */ new Map();
  ttlMs;
  async open() {
    await ensureDir(this.o.dir);
    for (const name of await readdir7(this.o.dir)) await unlink7(join10(this.o.dir, name)).catch(() => void 0);
  }
  view(j) {
    const { path: _p, key: _k, iv: _i, timer: _t, ...v } = j;
    return { ...v, progress: { ...v.progress } };
  }
  /** Throws what start() would (restricted, unknown, empty) without starting anything. */
  check(callIds) {
    checkExportable(this.o.source, callIds);
  }
  /** Checks the selection at once (restricted, unknown, empty), then builds in the background. */
  start(x) {
    const headers = checkExportable(this.o.source, x.callIds);
    const id = `ex-${randomBytes15(8).toString("hex")}`;
    const job = {
      id,
      state: "running",
      calls: headers.length,
      by: x.by,
      startedAt: this.o.now(),
      ...x.request ? { request: x.request } : {},
      progress: { filesDone: 0, filesTotal: headers.length, bytesDone: 0, bytesTotal: 1 },
      path: join10(this.o.dir, `${id}.zip.enc`),
      key: randomBytes15(32),
      iv: randomBytes15(16)
    };
    this.jobs.set(id, job);
    void this.run(job, x).catch(() => void 0);
    return this.view(job);
  }
  /** The job shows 'done' or 'failed' only after onDone has run, so a poller that sees it also sees the request updated. */
  async run(job, x) {
    const cipher = createCipheriv("aes-256-ctr", job.key, job.iv);
    const file = createWriteStream(job.path, { mode: 384, flags: "wx" });
    try {
      const [r] = await Promise.all([
        writeBundle(cipher, {
          source: this.o.source,
          signer: this.o.signer,
          callIds: x.callIds,
          lang: x.lang,
          createdAt: this.o.now(),
          ...x.request ? { request: x.request } : {},
          onProgress: (p) => {
            job.progress = p;
          }
        }),
        pipeline2(cipher, file)
      ]);
      job.size = r.bytes;
      await x.onDone?.({ ...this.view(job), state: "done" }).catch(() => void 0);
      job.state = "done";
      return r;
    } catch (e) {
      cipher.destroy();
      job.error = { code: e.code ?? "RV_ERR_EXPORT", message: e instanceof RvError ? e.message : `The export failed: ${e.message}. Try again; the box log has details.` };
      job.key.fill(0);
      await unlink7(job.path).catch(() => void 0);
      await x.onDone?.({ ...this.view(job), state: "failed" }).catch(() => void 0);
      job.state = "failed";
      throw e;
    } finally {
      job.finishedAt = this.o.now();
      job.timer = setTimeout(() => void this.drop(job.id), this.ttlMs);
      job.timer.unref();
    }
  }
  get(id) {
    return this.view(this.must(id));
  }
  list() {
    return [...this.jobs.values()].map((j) => this.view(j));
  }
  must(id) {
    const j = JOB_ID.test(id) ? this.jobs.get(id) : void 0;
    if (!j) throw new RvError("RV_ERR_NO_SUCH_EXPORT", `There is no export ${id}; finished exports are kept for ${Math.round(this.ttlMs / 6e4)} minutes and not across a restart. Start it again.`, 404);
    return j;
  }
  /** The finished zip, decrypted as it is read. */
  download(id) {
    const j = this.must(id);
    if (j.state === "running") throw new RvError("RV_ERR_EXPORT_RUNNING", "The export is still being made; wait until it is done.", 409);
    if (j.state === "failed") throw new RvError("RV_ERR_EXPORT_FAILED", `The export failed: ${j.error?.message ?? "unknown error"}`, 409);
    const decipher = createDecipheriv("aes-256-ctr", j.key, j.iv);
    const stream = pipeStreams(createReadStream(j.path), decipher, () => void 0);
    return { stream, size: j.size, filename: `ringvault-${j.request ?? j.id}.zip` };
  }
  async drop(id) {
    const j = this.jobs.get(id);
    if (!j) return;
    clearTimeout(j.timer);
    this.jobs.delete(id);
    j.key.fill(0);
    await unlink7(j.path).catch(() => void 0);
  }
  async close() {
    for (const id of [...this.jobs.keys()]) await this.drop(id);
  }
};

// src/http/routes/requests.ts
var RequestParams = Type8.Object({ id: Type8.String({ pattern: "^RQ-[0-9]{8}-[0-9a-f]{6}$" }) });
var ExportParams = Type8.Object({ id: Type8.String({ pattern: "^ex-[0-9a-f]{16}$" }) });
var Kind = Type8.Union(REQUEST_KINDS.map((k) => Type8.Literal(k)));
var Status = Type8.Union(REQUEST_STATUSES.map((s) => Type8.Literal(s)));
var Lang = Type8.Union([Type8.Literal("nl"), Type8.Literal("en")]);
var NewRequestBody = Type8.Object({
  kind: Kind,
  received: Type8.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description: "YYYY-MM-DD the request came in" }),
  numbers: Type8.Optional(Type8.Array(Type8.String({ maxLength: 32 }), { maxItems: 10 })),
  extension: Type8.Optional(Type8.String({ maxLength: 8 })),
  name: Type8.Optional(Type8.String({ maxLength: 200 })),
  details: Type8.Optional(Type8.String({ maxLength: 4e3 })),
  note: Type8.Optional(Type8.String({ maxLength: 4e3 }))
}, { additionalProperties: false });
var UpdateBody = Type8.Object({ status: Type8.Optional(Status), outcome: Type8.Optional(Type8.String({ maxLength: 4e3 })) }, { additionalProperties: false });
var ActBody = Type8.Object({ lang: Type8.Optional(Lang), lift: Type8.Optional(Type8.Boolean()) }, { additionalProperties: false });
var requestRoutes = (ctx) => async (app) => {
  const { box } = ctx;
  const dataDir = box.config().dataDir;
  const register = new RequestRegister({ dir: join11(dataDir, "requests"), vault: box.vault, now: box.clock.now });
  await register.open();
  if (register.damaged.length > 0) box.log.error({ files: register.damaged }, "requests: some request files could not be read; restore them from a backup");
  const exports = new ExportJobs({ dir: join11(dataDir, "exports.tmp"), source: box.archive, signer: box.vault, now: box.clock.now });
  await exports.open();
  app.addHook("onClose", async () => exports.close());
  const actions = new RequestActions({
    register,
    archive: box.archive,
    catalog: box.catalog,
    audit: box.audit,
    clock: box.clock,
    exports,
    policy: () => validateRetention(box.config().retention),
    numberHeld: (id) => box.holds?.maybeHeld(id) ?? false
  });
  const unlocked = () => box.vault.unlocked;
  app.get("/api/requests", { onRequest: allow(MANAGERS) }, async () => ({
    requests: await register.list(unlocked()),
    locked: !unlocked(),
    summary: register.summary(),
    damaged: register.damaged.length
  }));
  app.get("/api/requests/summary", { onRequest: allow(MANAGERS) }, async () => register.summary());
  app.get("/api/requests/:id", { onRequest: allow(MANAGERS), schema: { params: RequestParams } }, async (req) => {
    const r = await register.get(req.params.id, unlocked());
    if (unlocked()) await box.audit.append({ actor: req.session.user, action: "request.view", target: r.id });
    return { request: r, locked: !unlocked() };
  });
  app.post("/api/requests", { onRequest: allow(MANAGERS), schema: { body: NewRequestBody } }, async (req) => {
    const b = req.body;
    const r = await register.create({
      kind: b.kind,
      received: b.received,
      subject: { numbers: b.numbers, extension: b.extension },
      name: b.name,
      details: b.details,
      note: b.note,
      handledBy: req.session.user
    });
    await box.audit.append({ actor: req.session.user, action: "request.create", target: r.id, detail: { kind: r.kind, deadline: r.deadline } });
    return { request: r };
  });
  app.patch("/api/requests/:id", { onRequest: allow(MANAGERS), schema: { params: RequestParams, body: UpdateBody } }, async (req) => {
    const { status, outcome } = req.body;
    if (status === void 0 && outcome === void 0) throw new RvError("RV_ERR_BAD_REQUEST", "Nothing to change: send a status or an outcome.", 400);
    if (outcome !== void 0 && !unlocked()) throw new RvError("RV_ERR_VAULT_LOCKED", "The outcome is encrypted; unlock the vault to write it.", 423);
    const user = req.session.user;
    const r = await register.update(req.params.id, {
      ...status ? { status } : {},
      ...outcome !== void 0 ? { personal: (p) => ({ ...p, outcome, handledBy: user }) } : {}
    });
    await box.audit.append({ actor: user, action: "request.update", target: r.id, detail: { ...status ? { status } : {}, ...outcome !== void 0 ? { outcome: "changed" } : {} } });
    return { request: r };
  });
  app.post("/api/requests/:id/act", { onRequest: allow(MANAGERS), schema: { params: RequestParams, body: Type8.Optional(ActBody) } }, async (req) => {
    if (!unlocked()) throw new RvError("RV_ERR_VAULT_LOCKED", "The vault is locked; unlock it to act on a request (the numbers are encrypted).", 423);
    const s = req.session;
    return actions.act(req.params.id, s.user, { ...req.body ?? {}, mayOpen: (purposes) => mayOpen(box.config().rolePurposes, s.role, purposes) });
  });
  app.get("/api/exports/:id", { onRequest: allow(MANAGERS), schema: { params: ExportParams } }, async (req) => ({ job: exports.get(req.params.id) }));
  app.get("/api/exports/:id/download", { onRequest: allow(MANAGERS), schema: { params: ExportParams } }, async (req, reply) => {
    const d = exports.download(req.params.id);
    const job = exports.get(req.params.id);
    await box.audit.append({ actor: req.session.user, action: "export.download", target: job.request ?? job.id, detail: { export: job.id, calls: job.calls } });
    reply.header("content-type", "application/zip").header("cache-control", "no-store").header("content-disposition", `attachment; filename="${d.filename}"`).header("content-length", String(d.size));
    return reply.send(d.stream);
  });
};

// src/http/app.ts
async function buildApp(box, o) {
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit: 64 * 1024,
    trustProxy: false,
    // Live-status streams never end by themselves; a stop must not wait for them.
    forceCloseConnections: true,
    // Unknown fields are an error the client should hear about, not something dropped silently.
    ajv: { customOptions: { removeAdditional: false } },
    ...o.https ? { https: o.https } : {}
  }).withTypeProvider();
  const sessions = new Sessions(o.sessionHours * 36e5, box.clock.now);
  const cookieBase = { path: "/", httpOnly: true, sameSite: "strict", secure: o.tls };
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        mediaSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        baseUri: ["'none'"],
        upgradeInsecureRequests: o.tls ? [] : null
      }
    },
    hsts: o.tls
  });
  await app.register(cookie);
  await app.register(csrf, { sessionPlugin: "@fastify/cookie", cookieKey: "rv_csrf", cookieOpts: cookieBase });
  await app.register(rateLimit, { global: false });
  app.decorateRequest("session", void 0);
  app.addHook("onRequest", async (req) => {
    req.session = sessions.get(req.cookies[SESSION_COOKIE]);
  });
  app.addHook("onRequest", (req, reply, done) => {
    if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return done();
    app.csrfProtection(req, reply, done);
  });
  app.setErrorHandler((err, req, reply) => {
    if (isRvError(err)) return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
    if (err.validation) return reply.status(400).send({ error: { code: "RV_ERR_BAD_REQUEST", message: `The request is not valid: ${err.message}. Check the fields and send it again.` } });
    if (err.code?.startsWith("FST_CSRF")) return reply.status(403).send({ error: { code: "RV_ERR_CSRF", message: "The page is out of date or the request did not come from it; reload the page and try again." } });
    if (err.statusCode === 429) return reply.status(429).send({ error: { code: "RV_ERR_TOO_MANY_ATTEMPTS", message: "Too many attempts; wait a minute and try again." } });
    if (err.statusCode && err.statusCode < 500) return reply.status(err.statusCode).send({ error: { code: "RV_ERR_BAD_REQUEST", message: err.message } });
    req.log.error({ err }, "request failed");
    box.log.error({ err, url: req.url }, "request failed");
    return reply.status(500).send({ error: { code: "RV_ERR_INTERNAL", message: "Something went wrong inside the box; the log has the details. Try again, or restart the box if it persists." } });
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith("/api/")) return reply.status(404).send({ error: { code: "RV_ERR_NOT_FOUND", message: `There is no ${req.method} ${req.url.split("?")[0]}.` } });
    return reply.status(404).type("text/plain").send("Not found");
  });
  const ctx = { box, sessions, cookieBase, o };
  await app.register(authRoutes(ctx));
  await app.register(lineRoutes(ctx));
  await app.register(callRoutes(ctx));
  await app.register(adminRoutes(ctx));
  await app.register(privacyRoutes(ctx));
  await app.register(requestRoutes(ctx));
  await app.register(fastifyStatic, { root: o.webDir, prefix: "/", index: "index.html", cacheControl: false });
  return app;
}

// src/clock.ts
import { existsSync as existsSync2 } from "node:fs";
var TIMESYNC_FLAG = "/run/systemd/timesync/synchronized";
var CLOCK_MODES = ["auto", "synced", "unsynced"];
function systemClock(opts) {
  const mode = opts.mode ?? "auto";
  return {
    now: () => Date.now(),
    synced: () => mode === "auto" ? opts.assumeSynced || existsSync2(TIMESYNC_FLAG) : mode === "synced"
  };
}

// src/service/notify.ts
import { spawn as spawn5 } from "node:child_process";
var clean = (v) => v.replace(/[\r\n]+/g, " ").slice(0, 400);
function createNotifier(o = {}) {
  const env = o.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const command = o.command ?? "systemd-notify";
  const enabled = !!socket;
  const watchedPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
  const usec = Number(env.WATCHDOG_USEC ?? 0);
  const watchdogIntervalMs = enabled && usec > 0 && watchedPid === process.pid ? Math.max(500, Math.floor(usec / 2e3)) : 0;
  let warned = false;
  const send = (fields) => {
    if (!enabled) return Promise.resolve();
    const args = Object.entries(fields).map(([k, v]) => `${k}=${clean(v)}`);
    return new Promise((resolve3) => {
      let err = "";
      const child2 = spawn5(command, args, { env: { ...env, NOTIFY_SOCKET: socket }, stdio: ["ignore", "ignore", "pipe"] });
      child2.stderr.setEncoding("utf8").on("data", (d) => {
        err += d;
      });
      child2.once("error", (e) => {
        if (!warned) o.log?.warn({ err: e }, `cannot run ${command} to notify systemd; install the systemd package`);
        warned = true;
        resolve3();
      });
      child2.once("exit", (code) => {
        if (code !== 0 && !warned) {
          o.log?.warn({ code, stderr: err.trim() }, `${command} ${args.join(" ")} failed`);
          warned = true;
        }
        resolve3();
      });
    });
  };
  return {
    enabled,
    watchdogIntervalMs,
    send,
    ready: (status) => send({ READY: "1", STATUS: status }),
    status: (text4) => send({ STATUS: text4 }),
    stopping: (status) => send({ STOPPING: "1", STATUS: status }),
    watchdog(probe) {
      if (!watchdogIntervalMs) return () => void 0;
      let lastFault = null;
      let busy = false;
      const tick = async () => {
        if (busy) return;
        busy = true;
        let fault;
        try {
          fault = await Promise.race([
            Promise.resolve().then(probe),
            new Promise((r) => setTimeout(() => r("health check did not answer in time"), watchdogIntervalMs).unref())
          ]);
        } catch (e) {
          fault = `health check failed: ${e.message}`;
        } finally {
          busy = false;
        }
        const previous = lastFault;
        lastFault = fault;
        if (fault === null) {
          if (previous) o.log?.info({}, "healthy again; watchdog pings resume");
          await send(previous ? { WATCHDOG: "1", STATUS: "recording" } : { WATCHDOG: "1" });
        } else if (fault !== previous) {
          o.log?.warn({ fault }, "unhealthy: withholding the watchdog ping so systemd restarts the box if it lasts");
          await send({ STATUS: `unhealthy: ${fault}` });
        }
      };
      void tick();
      const timer = setInterval(() => void tick(), watchdogIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    }
  };
}

// src/http/redirect.ts
import { createServer as createServer2 } from "node:http";
import { once as once3 } from "node:events";
var HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
async function serveRedirect(o) {
  const server = createServer2((req, res) => {
    const sent = req.headers.host ?? "";
    const local = req.socket.localAddress ?? o.host;
    let host = HOST.test(sent) ? sent.replace(/:\d+$/, "") : local.includes(":") ? `[${local.replace(/^::ffff:/, "")}]` : local;
    if (host.startsWith("[::ffff:") && /\d+\.\d+\.\d+\.\d+\]$/.test(host)) host = host.slice(8, -1);
    const port = o.httpsPort === 443 ? "" : `:${o.httpsPort}`;
    const path = (req.url ?? "/").startsWith("/") ? req.url : "/";
    res.writeHead(301, {
      location: `https://${host}${port}${path}`,
      "content-length": "0",
      "cache-control": "no-store",
      connection: "close"
    });
    res.end();
  });
  server.headersTimeout = 1e4;
  server.requestTimeout = 1e4;
  server.listen({ host: o.host, port: o.port });
  await Promise.race([once3(server, "listening"), once3(server, "error").then(([e]) => {
    throw e;
  })]);
  return {
    server,
    port: server.address().port,
    close: () => new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    })
  };
}

// src/control.ts
import { createServer as createServer3, createConnection } from "node:net";
import { chmod, unlink as unlink8 } from "node:fs/promises";
async function serveControl(box, path) {
  await unlink8(path).catch(() => void 0);
  const server = createServer3((sock) => {
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (d) => {
      buf += d;
      if (buf.length > 8192) {
        sock.destroy();
        return;
      }
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      void handle(box, line).then((r) => sock.end(JSON.stringify(r) + "\n"));
    });
    sock.on("error", () => void 0);
  });
  await new Promise((res, rej) => server.once("error", rej).listen(path, () => res()));
  await chmod(path, 384);
  return server;
}
async function handle(box, line) {
  try {
    const req = JSON.parse(line);
    switch (req.cmd) {
      case "status":
        return { ok: true, initialized: await box.initialized(), vault: box.vault.unlocked ? "unlocked" : "locked" };
      case "unlock":
        return { ok: true, ...await box.unlock(String(req.secret), `cli:${String(req.actor).slice(0, 32)}`) };
      case "setup": {
        const r = await box.setup(String(req.username), String(req.passphrase), "cli");
        return { ok: true, recoveryKey: r.recoveryKey };
      }
      case "audit": {
        if (req.action !== "export.cli") return { ok: false, code: "RV_ERR_BAD_REQUEST", message: "Only a CLI export can be recorded this way." };
        const e = await box.audit.append({ actor: `cli:${String(req.actor).slice(0, 64)}`, action: req.action, ...req.detail ? { detail: req.detail } : {} });
        return { ok: true, seq: e.seq };
      }
      default:
        return { ok: false, code: "RV_ERR_BAD_REQUEST", message: "Unknown command." };
    }
  } catch (e) {
    if (isRvError(e)) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: "RV_ERR_BAD_REQUEST", message: e instanceof SyntaxError ? "The request was not JSON." : "The box could not do that; see its log." };
  }
}

// src/main.ts
var ROOT = resolve2(dirname2(fileURLToPath(import.meta.url)), "..");
var VERSION = JSON.parse(readFileSync(join12(ROOT, "package.json"), "utf8")).version;
var USAGE = `ringvault ${VERSION} \u2014 call recorder appliance

  npm start [-- options]      run the appliance (simulated lines unless a config says otherwise)

options:
  --config FILE      JSON config (a real box: /etc/ringvault/config.json); env RINGVAULT_CONFIG
  --data DIR         data folder (default ./data); env RINGVAULT_DATA
  --host ADDR        address of the web UI (default 127.0.0.1)
  --port N           port of the web UI (default 8080; 0 picks a free one)
  --sim-speed X      simulated calls play X times faster than real time
  --random-calls     simulated lines place random calls
  -h, --help         this text

environment:
  RINGVAULT_CLOCK    auto (default) | synced | unsynced \u2014 unsynced shows what a box without
                     network time shows (demo, tests)
  NOTIFY_SOCKET      set by systemd (Type=notify): READY, WATCHDOG and STATUS go there`;
async function resolveConfig(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      data: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "sim-speed": { type: "string" },
      "random-calls": { type: "boolean" },
      help: { type: "boolean", short: "h" }
    },
    strict: true
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const file = values.config ?? process.env.RINGVAULT_CONFIG;
  const cfg = file ? await loadConfigFile(file) : defaultConfig();
  const raw = structuredClone(cfg);
  const dataDir = values.data ?? process.env.RINGVAULT_DATA;
  if (dataDir) raw.dataDir = dataDir;
  if (values.host) raw.http.host = values.host;
  if (values.port !== void 0) raw.http.port = Number(values.port);
  if (values["sim-speed"] !== void 0) raw.sim.speed = Number(values["sim-speed"]);
  if (values["random-calls"]) raw.sim.randomCalls = true;
  const out = parseConfig(raw, file ? `${file} with command-line options` : "command-line options");
  return { ...out, dataDir: resolve2(out.dataDir) };
}
async function main(argv) {
  const log = pino({ level: process.env.RINGVAULT_LOG ?? "info" }, pino.destination(2));
  let config;
  try {
    config = await resolveConfig(argv);
  } catch (e) {
    console.error(isRvError(e) ? `ringvault: ${e.message}` : `ringvault: ${e.message}

${USAGE}`);
    process.exit(2);
  }
  const onlySim = config.lines.every((l) => l.source === "sim");
  const clockMode = process.env.RINGVAULT_CLOCK || "auto";
  if (!CLOCK_MODES.includes(clockMode)) {
    console.error(`ringvault: RINGVAULT_CLOCK is "${clockMode}"; expected one of ${CLOCK_MODES.join(", ")} (or unset).`);
    process.exit(2);
  }
  const clock = systemClock({ assumeSynced: onlySim, mode: clockMode });
  const notifier = createNotifier({ log });
  let tls;
  try {
    tls = config.http.tls ? await readTls(config.http.tls) : void 0;
  } catch (e) {
    console.error(`ringvault: ${e.message}`);
    process.exit(2);
  }
  void notifier.send({ STATUS: "starting: opening the ring and the archive", EXTEND_TIMEOUT_USEC: String(600 * 1e6) });
  const box = await Box.open({ config, log, clock, speechDir: join12(ROOT, "assets", "speech") });
  const app = await buildApp(box, { webDir: join12(ROOT, "web"), tls: !!tls, ...tls ? { https: tls } : {}, loginsPerMinute: config.http.loginsPerMinute, sessionHours: config.http.sessionHours, version: VERSION });
  const control = await serveControl(box, dataPaths(config.dataDir).socket);
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  console.log(`ringvault: listening on ${address}`);
  const httpsPort = Number(new URL(address).port || 443);
  const redirect = tls && config.http.redirectPort !== false ? await serveRedirect({ host: config.http.host, port: config.http.redirectPort, httpsPort }).catch((e) => {
    log.error({ err: e }, `cannot open the plain-HTTP redirect on port ${config.http.redirectPort} (${e.code}); HTTPS works, but http:// addresses do not answer. Stop what uses that port, or change http.redirectPort.`);
    return void 0;
  }) : void 0;
  if (redirect) console.log(`ringvault: redirecting http on port ${redirect.port} to https`);
  console.log(`ringvault: data in ${config.dataDir}${await box.initialized() ? "" : " \u2014 open the address above to set up the box"}`);
  const readyStatus = `recording ${config.lines.length} line(s); web UI on ${address}`;
  await notifier.ready(readyStatus);
  const stopWatchdog = notifier.watchdog(async () => {
    box.recorder.status();
    await stat3(config.dataDir);
    return null;
  });
  box.health?.on("change", () => {
    const issues = box.health?.report().issues ?? [];
    void notifier.status(issues.length ? `${readyStatus}; ${issues.map((i) => (i.line ? `${i.line}: ` : "") + i.message).join("; ")}` : readyStatus);
  });
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    stopWatchdog();
    await Promise.race([notifier.stopping("stopping"), new Promise((r) => setTimeout(r, 1e3))]);
    control.close();
    await redirect?.close();
    await app.close();
    await box.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
async function readTls(t) {
  const read = async (path, what, marker) => {
    let data;
    try {
      data = await readFile10(path);
    } catch (e) {
      throw new RvError("RV_ERR_CONFIG", `http.tls.${what}: cannot read ${path} (${e.code}); check the path, or run install/install.sh again to make a certificate.`);
    }
    if (!marker.test(data.toString("latin1"))) throw new RvError("RV_ERR_CONFIG", `http.tls.${what}: ${path} is not a PEM ${what === "cert" ? "certificate" : "private key"}; give the PEM file (it starts with "-----BEGIN").`);
    return data;
  };
  const pair = { cert: await read(t.cert, "cert", /-----BEGIN CERTIFICATE-----/), key: await read(t.key, "key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
  try {
    createSecureContext(pair);
  } catch (e) {
    throw new RvError("RV_ERR_CONFIG", `http.tls: ${t.cert} and ${t.key} do not make a usable pair (${e.message}); give the key that belongs to the certificate.`);
  }
  return pair;
}
if (process.argv[1] && resolve2(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`ringvault: ${isRvError(e) ? e.message : e.stack}`);
    process.exit(1);
  });
}
export {
  USAGE,
  main
};
