import { createInterface } from 'node:readline';

/** Reads one line; with `secret` and a terminal, nothing typed is echoed. */
export function prompt(question: string, opts: { secret?: boolean; input?: NodeJS.ReadStream; output?: NodeJS.WriteStream } = {}): Promise<string> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  if (!opts.secret || !input.isTTY) {
    const rl = createInterface({ input, output, terminal: false });
    output.write(question);
    return new Promise((res, rej) => {
      rl.once('line', (l) => { res(l); rl.close(); });
      rl.once('close', () => rej(new Error('input ended before an answer was given')));
    });
  }
  output.write(question);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((res, rej) => {
    let value = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (err) rej(err); else res(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u0004' && value === '') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
