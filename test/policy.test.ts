import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAtStart, isExcluded, normalizeNumber, resolvePurposes } from '../src/policy/keep.ts';

test('numbers compare in one form', () => {
  const cases: [string, string][] = [['0201234567', '+31201234567'], ['+31 20 123 4567', '+31201234567'], ['0031201234567', '+31201234567'], ['+4930123456', '+4930123456'], ['06-12345678', '+31612345678']];
  for (const [raw, want] of cases) assert.equal(normalizeNumber(raw), want, raw);
});

test('keep decision at call start, as a table', () => {
  const never = () => { throw new Error('must not draw'); };
  const rows: { line: { keep: 'all' | 'sample' | 'on-demand' | 'never'; sampleN: number }; caller?: string; excl?: string[]; draw?: (n: number) => number; buffer: boolean; keep: string | null }[] = [
    { line: { keep: 'all', sampleN: 10 }, draw: never, buffer: true, keep: 'all' },
    { line: { keep: 'on-demand', sampleN: 10 }, draw: never, buffer: true, keep: null },
    { line: { keep: 'never', sampleN: 10 }, draw: never, buffer: false, keep: null },
    { line: { keep: 'sample', sampleN: 10 }, draw: () => 0, buffer: true, keep: 'sample' },
    { line: { keep: 'sample', sampleN: 10 }, draw: () => 3, buffer: true, keep: null },
    { line: { keep: 'all', sampleN: 10 }, caller: '0201234567', excl: ['+31201234567'], draw: never, buffer: false, keep: null },
    { line: { keep: 'on-demand', sampleN: 10 }, caller: '+31201234567', excl: ['0201234567'], draw: never, buffer: false, keep: null },
    { line: { keep: 'on-demand', sampleN: 10 }, caller: '+31201234568', excl: ['0201234567'], draw: never, buffer: true, keep: null },
  ];
  for (const r of rows) {
    const d = decideAtStart(r.line, { direction: 'in', caller: r.caller }, r.excl ?? [], r.draw);
    assert.equal(d.buffer, r.buffer, JSON.stringify(r));
    assert.equal(d.keep, r.keep, JSON.stringify(r));
  }
});

test('sampling draws with the line N, about 1 in N over many calls', () => {
  let kept = 0;
  for (let i = 0; i < 20000; i++) if (decideAtStart({ keep: 'sample', sampleN: 10 }, { direction: 'in' }, []).keep) kept++;
  assert.ok(kept > 1600 && kept < 2400, `kept ${kept} of 20000`);
});

test('purposes: default from the line, asked ones must be announced', () => {
  const line = { id: 'l1', announced: ['complaint', 'training'] as ('complaint' | 'training')[], keepPurposes: ['complaint'] as 'complaint'[] };
  assert.deepEqual(resolvePurposes(line), ['complaint']);
  assert.deepEqual(resolvePurposes(line, ['training']), ['training']);
  assert.throws(() => resolvePurposes(line, ['evidence']), /RV_ERR_PURPOSE_NOT_ANNOUNCED|does not announce evidence/);
  assert.throws(() => resolvePurposes({ ...line, keepPurposes: [] }), /needs a purpose/);
});

test('exclusion matches caller or called, never partial digits', () => {
  assert.equal(isExcluded({ called: '0301234567' }, ['+31301234567']), true);
  assert.equal(isExcluded({ caller: 'withheld' }, ['+31301234567']), false);
  assert.equal(isExcluded({ caller: '0301234567' }, []), false);
});
