import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { Config } from './schema.ts';
import { RvError } from '../errors.ts';
import { checkAnalog } from './analog.ts';
import { checkTrunks } from './trunk.ts';
import { checkNotifications } from '../alerts/config.ts';

/** Validate raw config, naming the source, the key, what was found and what is expected. */
export function parseConfig(raw: unknown, source: string): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RvError('RV_ERR_CONFIG', `${source}: the config must be a JSON object, found ${Array.isArray(raw) ? 'an array' : typeof raw}.`);
  }
  const withDefaults = Value.Default(Config, structuredClone(raw));
  const problems = [...Value.Errors(Config, withDefaults)];
  if (problems.length > 0) {
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const e of problems) {
      const key = e.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
      if (seen.has(key) || lines.length >= 8) continue;
      seen.add(key);
      if (e.message.startsWith('Unexpected property')) {
        lines.push(`  ${key}: unknown key; remove it (check the spelling against the README)`);
        continue;
      }
      const found = e.value === undefined ? 'nothing' : JSON.stringify(e.value);
      const what = e.message.replace(/^Expected /, '');
      lines.push(`  ${key}: found ${found}; expected ${what}${e.schema.title ? ` — ${e.schema.title}` : ''}`);
    }
    throw new RvError('RV_ERR_CONFIG', `${source}: invalid configuration; fix these keys and start again:\n${lines.join('\n')}`);
  }
  const cfg = withDefaults as Config;
  const ids = new Set<string>();
  for (const line of cfg.lines) {
    if (ids.has(line.id)) throw new RvError('RV_ERR_CONFIG', `${source}: lines: the id "${line.id}" is used twice; give every line its own id.`);
    ids.add(line.id);
    const stray = line.keepPurposes.filter((p) => !line.announced.includes(p));
    if (stray.length) throw new RvError('RV_ERR_CONFIG', `${source}: lines.${line.id}.keepPurposes: found ${stray.join(', ')}, which the line does not announce; expected a subset of announced (${line.announced.join(', ')}).`);
  }
  checkAnalog(cfg, source);
  checkSiprec(cfg, source);
  checkTrunks(cfg, source);
  const alerts = checkNotifications(cfg.notifications);
  if (alerts.length) throw new RvError('RV_ERR_CONFIG', `${source}: invalid configuration; fix these keys and start again:\n${alerts.map((l) => `  ${l}`).join('\n')}`);
  return cfg;
}

/** SIPREC lines need to know who may send them calls: an open recording server lets any LAN host place recordings. */
function checkSiprec(cfg: Config, source: string): void {
  const sc = cfg.siprec;
  const line = cfg.lines.find((l) => l.source === 'siprec');
  if (sc.allowAnyone && sc.allowFrom.length) throw new RvError('RV_ERR_CONFIG', `${source}: siprec.allowAnyone is true but siprec.allowFrom lists ${sc.allowFrom.join(', ')}; remove allowAnyone (allowFrom already says who may send SIP) or empty allowFrom.`);
  if (line && !sc.allowFrom.length && !sc.allowAnyone) {
    throw new RvError('RV_ERR_CONFIG', `${source}: siprec.allowFrom is empty, so any host on the network could place recordings on line "${line.id}"; set siprec.allowFrom to the SBC's address (e.g. ["192.168.1.20"]; install.sh --sbc ADDR writes it), or set siprec.allowAnyone: true if every host may send SIPREC on purpose.`);
  }
  if (sc.tls && !!sc.tls.cert !== !!sc.tls.key) throw new RvError('RV_ERR_CONFIG', `${source}: siprec.tls: give both cert and key, or neither (then http.tls's are used).`);
  if (sc.tls && !(sc.tls.cert && sc.tls.key) && !cfg.http.tls) {
    throw new RvError('RV_ERR_CONFIG', `${source}: siprec.tls needs a certificate: set http.tls (the box's certificate; install.sh makes one) or siprec.tls.cert and siprec.tls.key, or set siprec.tls to false.`);
  }
}

export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new RvError('RV_ERR_CONFIG', `${path}: cannot read the config file (${(e as NodeJS.ErrnoException).code}); check the path given with --config.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RvError('RV_ERR_CONFIG', `${path}: not valid JSON (${(e as Error).message}); fix the syntax and start again.`);
  }
  return parseConfig(raw, path);
}

export const defaultConfig = (): Config => parseConfig({}, 'built-in defaults');
