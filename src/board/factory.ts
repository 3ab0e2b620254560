import type { ControlBoard } from './board.ts';
import { SimBoard } from './sim.ts';
import { SerialBoard } from './serial.ts';
import { GpioBoard } from './gpio.ts';
import type { Config } from '../config/schema.ts';
import type { Log } from '../log.ts';

/** The board driver the config asks for; `none` gives no board (the dashboard buttons still work). */
export function createBoard(cfg: () => Config['board'], lines: () => readonly string[], log: Log): ControlBoard | undefined {
  const c = cfg();
  const longPressMs = () => cfg().longPressMs;
  switch (c.driver) {
    case 'sim': return new SimBoard({ lines });
    case 'serial': return new SerialBoard({ path: c.serialPath, lines, longPressMs, log });
    case 'gpio': return new GpioBoard({ pins: c.gpio, lines, longPressMs, log });
    case 'none': return undefined;
  }
}
