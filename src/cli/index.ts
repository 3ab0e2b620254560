import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { prepareDataDir } from '../datadir.ts';
import { userInfo } from 'node:os';
import { prompt } from './prompt.ts';
import { sendControl } from '../control.ts';
import { dataPaths } from '../box.ts';
import { loadConfigFile } from '../config/load.ts';
import { Vault } from '../vault/vault.ts';
import { SettingsStore } from '../config/settings.ts';
import { AuditLog } from '../audit/audit.ts';
import { firstRunSetup } from '../setup.ts';
import { readFile } from 'node:fs/promises';
import { verifyChain } from '../audit/audit.ts';
import { boxIdOf, keyFingerprintOf, normalizeFingerprint } from '../export/manifest.ts';
import { changeOwnPassphrase } from '../passphrase.ts';
import { PassphraseStrength } from '../vault/strength.ts';
import { isRvError, RvError } from '../errors.ts';
import { EXPORT_HELP, exportCli } from './export.ts';
import { ANALYZE_HELP, analyzeCli } from './analyze.ts';
import { importPcapCommand } from './import-pcap.ts';

const HELP = `usage: ringvault <command> [--data DIR | --config FILE]

commands:
  start          run the appliance (same as npm start)
  init           first-run setup in this terminal: admin passphrase, recovery key
  passwd         change your own passphrase (rewraps your keyslot; your web sessions end)
  claim-code     print the one-time code the web setup of a fresh box asks for
  unlock         unlock the vault of the running box (passphrase or recovery key)
  verify-audit   check the audit log's hash chain and its signed checkpoints; names the first edited,
                 removed or reordered entry, a cut tail or a rewritten chain:
                   ringvault verify-audit [--data DIR] | ringvault verify-audit EXPORTED.jsonl --key FINGERPRINT
${EXPORT_HELP}
${ANALYZE_HELP}
  import-pcap    keep the calls in a capture file (see ringvault import-pcap --help)
  help           this text`;

async function dataDirOf(values: { data?: string; config?: string }): Promise<string> {
  if (values.data) return resolve(values.data);
  if (process.env.RINGVAULT_DATA) return resolve(process.env.RINGVAULT_DATA);
  const file = values.config ?? process.env.RINGVAULT_CONFIG;
  return resolve(file ? (await loadConfigFile(file)).dataDir : './data');
}

/** Asks twice; a passphrase too easy to guess is refused with the reason in English and Dutch. */
async function newPassphrase(strength: PassphraseStrength, username: string): Promise<string> {
  strength.warm();
  for (;;) {
    const a = await prompt('New passphrase (four or more unrelated words; not shown): ', { secret: true });
    const v = strength.judge(a, [username]);
    if (!v.ok) { console.log(`${v.reason!.en}\n${v.reason!.nl}`); continue; }
    const b = await prompt('Repeat the passphrase: ', { secret: true });
    if (a === b) return a;
    console.log('The two passphrases differ; try again.');
  }
}

/** Turns a refusal from the running box into an error, with both languages where the box gave them. */
function refused(r: { ok: false; code: string; message: string; localized?: { nl: string; en: string } }): RvError {
  return new RvError(r.code as `RV_ERR_${string}`, r.localized ? `${r.localized.en}\n${r.localized.nl}` : r.message);
}

function showRecoveryKey(key: string): void {
  console.log(`
The box is set up. This is the RECOVERY KEY. It is shown only this once.
Write it down or print it and keep it somewhere safe, away from the box:
with it, and only with it, the recordings can be opened if every passphrase is lost.

    ${key}
`);
}

async function init(dataDir: string): Promise<void> {
  const p = dataPaths(dataDir);
  const strength = new PassphraseStrength();
  const username = (await prompt('Administrator user name [admin]: ')).trim() || 'admin';
  const passphrase = await newPassphrase(strength, username);
  // The local control socket (0600 in the 0700 data folder) is proof enough of being at the box: no claim code.
  const running = await sendControl(p.socket, { cmd: 'setup', username, passphrase });
  if (running) {
    if (!running.ok) throw refused(running);
    showRecoveryKey(String(running.recoveryKey));
    return;
  }
  await prepareDataDir(dataDir);
  const settings = new SettingsStore(p.settings);
  await settings.load();
  const audit = new AuditLog(p.audit);
  await audit.open();
  try {
    const r = await firstRunSetup({ vault: new Vault(p.vault), settings, audit, now: Date.now, strength }, username, passphrase, 'cli');
    showRecoveryKey(r.recoveryKey);
  } finally {
    await audit.close();
  }
}

async function passwd(dataDir: string, user: string | undefined): Promise<void> {
  const p = dataPaths(dataDir);
  const strength = new PassphraseStrength();
  const username = user ?? ((await prompt(`User name [${userInfo().username}]: `)).trim() || userInfo().username);
  const current = await prompt('Current passphrase (not shown): ', { secret: true });
  const next = await newPassphrase(strength, username);
  const running = await sendControl(p.socket, { cmd: 'passwd', username, current, next });
  if (running) {
    if (!running.ok) throw refused(running);
  } else {
    const settings = new SettingsStore(p.settings);
    await settings.load();
    const audit = new AuditLog(p.audit);
    await audit.open();
    try {
      await changeOwnPassphrase({ vault: new Vault(p.vault), settings, audit, strength }, username, current, next);
    } finally {
      await audit.close();
    }
  }
  console.log(`The passphrase of "${username}" is changed; its keyslot is rewrapped${running ? ' and its web sessions have ended' : ''}.`);
}

async function claimCode(dataDir: string): Promise<void> {
  const r = await sendControl(dataPaths(dataDir).socket, { cmd: 'claim-code' });
  if (!r) throw new RvError('RV_ERR_NOT_RUNNING', `No ringvault is running with data in ${dataDir}; start it first (systemctl start ringvault). The code is made at every start.`);
  if (!r.ok) throw refused(r);
  console.log(String(r.claimCode));
}

async function unlock(dataDir: string): Promise<void> {
  const p = dataPaths(dataDir);
  const status = await sendControl(p.socket, { cmd: 'status' });
  if (!status) throw new RvError('RV_ERR_NOT_RUNNING', `No ringvault is running with data in ${dataDir}; start it first (npm start, or systemctl start ringvault).`);
  if (status.ok && status.vault === 'unlocked') { console.log('The vault is already unlocked.'); return; }
  const secret = await prompt('Passphrase or recovery key (not shown): ', { secret: true });
  const r = await sendControl(p.socket, { cmd: 'unlock', secret, actor: userInfo().username });
  if (!r) throw new RvError('RV_ERR_NOT_RUNNING', 'The box stopped while unlocking; start it and try again.');
  if (!r.ok) throw new RvError(r.code as `RV_ERR_${string}`, r.message);
  console.log(`Unlocked (${String(r.via)}).`);
}

/**
 * Checks the audit chain of a data folder (or an exported copy, FILE) and its signed checkpoints.
 * The key is the box's own (vault.json) or, for a copy elsewhere, the one in its checkpoints pinned
 * with --key FINGERPRINT from the box's About page.
 */
async function verifyAudit(dataDir: string, file: string | undefined, keyPin: string | undefined): Promise<number> {
  const p = dataPaths(dataDir);
  const path = file ?? p.audit;
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new RvError('RV_ERR_NO_AUDIT_LOG', `${path} does not exist; give the data folder (--data) or an exported log file.`);
    throw e;
  });
  const vault = new Vault(p.vault);
  let key: Uint8Array | undefined = !file && (await vault.isInitialized().catch(() => false)) ? await vault.signPublicKey() : undefined;
  if (keyPin !== undefined) {
    const want = normalizeFingerprint(keyPin);
    if (!/^[0-9a-f]{64}$/.test(want)) throw new RvError('RV_ERR_USAGE', `--key "${keyPin}" is not a key fingerprint: 64 hex digits, as the box's About page shows it.`);
    const offered = key ? [key] : [...text.matchAll(/"key":"([A-Za-z0-9+/=]{44})"/g)].map((m) => Buffer.from(m[1]!, 'base64'));
    key = offered.find((k) => normalizeFingerprint(keyFingerprintOf(k)) === want);
    if (!key) {
      console.log(`${path}: no checkpoint is signed with the key ${keyPin}: this log was not anchored by that box.`);
      return 4;
    }
  }
  const fileCheckpoints = file ? [] : await new AuditLog(p.audit).readCheckpoints();
  const r = verifyChain(text, fileCheckpoints, key);
  if (key) console.log(`Checked with the signing key of box ${boxIdOf(key)} (SHA-256 ${keyFingerprintOf(key)}).`);
  if (!r.ok) {
    console.log(`${path}: entry ${r.seq}: ${r.reason}. The log was altered after it was written; keep this copy as evidence and compare with a backup.`);
    return 4;
  }
  console.log(`${path}: ${r.entries} entries, chain intact.`);
  if (!r.checkpoints) {
    console.log('No signed checkpoint yet: a cut tail or a rewritten chain could not be seen. The box signs one every hour and at every export.');
  } else {
    const c = r.checkpoints;
    console.log(`${c.count} signed checkpoint(s)${c.signatures === 'checked' ? ', signatures valid' : ' (signatures NOT checked: give --key FINGERPRINT from the box\'s About page)'}; the last, at ${new Date(c.last.at).toISOString()}, covers ${c.last.count} entries.`);
    if (c.unanchored > 0) console.log(`${c.unanchored} entries after the last checkpoint are not signed yet: if entries were cut from the end since then, it cannot be seen here.`);
  }
  return 0;
}

export async function cli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'start') {
    const { main } = await import('../main.ts');
    await main(rest);
    return -1;
  }
  if (cmd === 'export' || cmd === 'verify-export') return exportCli(cmd, rest);
  if (cmd === 'analyze' || cmd === 'line-check') return analyzeCli(cmd, rest);
  if (cmd === 'import-pcap') return importPcapCommand(rest);
  const { values, positionals } = parseArgs({ args: rest, options: { data: { type: 'string' }, config: { type: 'string' }, user: { type: 'string' }, key: { type: 'string' } }, strict: true, allowPositionals: cmd === 'verify-audit' });
  const dataDir = await dataDirOf(values);
  switch (cmd) {
    case 'init': await init(dataDir); return 0;
    case 'unlock': await unlock(dataDir); return 0;
    case 'passwd': await passwd(dataDir, values.user); return 0;
    case 'claim-code': await claimCode(dataDir); return 0;
    case 'verify-audit': return verifyAudit(dataDir, positionals[0] ? resolve(positionals[0]) : undefined, values.key);
    case undefined: case 'help': case '--help': case '-h': console.log(HELP); return 0;
    default: console.error(`ringvault: unknown command "${cmd}"\n\n${HELP}`); return 2;
  }
}

cli(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exit(code); },
  (e) => {
    console.error(`ringvault: ${isRvError(e) ? e.message : (e as Error).message}`);
    process.exit(isRvError(e) && e.code === 'RV_ERR_WRONG_PASSPHRASE' ? 3 : 1);
  },
);
