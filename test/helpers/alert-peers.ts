// Real peers for the alert channels: an SMTP server with STARTTLS and AUTH (smtp-server), an HTTP
// listener that checks the webhook's HMAC, and an MQTT broker (aedes) on TCP. Each records what it got,
// so tests can check the alerts and scan every payload for personal data.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type AddressInfo } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { Aedes } from 'aedes';

/** A self-signed certificate for 127.0.0.1/localhost (openssl), as the box's caFile would name it. */
export function selfSignedCert(): { dir: string; cert: string; key: string; certPem: Buffer; keyPem: Buffer; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rv-cert-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { dir, cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Mail { from: string; to: string[]; user: string | undefined; secure: boolean; raw: string }

/** SMTP on a free port: STARTTLS offered, AUTH (PLAIN/LOGIN) required, only over TLS. */
export async function smtpPeer(o: { user: string; pass: string; cert: Buffer; key: Buffer }): Promise<{ port: number; mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    key: o.key, cert: o.cert, authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: false, logger: false, disableReverseLookup: true,
    onAuth(auth, _session, cb) {
      if (auth.username === o.user && auth.password === o.pass) cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined, secure: session.secure, raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = ((server as unknown as { server: NetServer }).server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface Hook { body: string; json: any; signatureOk: boolean; timestamp: string; delivery: string; receivedAt: number }

/** The webhook receiver: verifies HMAC-SHA256 over the raw body as the README tells receivers to. */
export type WebhookPeer = { port: number; url: string; hooks: Hook[]; tried: Hook[]; status: { code: number }; onHook?: (h: Hook) => void; close(): Promise<void> };
export async function webhookPeer(secret: string, port = 0): Promise<WebhookPeer> {
  const hooks: Hook[] = [];
  const tried: Hook[] = [];
  const status = { code: 200 };
  const peer: WebhookPeer = { port: 0, url: '', hooks, tried, status, close: async () => undefined };
  const server: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-ringvault-signature'] ?? ''));
      const h: Hook = { body, json: JSON.parse(body), signatureOk: got.length === want.length && timingSafeEqual(got, want), timestamp: String(req.headers['x-ringvault-timestamp']), delivery: String(req.headers['x-ringvault-delivery']), receivedAt: Date.now() };
      tried.push(h);
      if (status.code >= 200 && status.code < 300) hooks.push(h);
      peer.onHook?.(h);
      res.writeHead(status.code, { 'content-type': 'text/plain' }).end(status.code === 200 ? 'ok' : 'broken');
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  peer.port = (server.address() as AddressInfo).port;
  peer.url = `http://127.0.0.1:${peer.port}/hooks/ringvault`;
  peer.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return peer;
}

export interface Published { topic: string; payload: string; retain: boolean; clientId: string | null }

/** aedes on a free TCP port, with a user and password; records every publish (wills included). */
export async function mqttPeer(o: { user: string; pass: string }): Promise<{ port: number; url: string; published: Published[]; retained(topic: string): string | undefined; close(): Promise<void> }> {
  const broker = await Aedes.createBroker({
    authenticate(_client, username, password, done) {
      if (username === o.user && password?.toString() === o.pass) done(null, true);
      else done(Object.assign(new Error('bad user name or password'), { returnCode: 4 as const }), null);
    },
  });
  const published: Published[] = [];
  const retainedMap = new Map<string, string>();
  broker.on('publish', (packet, client) => {
    if (packet.topic.startsWith('$SYS')) return;
    const payload = packet.payload.toString();
    published.push({ topic: packet.topic, payload, retain: packet.retain, clientId: client?.id ?? null });
    if (packet.retain) retainedMap.set(packet.topic, payload);
  });
  const server = createNetServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port, url: `mqtt://127.0.0.1:${port}`, published, retained: (t) => retainedMap.get(t),
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port nothing listens on (taken from the OS, then released). */
export async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
