import { msOf, SAMPLE_RATE } from '../audio/frame.ts';
import { DtmfDetector } from '../dsp/dtmf.ts';
import { CadenceClassifier, type CadenceKind } from '../dsp/cadence.ts';
import { blockDbm0, tone425 } from '../dsp/tones.ts';
import { Vad } from '../dsp/vad.ts';
import { decodeFskCallerId, type AbsentReason } from '../dsp/callerid.ts';
import type { CallerIdFormat } from '../config/analog.ts';
import type { RingDetector } from '../dsp/ring.ts';

/** What the detectors heard on one line, each with the time (ms, from sample counts) it began. */
export type Heard =
  | { kind: 'digit'; at: number; digit: string; durationMs: number }
  | { kind: 'callerid'; at: number; format: 'v23-fsk' | 'bell202-fsk'; number?: string; absent?: AbsentReason; checksumOk: boolean }
  | { kind: 'cadence'; at: number; cadence: CadenceKind; onset: number }
  | { kind: 'voice'; at: number }
  /** a steady 425 Hz tone longer than a ring-back burst: dial tone (off-hook), dated from its onset */
  | { kind: 'dialtone'; at: number }
  | { kind: 'ring'; at: number };


export interface DetectOptions {
  callerId: readonly CallerIdFormat[];
  /** ring detection on the tap's audio; none when the board's line sense reports rings */
  ring?: RingDetector;
}

/** a run of voice this long starts (or keeps alive) a call, ms */
const MIN_VOICE_MS = 60;
/** voice must be this far above the noise floor, dB, and above VOICE_MIN_DBM0 */
const VOICE_MARGIN_DB = 10;
const VOICE_MIN_DBM0 = -50;
/** continuous 425 Hz this long is dial tone: ring-back bursts last 1 s (±20 %), busy 0.5 s */
const DIAL_MS = 1300;
/** FSK caller ID is decoded over a sliding window: long enough for a whole burst, re-run each step */
const FSK_WINDOW_MS = 3000;
const FSK_STEP_MS = 1000;
/** a window whose loudest block is quieter than this holds no caller ID */
const FSK_GATE_DBM0 = -45;

/** Runs every detector over a line's mono mix, block by block, and reports what it heard in time order. */
export class LineDetectors {
  private readonly dtmf: DtmfDetector;
  private readonly cadence: CadenceClassifier;
  /** used for its adaptive noise floor */
  private readonly vad = new Vad({ onSegment: () => {} });
  private readonly ring?: RingDetector;
  private readonly fskStandards: ('v23' | 'bell202')[];
  private heard: Heard[] = [];
  private voiceRun: number | null = null;
  private voiceReported = false;
  private toneOn = false;
  /** onset of the current 425 Hz run, and whether it was reported as dial tone */
  private toneRun = 0;
  private dialReported = false;
  /** onset of the first 425 Hz burst since the last voice, for dating busy/dial tone */
  private toneSinceVoice: number | null = null;
  /** end of the last block with voice, ms */
  lastVoiceEnd = -Infinity;
  /** end of the last block with a 425 Hz tone or a ring, ms */
  lastToneEnd = -Infinity;
  // FSK window
  private readonly fsk = new Int16Array(Math.round((FSK_WINDOW_MS * SAMPLE_RATE) / 1000));
  private fskFill = 0;
  private fskEndMs = 0;
  private fskSinceDecode = 0;
  private fskLoudest = -Infinity;
  private readonly fskSeen: number[] = [];
  /** the tracker turns FSK decoding off while a call is up: caller ID only comes while idle or ringing */
  fskEnabled = true;

  constructor(opts: DetectOptions) {
    this.dtmf = new DtmfDetector({ onDigit: (d) => this.heard.push({ kind: 'digit', at: d.at, digit: d.digit, durationMs: d.durationMs }) });
    this.cadence = new CadenceClassifier({
      onEvent: (e) => this.heard.push({ kind: 'cadence', at: e.at, cadence: e.kind, onset: this.toneSinceVoice ?? e.at }),
    });
    this.ring = opts.ring;
    this.fskStandards = [];
    if (opts.callerId.includes('v23-fsk')) this.fskStandards.push('v23');
    if (opts.callerId.includes('bell202-fsk')) this.fskStandards.push('bell202');
  }

  /** One mono block starting at `at` ms; returns what was heard, in time order. */
  push(mono: Int16Array, at: number): Heard[] {
    const ms = msOf(mono.length);
    const end = at + ms;
    const rings = this.ring ? this.ring.push(mono, at) : [];
    for (const r of rings) this.heard.push({ kind: 'ring', at: r });
    const ringing = this.ring?.ringing ?? false;
    this.dtmf.push(mono, at);
    const tone = tone425(mono);
    if (tone && !this.toneOn) {
      this.toneSinceVoice ??= at;
      this.toneRun = at;
      this.dialReported = false;
    }
    this.toneOn = tone;
    if (tone && !this.dialReported && end - this.toneRun >= DIAL_MS) {
      this.dialReported = true;
      this.heard.push({ kind: 'dialtone', at: this.toneRun });
    }
    this.cadence.pushState(tone, at, ms);
    this.vad.push(mono, at);
    if (tone || ringing) this.lastToneEnd = end;
    const db = blockDbm0(mono);
    const voice = !tone && !ringing && db >= VOICE_MIN_DBM0 && db >= this.vad.floor + VOICE_MARGIN_DB;
    if (voice) {
      this.voiceRun ??= at;
      if (end - this.voiceRun >= MIN_VOICE_MS) {
        if (!this.voiceReported) this.heard.push({ kind: 'voice', at: this.voiceRun });
        this.voiceReported = true;
        this.lastVoiceEnd = end;
        this.toneSinceVoice = null;
      }
    } else {
      this.voiceRun = null;
      this.voiceReported = false;
    }
    if (this.fskStandards.length) this.fskPush(mono, end, db);
    const out = this.heard.sort((a, b) => a.at - b.at);
    this.heard = [];
    return out;
  }

  /** Ends the stream: a digit still sounding is reported. */
  flush(): Heard[] {
    this.dtmf.flush();
    const out = this.heard;
    this.heard = [];
    return out;
  }

  private fskPush(mono: Int16Array, end: number, db: number): void {
    const w = this.fsk;
    if (mono.length >= w.length) {
      w.set(mono.subarray(mono.length - w.length));
      this.fskFill = w.length;
    } else if (this.fskFill + mono.length <= w.length) {
      w.set(mono, this.fskFill);
      this.fskFill += mono.length;
    } else {
      const keep = w.length - mono.length;
      w.copyWithin(0, this.fskFill - keep, this.fskFill);
      w.set(mono, keep);
      this.fskFill = w.length;
    }
    this.fskEndMs = end;
    this.fskSinceDecode += msOf(mono.length);
    this.fskLoudest = Math.max(this.fskLoudest, db);
    if (this.fskSinceDecode < FSK_STEP_MS) return;
    this.fskSinceDecode = 0;
    const loud = this.fskLoudest;
    this.fskLoudest = db;
    if (!this.fskEnabled || loud < FSK_GATE_DBM0) return;
    this.decodeWindow();
  }

  private decodeWindow(): void {
    const pcm = this.fsk.subarray(0, this.fskFill);
    const startMs = this.fskEndMs - msOf(pcm.length);
    for (const standard of this.fskStandards) {
      for (const m of decodeFskCallerId(pcm, { standard })) {
        const at = startMs + m.startMs;
        // a burst cut by the window's end fails its checksum; the next window holds it whole
        if (!m.checksumOk && this.fskEndMs - at < FSK_WINDOW_MS - FSK_STEP_MS - 500) continue;
        // overlapping windows see the same burst more than once
        if (this.fskSeen.some((s) => Math.abs(s - at) < 100)) continue;
        this.fskSeen.push(at);
        if (this.fskSeen.length > 8) this.fskSeen.shift();
        const absent = m.numberAbsent;
        this.heard.push({
          kind: 'callerid', at, format: standard === 'v23' ? 'v23-fsk' : 'bell202-fsk', checksumOk: m.checksumOk,
          ...(m.number ? { number: m.number } : {}), ...(absent ? { absent } : {}),
        });
      }
    }
  }
}
