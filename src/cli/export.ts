import { parseArgs } from 'node:util';
import { resolve, dirname, basename, join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { access, rename, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { randomBytes } from 'node:crypto';
import { prompt } from './prompt.ts';
import { sendControl } from '../control.ts';
import { dataPaths } from '../box.ts';
import { loadConfigFile } from '../config/load.ts';
import { SettingsStore } from '../config/settings.ts';
import { Vault } from '../vault/vault.ts';
import { AuditLog } from '../audit/audit.ts';
import { fsyncDir } from '../archive/durable.ts';
import { RvError } from '../errors.ts';
import { ReadonlyArchive } from '../export/readonly-archive.ts';
import { selectCalls } from '../export/select.ts';
import { writeBundle } from '../export/bundle.ts';
import { EXPORT_LANGS, type ExportLang } from '../export/texts.ts';
import { verifyExport } from '../export/verify.ts';
import { normalizeFingerprint } from '../export/manifest.ts';

export const EXPORT_HELP = `  export         export every recording of a number to a signed zip (asks for a passphrase or the recovery key):
                   ringvault export --number N [--number N2] [--extension X] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                                    --out FILE [--request ID] [--lang nl|en]
  verify-export  check an export zip: every file's hash and the box's signature; names any altered,
                 missing or extra file (exit code 5 when it fails):
                   ringvault verify-export FILE [--box-id ID | --key FINGERPRINT] [--json]
                 --box-id / --key pin the box: take them from the box's About page, not from the zip`;

async function dataDirOf(values: { data?: string; config?: string }): Promise<string> {
  if (values.data) return resolve(values.data);
  if (process.env.RINGVAULT_DATA) return resolve(process.env.RINGVAULT_DATA);
  const file = values.config ?? process.env.RINGVAULT_CONFIG;
  return resolve(file ? (await loadConfigFile(file)).dataDir : './data');
}

const dateArg = (s: string | undefined, flag: string, endOfDay: boolean): number | undefined => {
  if (s === undefined) return undefined;
  const t = /^\d{4}-\d{2}-\d{2}$/.test(s) ? Date.parse(`${s}T${endOfDay ? '23:59:59.999' : '00:00:00'}Z`) : NaN;
  if (Number.isNaN(t)) throw new RvError('RV_ERR_BAD_DATE', `${flag} "${s}" is not a date; use YYYY-MM-DD.`);
  return t;
};

/** Unlocks in this process: a user name and its passphrase, or (empty name) the recovery key. Only admins and managers may export. */
async function unlockHere(vault: Vault, settings: SettingsStore): Promise<string> {
  const name = (await prompt('User name (leave empty to use the recovery key): ')).trim();
  if (!name) {
    const key = await prompt('Recovery key (not shown): ', { secret: true });
    const r = await vault.unlock(key);
    if (r.via !== 'recovery') { vault.lock(); throw new RvError('RV_ERR_WRONG_PASSPHRASE', 'That is not the recovery key; give your user name to use a passphrase.'); }
    return `recovery-key (${userInfo().username})`;
  }
  const user = settings.users.find((u) => u.name === name);
  const pass = await prompt(`Passphrase for ${name} (not shown): `, { secret: true });
  const r = await vault.unlock(pass).catch(() => undefined);
  if (!r || r.via !== 'passphrase' || r.user !== name || !user) {
    vault.lock();
    throw new RvError('RV_ERR_WRONG_PASSPHRASE', 'Wrong user name or passphrase; check Caps Lock and the keyboard layout, and try again.');
  }
  if (user.role !== 'admin' && user.role !== 'manager') {
    vault.lock();
    throw new RvError('RV_ERR_FORBIDDEN', `Your role (${user.role}) may not export recordings; ask a manager or an administrator.`);
  }
  return name;
}

async function audit(dataDir: string, actor: string, detail: Record<string, unknown>): Promise<void> {
  const p = dataPaths(dataDir);
  // A running box owns the audit log; a second writer would break its hash chain.
  const r = await sendControl(p.socket, { cmd: 'audit', actor, action: 'export.cli', detail });
  if (r) {
    if (!r.ok) throw new RvError(r.code as `RV_ERR_${string}`, r.message);
    return;
  }
  const log = new AuditLog(p.audit);
  await log.open();
  try {
    await log.append({ actor: `cli:${actor}`, action: 'export.cli', detail });
  } finally {
    await log.close();
  }
}

async function exportCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      data: { type: 'string' }, config: { type: 'string' }, number: { type: 'string', multiple: true }, extension: { type: 'string' },
      from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, request: { type: 'string' }, lang: { type: 'string' },
    },
  });
  const numbers = values.number ?? [];
  if (numbers.length === 0 && !values.extension) throw new RvError('RV_ERR_USAGE', 'Say whose recordings to export: --number +31612345678 (repeatable) or --extension 21.');
  if (!values.out) throw new RvError('RV_ERR_USAGE', 'Say where to write the zip: --out FILE.zip');
  const lang = (values.lang ?? 'nl') as ExportLang;
  if (!EXPORT_LANGS.includes(lang)) throw new RvError('RV_ERR_USAGE', `--lang must be nl or en, not "${values.lang}".`);
  if (values.request !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(values.request)) throw new RvError('RV_ERR_USAGE', '--request takes a request id (letters, digits, dashes).');
  const range = { from: dateArg(values.from, '--from', false), to: dateArg(values.to, '--to', true) };
  const out = resolve(values.out);
  if (await access(out).then(() => true, () => false)) throw new RvError('RV_ERR_EXISTS', `${out} already exists; choose another --out or remove it first.`);
  const dataDir = await dataDirOf(values);
  const p = dataPaths(dataDir);
  const vault = new Vault(p.vault);
  if (!(await vault.isInitialized())) throw new RvError('RV_ERR_VAULT_UNINITIALIZED', `There is no set-up box in ${dataDir}; give --data or --config.`);
  const settings = new SettingsStore(p.settings);
  await settings.load();
  const actor = await unlockHere(vault, settings);
  try {
    const archive = await new ReadonlyArchive(p.archive, vault).load();
    const ids = await selectCalls(archive.list(), (id) => archive.meta(id), { numbers, ...(values.extension ? { extension: values.extension } : {}) }, range);
    if (ids.length === 0) throw new RvError('RV_ERR_NOTHING_TO_EXPORT', 'No kept recording matches this number and these dates; nothing was written.');
    await audit(dataDir, actor, { calls: ids.length, ids: ids.slice(0, 100), ...(values.request ? { request: values.request } : {}) });
    const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
    let lastPct = -10;
    try {
      const r = await writeBundle(createWriteStream(tmp, { mode: 0o600, flags: 'wx' }), {
        source: archive, signer: vault, callIds: ids, lang, createdAt: Date.now(), ...(values.request ? { request: values.request } : {}),
        onProgress: (pr) => {
          const pct = Math.floor((100 * pr.bytesDone) / pr.bytesTotal);
          if (pct >= lastPct + 10) { lastPct = pct; process.stderr.write(`  ${pct}% (${pr.filesDone}/${pr.filesTotal} files)\n`); }
        },
      });
      await rename(tmp, out);
      await fsyncDir(dirname(out));
      console.log(`Wrote ${out}: ${r.calls} recording(s), ${(r.bytes / 1e6).toFixed(1)} MB, signed by box ${r.boxId}.`);
      console.log(`Check it with: ringvault verify-export ${out}`);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return 0;
  } finally {
    vault.lock();
  }
}

async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, 'box-id': { type: 'string' }, key: { type: 'string' } } });
  if (positionals.length !== 1) throw new RvError('RV_ERR_USAGE', 'usage: ringvault verify-export FILE.zip [--box-id ID | --key FINGERPRINT] [--json]');
  const boxIdPin = values['box-id'] === undefined ? undefined : normalizeFingerprint(values['box-id']);
  const keyPin = values.key === undefined ? undefined : normalizeFingerprint(values.key);
  if (boxIdPin !== undefined && !/^[0-9a-f]{16}$/.test(boxIdPin)) throw new RvError('RV_ERR_USAGE', `--box-id "${values['box-id']}" is not a box id: it has 16 hex digits, as the box's About page shows it.`);
  if (keyPin !== undefined && !/^[0-9a-f]{64}$/.test(keyPin)) throw new RvError('RV_ERR_USAGE', `--key "${values.key}" is not a key fingerprint: it has 64 hex digits (spaces allowed), as the box's About page shows it.`);
  const pin = { ...(boxIdPin ? { boxId: boxIdPin } : {}), ...(keyPin ? { keyFingerprint: keyPin } : {}) };
  const file = resolve(positionals[0]!);
  // On the box, also check that this box made it; elsewhere the signature alone is checked.
  const vault = new Vault(dataPaths(await dataDirOf(values)).vault);
  const boxPublicKey = (await vault.isInitialized().catch(() => false)) ? await vault.signPublicKey() : undefined;
  const r = await verifyExport(file, { ...(boxPublicKey ? { boxPublicKey } : {}), pin });
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return r.ok ? 0 : 5;
  }
  // Printed first and apart: these two lines are what the recipient compares with the box.
  if (r.keyFingerprint) {
    // The id derived from the key itself, not the one the manifest claims (a mismatch is reported below).
    console.log(`Signed by box id:      ${r.keyFingerprint.replaceAll(' ', '').slice(0, 16)}`);
    console.log(`Signing key (SHA-256): ${r.keyFingerprint}\n`);
  }
  if (r.ok) {
    console.log(`${file}: OK — ${r.filesOk} files intact, signature valid, box ${r.boxId}${r.signedByThisBox ? ' (this box)' : ''}${r.pinned ? ' (the box you named)' : ''}${r.request ? `, request ${r.request}` : ''}.`);
    if (!r.pinned && !r.signedByThisBox) {
      console.log('The signature was checked with the key inside the bundle, which anyone could have put there. Compare the box id and key above with the box\'s About page, or check again with --box-id or --key.');
    }
  } else {
    console.log(`${file}: FAILED — ${r.problems.length} problem(s):`);
    for (const pr of r.problems) console.log(`  ${pr.kind.toUpperCase()}${pr.file ? ` ${pr.file}` : ''}: ${pr.message}`);
    console.log('Do not rely on this copy; make a new export from the box.');
  }
  return r.ok ? 0 : 5;
}

export function exportCli(cmd: 'export' | 'verify-export', args: string[]): Promise<number> {
  return cmd === 'export' ? exportCommand(args) : verifyCommand(args);
}
