// Keyed digits in a call's sealed metadata: count and times by default, the values only when the line keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedDigits } from '../src/calls/keyed-digits.ts';

const T0 = 1_700_000_000_000;

test('digits are timed from the call audio heard so far and masked unless kept, as a table', () => {
  const rows: { name: string; steps: (['audio', number] | ['digits', string | undefined])[]; keep: boolean; final: string | undefined; want: object }[] = [
    { name: 'no digits', steps: [['audio', T0 + 1000]], keep: false, final: undefined, want: {} },
    { name: 'masked by default', steps: [['audio', T0 + 1200], ['digits', '4'], ['audio', T0 + 1500], ['digits', '49']], keep: false, final: '49', want: { keyed: { count: 2, atMs: [1200, 1500] } } },
    { name: 'kept on an order-entry line', steps: [['audio', T0 + 800], ['digits', '12']], keep: true, final: '12', want: { digits: '12', keyed: { count: 2, atMs: [800, 800] } } },
    { name: 'digits known at the start (before any audio)', steps: [], keep: false, final: '#', want: { keyed: { count: 1, atMs: [0] } } },
    { name: 'audio going back in time does not move positions back', steps: [['audio', T0 + 3000], ['audio', T0 + 100], ['digits', '7']], keep: false, final: '7', want: { keyed: { count: 1, atMs: [3000] } } },
    { name: 'a shorter string later (a source that restarts) never shows values', steps: [['digits', '1234']], keep: false, final: '12', want: { keyed: { count: 2, atMs: [0, 0] } } },
  ];
  for (const r of rows) {
    const k = new KeyedDigits(T0);
    for (const [what, v] of r.steps) if (what === 'audio') k.heard(v as number); else k.update(v as string | undefined);
    const meta = k.meta(r.final, r.keep);
    assert.deepEqual(meta, r.want, r.name);
    if (!r.keep && r.final) assert.ok(!JSON.stringify(meta).includes(`"${r.final}"`), `${r.name}: no values`);
  }
});
