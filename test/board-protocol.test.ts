import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, formatBoxMessage, parseBoardLine, type BoardMessage, type BoxMessage } from '../src/board/protocol.ts';
import { ledFor, pressTargets } from '../src/board/controller.ts';
import { Debouncer, ledPattern, parseGpiomon } from '../src/board/gpio.ts';
import type { LineStatus } from '../src/calls/recorder.ts';

test('board lines that parse (PROTOCOL.md board → box)', () => {
  const cases: [string, BoardMessage][] = [
    ['PONG', { type: 'pong' }],
    ['PONG\r', { type: 'pong' }],
    ['BTN 1 SHORT', { type: 'btn', n: 1, kind: 'short' }],
    ['BTN 8 LONG', { type: 'btn', n: 8, kind: 'long' }],
    ['SENSE 2 OFFHOOK', { type: 'sense', n: 2, state: 'offhook' }],
    ['SENSE 1 ONHOOK', { type: 'sense', n: 1, state: 'onhook' }],
    ['SENSE 3 RING\r', { type: 'sense', n: 3, state: 'ring' }],
    ['ERR UNKNOWN', { type: 'err', word: 'UNKNOWN' }],
    ['HELLO ringvault-board 1 buttons=2 lines=2', { type: 'hello', name: 'ringvault-board', version: 1, buttons: 2, lines: 2, sense: 2, fields: { buttons: '2', lines: '2' } }],
    ['HELLO ringvault-board 1 buttons=1 lines=4 sense=0 fw=1.0.3 longms=1500 future=x',
      { type: 'hello', name: 'ringvault-board', version: 1, buttons: 1, lines: 4, sense: 0, fields: { buttons: '1', lines: '4', sense: '0', fw: '1.0.3', longms: '1500', future: 'x' } }],
    ['HELLO ringvault-board 2 buttons=2 lines=2', { type: 'hello', name: 'ringvault-board', version: 2, buttons: 2, lines: 2, sense: 2, fields: { buttons: '2', lines: '2' } }],
  ];
  for (const [line, want] of cases) {
    const got = parseBoardLine(line);
    assert.deepEqual(got, { ok: true, msg: want }, `${JSON.stringify(line)}`);
  }
});

test('malformed board lines are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['', /unknown message/],
    ['pong', /unknown message "pong"/],
    ['PONG 1', /PONG takes no fields/],
    ['BTN', /BTN needs/],
    ['BTN 1', /BTN needs/],
    ['BTN 0 SHORT', /button must be a number from 1 to 8, got "0"/],
    ['BTN 9 SHORT', /got 9/],
    ['BTN 01 SHORT', /button must be/],
    ['BTN -1 SHORT', /button must be/],
    ['BTN 1 MEDIUM', /SHORT or LONG, got "MEDIUM"/],
    ['BTN 1  SHORT', /BTN needs/],
    ['BTN 1 short', /SHORT or LONG/],
    ['SENSE 1 OFF', /OFFHOOK, ONHOOK or RING, got "OFF"/],
    ['SENSE x ONHOOK', /line must be/],
    ['ERR', /ERR needs/],
    ['ERR lower', /ERR needs/],
    ['HELLO', /board name/],
    ['HELLO ringvault-board', /protocol version/],
    ['HELLO ringvault-board one buttons=2 lines=2', /protocol version/],
    ['HELLO ringvault-board 1 lines=2', /buttons= must be/],
    ['HELLO ringvault-board 1 buttons=2', /lines= must be/],
    ['HELLO ringvault-board 1 buttons=2 lines=9', /lines= must be .* got 9/],
    ['HELLO ringvault-board 1 buttons=2 lines=2 sense=3', /sense= must be 0 to lines=/],
    ['HELLO ringvault-board 1 buttons=2 lines=2 junk', /not key=value/],
    ['BTN 1 SH\u00c9RT', /not printable ASCII/],
    ['BTN 1 SHORT\u0000', /not printable ASCII/],
    ['SENSE 1 ONHOOK' + ' '.repeat(80), /longer than 80/],
  ];
  for (const [line, reason] of cases) {
    const got = parseBoardLine(line);
    assert.equal(got.ok, false, JSON.stringify(line));
    assert.match((got as { reason: string }).reason, reason, JSON.stringify(line));
  }
});

test('box messages are formatted as PROTOCOL.md says', () => {
  const cases: [BoxMessage, string][] = [
    [{ type: 'hello' }, 'HELLO ringvault-box 1\n'],
    [{ type: 'ping' }, 'PING\n'],
    [{ type: 'led', n: 1, state: 'idle' }, 'LED 1 IDLE\n'],
    [{ type: 'led', n: 2, state: 'buffering' }, 'LED 2 BUFFERING\n'],
    [{ type: 'led', n: 3, state: 'keeping' }, 'LED 3 KEEPING\n'],
    [{ type: 'led', n: 4, state: 'private' }, 'LED 4 PRIVATE\n'],
    [{ type: 'led', n: 5, state: 'fault' }, 'LED 5 FAULT\n'],
    [{ type: 'led', n: 8, state: 'ack' }, 'LED 8 ACK\n'],
    [{ type: 'longms', ms: 1000 }, 'LONGMS 1000\n'],
    [{ type: 'longms', ms: 12.6 }, 'LONGMS 300\n'],
    [{ type: 'longms', ms: 99999 }, 'LONGMS 10000\n'],
  ];
  for (const [m, want] of cases) {
    const got = formatBoxMessage(m);
    assert.equal(got, want);
    // The board's receive buffer is 32 bytes.
    assert.ok(Buffer.byteLength(got) <= 32, want);
  }
});

test('the line splitter joins chunks, splits lines and drops over-long ones', () => {
  const cases: { chunks: string[]; lines: string[]; overlong: number }[] = [
    { chunks: ['PONG\n'], lines: ['PONG'], overlong: 0 },
    { chunks: ['PO', 'NG\nBTN 1 ', 'SHORT\n'], lines: ['PONG', 'BTN 1 SHORT'], overlong: 0 },
    { chunks: ['PONG\r\n\n'], lines: ['PONG\r', ''], overlong: 0 },
    { chunks: ['x'.repeat(300), 'y'.repeat(10), '\nPONG\n'], lines: ['PONG'], overlong: 1 },
    { chunks: ['x'.repeat(257) + '\nPONG\n'], lines: ['PONG'], overlong: 1 },
    { chunks: ['BTN 1 SHORT'], lines: [], overlong: 0 },
    { chunks: ['\u00ff\n'], lines: ['\u00ff'], overlong: 0 },
  ];
  for (const c of cases) {
    const lines: string[] = [];
    let overlong = 0;
    const s = new LineSplitter((l) => lines.push(l), () => overlong++);
    for (const ch of c.chunks) s.push(Buffer.from(ch, 'latin1'));
    assert.deepEqual(lines, c.lines, JSON.stringify(c.chunks).slice(0, 60));
    assert.equal(overlong, c.overlong);
  }
});

const status = (over: Partial<LineStatus>): LineStatus => ({
  id: 'line1', name: 'Line 1', source: 'sim', channels: 2, keep: 'on-demand', sampleN: 10, purposes: [], keepPurposes: [], state: 'idle', maxCalls: 1, calls: [], ended: [], ...over,
});
const call = (over: Partial<NonNullable<LineStatus['call']>> = {}): NonNullable<LineStatus['call']> => ({ ref: 'r', startedAt: 0, direction: 'in', keeping: false, private: false, ...over });

test('LED state precedence: fault > private > keeping > buffering > idle', () => {
  const cases: [Partial<LineStatus>, boolean, string][] = [
    [{}, false, 'idle'],
    [{}, true, 'fault'],
    [{ state: 'in-call', call: call() }, false, 'buffering'],
    [{ state: 'keeping', call: call({ keeping: true }) }, false, 'keeping'],
    [{ state: 'in-call', call: call({ private: true }) }, false, 'private'],
    [{ state: 'keeping', call: call({ keeping: true, private: true }) }, false, 'private'],
    [{ state: 'fault', call: call({ private: true }) }, false, 'fault'],
    [{ state: 'keeping', call: call({ keeping: true }) }, true, 'fault'],
    [{ state: 'fault' }, false, 'fault'],
    [{ lastEnded: { ref: 'r', endedAt: 1, savableUntil: 2 } }, false, 'idle'],
  ];
  for (const [over, boxFault, want] of cases) assert.equal(ledFor(status(over), boxFault), want, JSON.stringify({ over, boxFault }));
});

test('which lines a press acts on', () => {
  const lines = [
    status({ id: 'a', call: call() }),
    status({ id: 'b' }),
    status({ id: 'c', call: call() }),
    status({ id: 'd', lastEnded: { ref: 'x', endedAt: 0, savableUntil: 1000 } }),
  ];
  const ended = [status({ id: 'a' }), status({ id: 'd', lastEnded: { ref: 'x', endedAt: 0, savableUntil: 1000 } }), status({ id: 'e', lastEnded: { ref: 'y', endedAt: 0, savableUntil: 10 } })];
  const cases: [string | undefined, 'per-line' | 'all', LineStatus[], number, string[]][] = [
    ['b', 'per-line', lines, 0, ['b']],
    ['a', 'all', lines, 0, ['a', 'c']],
    [undefined, 'per-line', lines, 0, ['a', 'c']],
    [undefined, 'all', ended, 500, ['d']],
    [undefined, 'all', ended, 5, ['d', 'e']],
    [undefined, 'all', ended, 1001, []],
  ];
  for (const [line, mode, ls, now, want] of cases) assert.deepEqual(pressTargets({ line }, mode, ls, now), want, JSON.stringify({ line, mode, now }));
});

test('gpiomon output: the custom format and gpiomon 1.6 default lines', () => {
  const cases: [string, ReturnType<typeof parseGpiomon>][] = [
    ['17 1 1234 567890123', { offset: 17, rising: true, ms: 1234567.890123 }],
    ['27 0 5 000000001', { offset: 27, rising: false, ms: 5000.000001 }],
    ['event:  RISING EDGE offset: 17 timestamp: [    1234.567890123]', { offset: 17, rising: true, ms: 1234567.890123 }],
    ['event: FALLING EDGE offset: 4 timestamp: [1700000000.000000500]', { offset: 4, rising: false, ms: 1700000000000.0005 }],
    ['', undefined],
    ['17 2 1 1', undefined],
    ['gpiomon: error waiting for events: No such file or directory', undefined],
    ['event:  RISING EDGE offset: x timestamp: [1.0]', undefined],
  ];
  for (const [line, want] of cases) {
    const got = parseGpiomon(line);
    if (want === undefined) assert.equal(got, undefined, line);
    else { assert.equal(got?.offset, want.offset, line); assert.equal(got?.rising, want.rising, line); assert.ok(Math.abs(got!.ms - want.ms) < 1e-3, line); }
  }
});

test('debouncing: a level counts once it has held for the debounce time', () => {
  // Each case: edges [level, t] then a settle time; the stable level after.
  const cases: { edges: [boolean, number][]; settleAt: number; want: boolean | undefined }[] = [
    { edges: [[true, 0]], settleAt: 30, want: true },
    { edges: [[true, 0]], settleAt: 29, want: undefined },
    { edges: [[true, 0], [false, 5], [true, 12]], settleAt: 42, want: true },
    { edges: [[true, 0], [false, 5], [true, 12]], settleAt: 40, want: undefined },
    { edges: [[true, 0], [false, 5]], settleAt: 100, want: undefined }, // bounced back to where it was
  ];
  for (const c of cases) {
    const d = new Debouncer(30, false);
    for (const [l, t] of c.edges) d.edge(l, t);
    assert.equal(d.settle(c.settleAt), c.want, JSON.stringify(c));
  }
});

test('GPIO LED patterns match PROTOCOL.md', () => {
  assert.deepEqual(ledPattern('idle'), [[false, 1000]]);
  assert.deepEqual(ledPattern('keeping'), [[true, 1000]]);
  const period = (s: Parameters<typeof ledPattern>[0]) => ledPattern(s).reduce((a, [, ms]) => a + ms, 0);
  assert.equal(period('buffering'), 2000);
  assert.equal(period('private'), 2000);
  assert.equal(ledPattern('private').filter(([on]) => on).length, 2);
  assert.deepEqual(ledPattern('fault'), [[true, 125], [false, 125]]);
});
