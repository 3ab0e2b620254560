import { join } from 'node:path';
import * as pty from 'node-pty';
import { ROOT } from './appliance.ts';

export interface PtyOptions {
  /** Terminal width; wide enough that the lines a test matches are not wrapped. */
  cols?: number;
  /** Kill the CLI and fail after this long (ms). */
  timeoutMs?: number;
}

/**
 * Drives `bin/ringvault.js args` in a real pseudo-terminal, answering each prompt as a person would:
 * when the current output line matches answers[i][0], types answers[i][1] and Enter, in order.
 */
export function runPty(args: string[], answers: [RegExp, string][], { cols = 120, timeoutMs = 30_000 }: PtyOptions = {}): Promise<{ out: string; code: number }> {
  return new Promise((resolve, reject) => {
    const p = pty.spawn(process.execPath, [join(ROOT, 'bin/ringvault.js'), ...args], { cols, rows: 40, cwd: ROOT, env: { ...process.env } as Record<string, string> });
    let out = '';
    let next = 0;
    const timer = setTimeout(() => { p.kill(); reject(new Error(`CLI timed out; output so far:\n${out}`)); }, timeoutMs);
    p.onData((d) => {
      out += d;
      const a = answers[next];
      // A prompt waits at the end of the output with no newline after it; a line already answered
      // (it ends in a newline) must not match again while the CLI is still busy with the answer.
      if (a && a[0].test(out.slice(out.lastIndexOf('\n') + 1))) {
        next++;
        setTimeout(() => p.write(a[1] + '\r'), 20);
      }
    });
    p.onExit(({ exitCode }) => { clearTimeout(timer); resolve({ out, code: exitCode }); });
  });
}
