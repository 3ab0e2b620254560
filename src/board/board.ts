import { EventEmitter } from 'node:events';

/**
 * The control board contract: what a button box / Pi header board tells the box and what the box
 * shows on it. Drivers: `sim`, `serial` (USB button box, DESIGN.md line protocol), `gpio` (libgpiod).
 */

/** Line sense from an opto-coupled loop/ring detector on the board. */
export type LineSenseState = 'offhook' | 'onhook' | 'ring';
export interface LineSenseEvent { line: string; state: LineSenseState; at: number }

/** A press: short = keep the call, long = private. `line` undefined = the one button for every live call. */
export interface PressEvent { line?: string; kind: 'short' | 'long'; at: number }

/**
 * LED state per line, in order of precedence when several hold:
 * fault > private > keeping > buffering > idle. `ack` is a brief flash acknowledging a press.
 */
export type LedState = 'idle' | 'buffering' | 'keeping' | 'private' | 'fault' | 'ack';

export type ControlBoardEvents = {
  press: [PressEvent];
  sense: [LineSenseEvent];
  /** the board stopped answering (unplugged, heartbeat lost); recording goes on */
  fault: [{ code: string; message: string }];
  recovered: [];
};

export abstract class ControlBoard extends EventEmitter<ControlBoardEvents> {
  abstract readonly kind: 'sim' | 'serial' | 'gpio';
  /** true while the board is connected and answering */
  abstract readonly connected: boolean;
  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  /** Shows a state on a line's LED; drivers send only changes. */
  abstract setLed(line: string, state: LedState): void;
}
