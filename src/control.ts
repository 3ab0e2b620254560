import { createServer, createConnection, type Server } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { isRvError, RvError } from './errors.ts';
import type { Box } from './box.ts';

/** Requests the CLI sends to a running box over its local socket (mode 0600, inside the 0700 data folder). */
export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'unlock'; secret: string; actor: string }
  | { cmd: 'setup'; username: string; passphrase: string }
  /** the local console is trusted like the person at the box: it may read the claim code (issue 10) */
  | { cmd: 'claim-code' }
  | { cmd: 'passwd'; username: string; current: string; next: string }
  /** the CLI export records itself in the running box's audit log, so the hash chain has one writer */
  | { cmd: 'audit'; actor: string; action: 'export.cli'; detail?: Record<string, unknown> };

export type ControlReply = { ok: true; [k: string]: unknown } | { ok: false; code: string; message: string; localized?: { nl: string; en: string } };

export async function serveControl(box: Box, path: string): Promise<Server> {
  await unlink(path).catch(() => undefined);
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 8192) { sock.destroy(); return; }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      void handle(box, line).then((r) => sock.end(JSON.stringify(r) + '\n'));
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
  await chmod(path, 0o600);
  return server;
}

async function handle(box: Box, line: string): Promise<ControlReply> {
  try {
    const req = JSON.parse(line) as ControlRequest;
    switch (req.cmd) {
      case 'status':
        return { ok: true, initialized: await box.initialized(), vault: box.vault.unlocked ? 'unlocked' : 'locked' };
      case 'unlock':
        return { ok: true, ...(await box.unlock(String(req.secret), `cli:${String(req.actor).slice(0, 32)}`)) };
      case 'setup': {
        const r = await box.setup(String(req.username), String(req.passphrase), 'cli');
        return { ok: true, recoveryKey: r.recoveryKey };
      }
      case 'claim-code':
        if (await box.initialized()) return { ok: false, code: 'RV_ERR_ALREADY_SET_UP', message: 'This box is already set up; a claim code is only needed before that.' };
        return { ok: true, claimCode: box.claim?.code };
      case 'passwd':
        await box.changePassphrase(String(req.username), String(req.current), String(req.next));
        return { ok: true };
      case 'audit': {
        if (req.action !== 'export.cli') return { ok: false, code: 'RV_ERR_BAD_REQUEST', message: 'Only a CLI export can be recorded this way.' };
        const e = await box.audit.append({ actor: `cli:${String(req.actor).slice(0, 64)}`, action: req.action, ...(req.detail ? { detail: req.detail } : {}) });
        return { ok: true, seq: e.seq };
      }
      default:
        return { ok: false, code: 'RV_ERR_BAD_REQUEST', message: 'Unknown command.' };
    }
  } catch (e) {
    if (isRvError(e)) return { ok: false, code: e.code, message: e.message, ...(e.localized ? { localized: e.localized } : {}) };
    return { ok: false, code: 'RV_ERR_BAD_REQUEST', message: e instanceof SyntaxError ? 'The request was not JSON.' : 'The box could not do that; see its log.' };
  }
}

/** Sends one request; resolves undefined when no box is listening on the socket. */
export function sendControl(path: string, req: ControlRequest): Promise<ControlReply | undefined> {
  return new Promise((res, rej) => {
    const sock = createConnection(path);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => { buf += d; });
    sock.on('end', () => {
      try { res(JSON.parse(buf) as ControlReply); } catch { rej(new RvError('RV_ERR_CONTROL', 'The running box gave an answer that could not be read; check its log.')); }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? res(undefined) : rej(e)));
  });
}
