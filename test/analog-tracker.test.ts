import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalogTracker, type TrackerEvent, type TrackerOptions } from '../src/calls/analog-tracker.ts';
import { makeLineRecording, type LineRecording, type LineRecordingOpts } from './helpers/line-recording.ts';
import type { CallParties } from '../src/sources/source.ts';

const T0 = 1_790_000_000_000;
const TOL = 500;

interface Run {
  events: Exclude<TrackerEvent, { type: 'call-audio' }>[];
  /** every call-audio block, per ref */
  audio: Map<string, { at: number; channels: number; pcm: Int16Array }[]>;
}

function tracker(channels: 1 | 2, o: Partial<TrackerOptions> = {}): AnalogTracker {
  return new AnalogTracker({ line: 'l1', channels, minCallMs: 3000, hangoverMs: 4000, callerId: ['v23-fsk', 'dtmf-clip'], lineSense: false, ...o });
}

/** Feeds a recording in blocks of `frames` (sense events at their times), then flushes. */
function run(rec: Pick<LineRecording, 'pcm' | 'channels'>, t: AnalogTracker, frames = 160, sense: { at: number; state: 'offhook' | 'onhook' | 'ring' }[] = []): Run {
  const r: Run = { events: [], audio: new Map() };
  const take = (evs: TrackerEvent[]) => {
    for (const e of evs) {
      if (e.type !== 'call-audio') { r.events.push(e); continue; }
      const list = r.audio.get(e.ref) ?? [];
      list.push(e.block);
      r.audio.set(e.ref, list);
    }
  };
  const ch = rec.channels;
  const queue = [...sense].sort((a, b) => a.at - b.at);
  for (let i = 0; i < rec.pcm.length; i += frames * ch) {
    const at = T0 + ((i / ch) * 1000) / 8000;
    while (queue.length && queue[0].at + T0 <= at) { const s = queue.shift()!; take(t.sense(s.state, T0 + s.at)); }
    take(t.push({ at, channels: ch, pcm: rec.pcm.slice(i, Math.min(rec.pcm.length, i + frames * ch)) }));
  }
  take(t.flush('end of recording'));
  return r;
}

const rel = (ms: number) => ms - T0;

interface Case {
  name: string;
  rec: LineRecordingOpts;
  tracker?: Partial<TrackerOptions>;
  parties: CallParties;
  reason: string;
}

const cid = (format: NonNullable<LineRecordingOpts['cid']>['format'], more: Partial<NonNullable<LineRecordingOpts['cid']>> = {}) => ({ format, ...more });

const cases: Case[] = [
  { name: 'incoming, V.23 FSK after the first ring, busy, mono', rec: { seed: 1, direction: 'in', speechSec: 8, endBy: 'busy', channels: 1, cid: cid('fsk-v23', { number: '0201234567', name: 'Jansen' }) }, parties: { direction: 'in', caller: '0201234567' }, reason: 'busy' },
  { name: 'incoming, V.23 FSK after the first ring, silence, stereo', rec: { seed: 2, direction: 'in', speechSec: 8, endBy: 'silence', channels: 2, cid: cid('fsk-v23', { number: '0612345678' }) }, parties: { direction: 'in', caller: '0612345678' }, reason: 'silence' },
  { name: 'incoming, V.23 FSK before the ring, 3 rings, busy', rec: { seed: 3, direction: 'in', ringCycles: 3, speechSec: 6, endBy: 'busy', channels: 2, cid: cid('fsk-v23', { number: '0301112222', when: 'before-ring' }) }, parties: { direction: 'in', caller: '0301112222' }, reason: 'busy' },
  { name: 'incoming, withheld (FSK "P")', rec: { seed: 4, direction: 'in', speechSec: 6, endBy: 'busy', channels: 1, cid: cid('fsk-v23', { absent: 'withheld' }) }, parties: { direction: 'in', caller: 'withheld' }, reason: 'busy' },
  { name: 'incoming, Bell 202 FSK', rec: { seed: 5, direction: 'in', speechSec: 6, endBy: 'silence', channels: 2, cid: cid('fsk-bell202', { number: '2125551234' }) }, tracker: { callerId: ['bell202-fsk'] }, parties: { direction: 'in', caller: '2125551234' }, reason: 'silence' },
  { name: 'incoming, DTMF CLIP A…C before the ring', rec: { seed: 6, direction: 'in', speechSec: 7, endBy: 'busy', channels: 1, cid: cid('dtmf-clip-a', { number: '0207654321' }) }, parties: { direction: 'in', caller: '0207654321' }, reason: 'busy' },
  { name: 'incoming, DTMF CLIP …# before the ring, stereo', rec: { seed: 7, direction: 'in', speechSec: 7, endBy: 'silence', channels: 2, cid: cid('dtmf-clip-hash', { number: '0401234567' }) }, parties: { direction: 'in', caller: '0401234567' }, reason: 'silence' },
  { name: 'incoming, DTMF CLIP unavailable (B00C)', rec: { seed: 8, direction: 'in', speechSec: 6, endBy: 'busy', channels: 2, cid: cid('dtmf-clip-a', { absent: 'unavailable' }) }, parties: { direction: 'in', caller: 'unavailable' }, reason: 'busy' },
  { name: 'incoming, DTMF CLIP withheld (D1#)', rec: { seed: 9, direction: 'in', speechSec: 6, endBy: 'silence', channels: 1, cid: cid('dtmf-clip-hash', { absent: 'withheld' }) }, parties: { direction: 'in', caller: 'withheld' }, reason: 'silence' },
  { name: 'incoming, no caller ID sent', rec: { seed: 10, direction: 'in', speechSec: 6, endBy: 'busy', channels: 2 }, parties: { direction: 'in' }, reason: 'busy' },
  { name: 'outgoing, busy, mono', rec: { seed: 11, direction: 'out', speechSec: 8, endBy: 'busy', channels: 1, dialled: '0201234567' }, parties: { direction: 'out', called: '0201234567', digits: '0201234567' }, reason: 'busy' },
  { name: 'outgoing, silence, stereo, one ring-back', rec: { seed: 12, direction: 'out', ringCycles: 1, speechSec: 8, endBy: 'silence', channels: 2, dialled: '0031612345678' }, parties: { direction: 'out', called: '0031612345678', digits: '0031612345678' }, reason: 'silence' },
];

const startMark = (r: LineRecording): number => r.marks.dialToneStartMs ?? r.marks.answerMs;

for (const c of cases) {
  test(`tracker: ${c.name}`, () => {
    const rec = makeLineRecording(c.rec);
    const got = run(rec, tracker(rec.channels, c.tracker));
    // numbers learnt after the call was announced come as call-info
    const info = got.events.filter((e) => e.type === 'call-info') as Extract<TrackerEvent, { type: 'call-info' }>[];
    const types = got.events.filter((e) => e.type !== 'call-info').map((e) => e.type);
    assert.deepEqual(types, ['call-start', 'call-end'], JSON.stringify(got.events));
    const [start, end] = got.events.filter((e) => e.type !== 'call-info') as [Extract<TrackerEvent, { type: 'call-start' }>, Extract<TrackerEvent, { type: 'call-end' }>];
    for (const i of info) assert.equal(i.ref, start.ref);
    const parties = Object.assign({ ...start.parties }, ...info.map((i) => i.parties));
    assert.ok(Math.abs(rel(start.at) - startMark(rec)) <= TOL, `start ${rel(start.at)} vs mark ${startMark(rec)}`);
    assert.ok(Math.abs(rel(end.at) - rec.marks.endMs) <= TOL, `end ${rel(end.at)} vs mark ${rec.marks.endMs}`);
    assert.deepEqual(parties, c.parties);
    assert.equal(start.channels, rec.channels);
    assert.equal(end.ref, start.ref);
    assert.equal(end.reason, c.reason);
    // the audio passed on is exactly [start, end), without gaps or overlaps
    const blocks = got.audio.get(start.ref) ?? [];
    assert.ok(blocks.length > 0, 'the call has audio');
    assert.equal(blocks[0]!.at, start.at);
    let at = start.at;
    for (const b of blocks) {
      assert.ok(Math.abs(b.at - at) < 0.2, `block at ${b.at} follows ${at}`);
      assert.equal(b.channels, rec.channels);
      at = b.at + (b.pcm.length / b.channels) / 8;
    }
    assert.ok(Math.abs(at - end.at) < 0.2, `audio ends at ${at}, call at ${end.at}`);
  });
}

test('tracker: outgoing stereo puts our phone (the caller) on channel 0', () => {
  const rec = makeLineRecording({ seed: 13, direction: 'out', speechSec: 6, endBy: 'busy', channels: 2 });
  const got = run(rec, tracker(2));
  const start = got.events[0] as Extract<TrackerEvent, { type: 'call-start' }>;
  const blocks = got.audio.get(start.ref)!;
  // frame index in the recording of the first passed-on frame
  const f0 = Math.round(rel(start.at) * 8);
  let same = 0;
  let n = 0;
  for (const b of blocks) {
    const base = Math.round(rel(b.at) * 8);
    for (let k = 0; k < b.pcm.length / 2; k++) {
      n++;
      if (b.pcm[2 * k] === rec.pcm[2 * (base + k) + 1] && b.pcm[2 * k + 1] === rec.pcm[2 * (base + k)]) same++;
    }
  }
  assert.ok(f0 >= 0, `start frame ${f0}`);
  assert.equal(same, n, 'every frame is the recording with its channels swapped');
});

test('tracker: incoming audio is passed on sample for sample', () => {
  const rec = makeLineRecording({ seed: 14, direction: 'in', speechSec: 5, endBy: 'busy', channels: 1, cid: cid('fsk-v23', { number: '0201234567' }) });
  const got = run(rec, tracker(1), 441);
  const start = got.events[0] as Extract<TrackerEvent, { type: 'call-start' }>;
  for (const b of got.audio.get(start.ref)!) {
    const base = Math.round(rel(b.at) * 8);
    assert.deepEqual(b.pcm, rec.pcm.slice(base, base + b.pcm.length));
  }
});

test('tracker: a call shorter than minCallSeconds is dropped before it is announced', () => {
  const rec = makeLineRecording({ seed: 15, direction: 'in', speechSec: 2, endBy: 'busy', channels: 1, cid: cid('fsk-v23', { number: '0201234567' }) });
  const got = run(rec, tracker(1, { minCallMs: 5000 }));
  assert.deepEqual(got.events.map((e) => e.type), ['dropped']);
  const d = got.events[0] as Extract<TrackerEvent, { type: 'dropped' }>;
  assert.equal(d.reason, 'too-short');
  assert.equal(d.parties.caller, '0201234567');
  assert.equal(got.audio.size, 0, 'no audio of it leaves the tracker');
  // the same call with a lower minimum is stored
  const kept = run(rec, tracker(1, { minCallMs: 1000 }));
  assert.deepEqual(kept.events.map((e) => e.type), ['call-start', 'call-end']);
});

test('tracker: a call announced early (for the save button) but dated short by its end ends as too-short', () => {
  // 1.5 s of speech, then silence: heard for 3 s (announced), its end found 4 s after the last word
  const rec = makeLineRecording({ seed: 22, direction: 'in', speechSec: 1.5, endBy: 'silence', channels: 1, cid: cid('fsk-v23', { number: '0201234567' }) });
  const got = run(rec, tracker(1, { minCallMs: 3000 }));
  assert.deepEqual(got.events.map((e) => e.type), ['call-start', 'call-end'], JSON.stringify(got.events));
  const [start, end] = got.events as [Extract<TrackerEvent, { type: 'call-start' }>, Extract<TrackerEvent, { type: 'call-end' }>];
  assert.equal(end.reason, 'too-short');
  assert.ok(end.at - start.at < 3000, `${end.at - start.at} ms`);
});

test('tracker: rings nobody answers are a missed call, not a call', () => {
  const full = makeLineRecording({ seed: 16, direction: 'in', ringCycles: 3, speechSec: 4, endBy: 'busy', channels: 1, cid: cid('fsk-v23', { number: '0201234567' }) });
  // cut before the answer and let the line stay quiet
  const cut = Math.round(full.marks.answerMs * 8) - 400;
  const pcm = new Int16Array(cut + 12 * 8000);
  pcm.set(full.pcm.subarray(0, cut));
  for (let i = cut; i < pcm.length; i++) pcm[i] = full.pcm[i % 4000]!; // the quiet line before the first ring
  const got = run({ pcm, channels: 1 }, tracker(1));
  assert.deepEqual(got.events.map((e) => e.type), ['dropped'], JSON.stringify(got.events));
  const d = got.events[0] as Extract<TrackerEvent, { type: 'dropped' }>;
  assert.equal(d.reason, 'missed');
  assert.equal(d.parties.caller, '0201234567');
  assert.ok(Math.abs(rel(d.at) - full.marks.ringStartMs!) <= TOL, `ring at ${rel(d.at)}`);
});

test('tracker: with line sense the board decides start and end; the audio still gives the number', () => {
  const rec = makeLineRecording({ seed: 17, direction: 'in', speechSec: 8, endBy: 'busy', channels: 2, cid: cid('fsk-v23', { number: '0201234567' }) });
  const m = rec.marks;
  const hangUp = m.endMs + 1500; // the staff member hangs up a while after the far end did
  const sense = [
    { at: m.ringStartMs!, state: 'ring' as const },
    { at: m.ringStartMs! + 5000, state: 'ring' as const },
    { at: m.answerMs, state: 'offhook' as const },
    { at: hangUp, state: 'onhook' as const },
  ];
  const got = run(rec, tracker(2, { lineSense: true }), 160, sense);
  const types = got.events.map((e) => e.type);
  assert.deepEqual(types, ['call-start', 'call-end'], JSON.stringify(got.events));
  const [start, end] = got.events as [Extract<TrackerEvent, { type: 'call-start' }>, Extract<TrackerEvent, { type: 'call-end' }>];
  assert.equal(rel(start.at), m.answerMs);
  assert.deepEqual(start.parties, { direction: 'in', caller: '0201234567' });
  // the busy tone before the hang-up is part of the call: the hook decides
  assert.equal(rel(end.at), hangUp);
  assert.equal(end.reason, 'on-hook');

  // an outgoing call by line sense: off-hook without a ring; dialled digits become the called number
  const out = makeLineRecording({ seed: 18, direction: 'out', speechSec: 6, endBy: 'silence', channels: 2, dialled: '0205550000' });
  const offAt = out.marks.dialToneStartMs! - 200;
  const onAt = out.marks.endMs + 2000;
  const g2 = run(out, tracker(2, { lineSense: true }), 160, [{ at: offAt, state: 'offhook' }, { at: onAt, state: 'onhook' }]);
  const s2 = g2.events.find((e) => e.type === 'call-start') as Extract<TrackerEvent, { type: 'call-start' }>;
  const e2 = g2.events.find((e) => e.type === 'call-end') as Extract<TrackerEvent, { type: 'call-end' }>;
  assert.equal(rel(s2.at), offAt);
  assert.equal(rel(e2.at), onAt, 'silence does not end a call the board says is off-hook');
  assert.equal(e2.reason, 'on-hook');
  assert.equal(s2.parties.direction, 'out');
  const parties = { ...s2.parties };
  for (const e of g2.events) if (e.type === 'call-info') Object.assign(parties, e.parties);
  assert.equal(parties.called, '0205550000', 'digits dialled after the call was announced come as call-info');
});

test('tracker: the same input gives the same events, whatever the block size', () => {
  const rec = makeLineRecording({ seed: 19, direction: 'in', speechSec: 6, endBy: 'silence', channels: 1, cid: cid('dtmf-clip-a', { number: '0201234567' }) });
  const strip = (r: Run) => r.events.map((e) => JSON.stringify(e));
  const a = run(rec, tracker(1));
  const b = run(rec, tracker(1));
  assert.deepEqual(strip(a), strip(b));
  // 128 ms blocks: coarser onsets, still within the tolerance of the marks
  const c = run(rec, tracker(1), 1024);
  assert.deepEqual(c.events.map((e) => e.type), ['call-start', 'call-end'], JSON.stringify(c.events));
  const [s0, e0] = c.events as { at: number }[];
  assert.ok(Math.abs(rel(s0!.at) - rec.marks.answerMs) <= TOL, `start ${rel(s0!.at)} vs ${rec.marks.answerMs}`);
  assert.ok(Math.abs(rel(e0!.at) - rec.marks.endMs) <= TOL, `end ${rel(e0!.at)} vs ${rec.marks.endMs}`);
});

test('tracker: a quiet line, and speech without ring or dial tone, give no incoming call from nothing', () => {
  const rec = makeLineRecording({ seed: 20, direction: 'in', speechSec: 6, endBy: 'busy', channels: 1 });
  const quiet = { pcm: rec.pcm.slice(0, 3000).map((_, i) => rec.pcm[i % 3000]!), channels: 1 as const };
  const long = new Int16Array(30 * 8000);
  for (let i = 0; i < long.length; i++) long[i] = quiet.pcm[i % 3000]!;
  assert.deepEqual(run({ pcm: long, channels: 1 }, tracker(1)).events, []);
});

test('tracker: calls back to back on one line are each found, with their numbers and times', () => {
  // an outgoing call ending in busy tone right before an incoming FSK call once cost that call its number
  const recs = [
    makeLineRecording({ seed: 102, direction: 'out', dialled: '0031612345678', speechSec: 10, endBy: 'busy', channels: 1 }),
    makeLineRecording({ seed: 103, direction: 'in', cid: cid('fsk-v23', { number: '0612345678' }), speechSec: 8, endBy: 'busy', channels: 1 }),
    makeLineRecording({ seed: 104, direction: 'in', cid: cid('dtmf-clip-a', { number: '0201234567' }), speechSec: 8, endBy: 'silence', channels: 1 }),
  ];
  const pcm = new Int16Array(recs.reduce((n, r) => n + r.pcm.length, 0));
  const offsets: number[] = [];
  let off = 0;
  for (const r of recs) { offsets.push(off / 8); pcm.set(r.pcm, off); off += r.pcm.length; }
  const got = run({ pcm, channels: 1 }, tracker(1));
  const starts = got.events.filter((e) => e.type === 'call-start') as Extract<TrackerEvent, { type: 'call-start' }>[];
  const ends = got.events.filter((e) => e.type === 'call-end') as Extract<TrackerEvent, { type: 'call-end' }>[];
  assert.equal(starts.length, 3, JSON.stringify(got.events));
  assert.equal(ends.length, 3, JSON.stringify(got.events));
  const numberOf = (s: Extract<TrackerEvent, { type: 'call-start' }>) => {
    const p = Object.assign({ ...s.parties }, ...got.events.filter((e) => e.type === 'call-info' && e.ref === s.ref).map((e) => (e as Extract<TrackerEvent, { type: 'call-info' }>).parties));
    return p.caller ?? p.called;
  };
  assert.deepEqual(starts.map(numberOf), ['0031612345678', '0612345678', '0201234567']);
  recs.forEach((r, i) => {
    assert.ok(Math.abs(rel(starts[i]!.at) - offsets[i]! - startMark(r)) <= TOL, `call ${i} start ${rel(starts[i]!.at) - offsets[i]!} vs ${startMark(r)}`);
    assert.ok(Math.abs(rel(ends[i]!.at) - offsets[i]! - r.marks.endMs) <= TOL, `call ${i} end ${rel(ends[i]!.at) - offsets[i]!} vs ${r.marks.endMs}`);
  });
});

test('tracker: FSK caller ID is read whole whatever the phase of the decode window', () => {
  const rec = makeLineRecording({ seed: 105, direction: 'in', cid: cid('fsk-v23', { number: '0612345678' }), speechSec: 4, endBy: 'busy', channels: 1 });
  const quiet = rec.pcm.subarray(0, 2000); // line noise before the first ring
  for (let phase = 0; phase < 1000; phase += 125) {
    const lead = phase * 8;
    const pcm = new Int16Array(lead + rec.pcm.length);
    for (let i = 0; i < lead; i++) pcm[i] = quiet[i % quiet.length]!;
    pcm.set(rec.pcm, lead);
    const start = run({ pcm, channels: 1 }, tracker(1)).events.find((e) => e.type === 'call-start') as Extract<TrackerEvent, { type: 'call-start' }> | undefined;
    assert.equal(start?.parties.caller, '0612345678', `window phase ${phase} ms`);
  }
});

test('tracker: a speed-dialled number ending in # with no dial tone heard is dialling, not DTMF caller ID', () => {
  const rec = makeLineRecording({ seed: 21, direction: 'out', ringCycles: 1, speechSec: 6, endBy: 'busy', channels: 1, dialled: '0612345678#', dialPauseMs: [60, 80] });
  // Start the capture at the first digit: the dial tone was never heard (a speed-dial key, a tap switched on late).
  const from = Math.floor((rec.marks.digitsStartMs! - 300) * 8) * rec.channels;
  const got = run({ pcm: rec.pcm.subarray(from), channels: rec.channels }, tracker(rec.channels));
  const start = got.events.find((e) => e.type === 'call-start') as Extract<TrackerEvent, { type: 'call-start' }> | undefined;
  assert.ok(start, JSON.stringify(got.events));
  const info = got.events.filter((e) => e.type === 'call-info') as Extract<TrackerEvent, { type: 'call-info' }>[];
  const parties = Object.assign({ ...start.parties }, ...info.map((i) => i.parties));
  assert.equal(parties.direction, 'out');
  assert.equal(parties.caller, undefined, 'the dialled digits were not taken for a caller ID');
  assert.match(parties.called ?? '', /^0612345678#?$/);
});
