import { EventEmitter } from 'node:events';
import type { AudioBlock, CallRate } from '../audio/frame.ts';
import type { UndecodedRtp } from '../codecs/sdp-maps.ts';

export type Direction = 'in' | 'out';

/** What is known about the parties of a call; may grow while the call runs (caller ID, digits). */
export interface CallParties {
  direction: Direction;
  /** the remote or calling number, as dialled or as sent by caller ID; 'withheld' / 'unavailable' when so */
  caller?: string;
  called?: string;
  /** the staff member's extension on this line, when known */
  extension?: string;
  /** digits dialled during the call (DTMF / RFC 4733) */
  digits?: string;
  /** codecs heard on the call that this box cannot decode (shown as "not decodable: CODEC"); their RTP is kept as sent */
  undecodable?: string[];
  /** the RTP packets of those codecs, as sent; given once, at the end of the call */
  undecodedRtp?: UndecodedRtp;
  /** SIPREC recording metadata documents (RFC 7865) as the recording client sent them, in order; sealed with the call */
  siprecMetadata?: string[];
  /** what the source noticed about the call's media, for the call's report (early media, strangers' packets dropped, streams kept apart) */
  notes?: string[];
}

export interface CallStartEvent {
  line: string; ref: string; at: number; channels: 1 | 2; parties: CallParties;
  /** samples per second of the call's audio blocks, fixed for the call (default 8000; 16000 for wideband SIP calls) */
  rate?: CallRate;
}
export interface CallAudioEvent { line: string; ref: string; block: AudioBlock }
export interface CallInfoEvent { line: string; ref: string; parties: Partial<CallParties> }
export interface CallEndEvent { line: string; ref: string; at: number; reason: string }
export interface LineFaultEvent { line: string; code: string; message: string }

export type LineSourceEvents = {
  'call-start': [CallStartEvent];
  'call-audio': [CallAudioEvent];
  'call-info': [CallInfoEvent];
  'call-end': [CallEndEvent];
  /** the line cannot be heard (device gone, process died); recording of other lines goes on */
  fault: [LineFaultEvent];
  /** the line is heard again after a fault */
  recovered: [{ line: string }];
};

/**
 * A line source turns a hardware or network edge into call events for one or more lines.
 * Drivers: `sim` (scripted/random calls), later `alsa`, `siprec`, `pcap`.
 */
export abstract class LineSource extends EventEmitter<LineSourceEvents> {
  abstract readonly kind: string;
  /** the line ids this source feeds */
  abstract readonly lines: readonly string[];
  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
}
