import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/audit.ts';

async function withLog(fn: (path: string, log: AuditLog) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'rv-audit-'));
  const path = join(dir, 'audit.log');
  const log = new AuditLog(path, () => 1_700_000_000_000);
  await log.open();
  try {
    for (let i = 0; i < 5; i++) await log.append({ actor: 'anna', action: 'call.play', target: `call-${i}` });
    await fn(path, log);
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('chain verifies and continues across a reopen', async () => {
  await withLog(async (path, log) => {
    assert.deepEqual(await log.verify(), { ok: true, entries: 5 });
    await log.close();
    const again = new AuditLog(path);
    await again.open();
    const e = await again.append({ actor: 'bob', action: 'login' });
    assert.equal(e.seq, 6);
    assert.deepEqual(await again.verify(), { ok: true, entries: 6 });
    await again.close();
  });
});

const tampers: [string, (lines: string[]) => string[], RegExp][] = [
  ['edited', (l) => { l[2] = l[2]!.replace('call-2', 'call-9'); return l; }, /content was edited/],
  ['removed', (l) => { l.splice(1, 1); return l; }, /removed or reordered/],
  ['reordered', (l) => { [l[1], l[2]] = [l[2]!, l[1]!]; return l; }, /removed or reordered/],
];
for (const [what, change, re] of tampers) {
  test(`an ${what} entry is detected`, async () => {
    await withLog(async (path, log) => {
      const lines = (await readFile(path, 'utf8')).trim().split('\n');
      await writeFile(path, change(lines).join('\n') + '\n');
      const v = await log.verify();
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, re);
    });
  });
}
