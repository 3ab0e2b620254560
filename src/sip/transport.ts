import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { EventEmitter, once } from 'node:events';
import { RvError } from '../errors.ts';
import { DEFAULT_SIP_LIMITS, parseSip, SipStreamFramer, type SipLimits, type SipMessage } from './message.ts';

export interface SipPeer {
  proto: 'udp' | 'tcp' | 'tls';
  address: string;
  port: number;
  /** sends bytes back the way the message came (same TCP/TLS connection, or UDP to the source) */
  send(buf: Buffer): void;
}

export type SipTransportEvents = {
  message: [SipMessage, SipPeer];
  /** a datagram or stream message that could not be parsed; `raw` is what arrived (bounded by the limits) */
  malformed: [RvError, Buffer, SipPeer];
  /** a TCP or TLS connection closed at once (address not allowed, too many from it) or later (idle, failed handshake) */
  dropped: [{ proto: 'tcp' | 'tls'; address: string; why: 'not-allowed' | 'per-address' | 'idle' | 'handshake' }];
  /** a socket-level error that did not stop the listener */
  error: [Error];
};

export interface SipTlsOptions {
  /** 0 picks a free port */
  port: number;
  cert: Buffer;
  key: Buffer;
  /** CA certificates for mutual TLS: given, the SBC must present a certificate they signed */
  ca?: Buffer;
}

export interface SipTransportOptions {
  host: string;
  /** one port for UDP and TCP; 0 picks a free one (the same for both) */
  port: number;
  udp?: boolean;
  tcp?: boolean;
  /** SIP over TLS on its own port (RFC 3261 §26.2); absent = none */
  tls?: SipTlsOptions;
  limits?: SipLimits;
  /** TCP and TLS connections open at once; more are refused */
  maxConnections?: number;
  /** connections from one address at once; more are closed at accept */
  perAddress?: number;
  /** a connection with no bytes for this long is closed, unless `keepOpen` says it carries a live dialog */
  idleMs?: number;
  /** TLS handshakes that take longer are cut */
  handshakeMs?: number;
  /** whether a connection from this address may be kept (checked at accept, before any byte is read) */
  accept?: (address: string) => boolean;
  keepOpen?: (peer: SipPeer) => boolean;
}

/** SIP over UDP, TCP and TLS (RFC 3261 §18): listeners, messages parsed and framed, bad input reported, never thrown. */
export class SipTransport extends EventEmitter<SipTransportEvents> {
  private udp?: UdpSocket;
  private tcp?: Server;
  private tlsServer?: TlsServer;
  private readonly conns = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  private readonly limits: SipLimits;
  port = 0;
  tlsPort = 0;

  constructor(private readonly o: SipTransportOptions) {
    super();
    this.limits = o.limits ?? DEFAULT_SIP_LIMITS;
  }

  async start(): Promise<void> {
    const wantUdp = this.o.udp ?? true;
    const wantTcp = this.o.tcp ?? true;
    // With port 0, UDP picks a free port and TCP is asked for the same one; retry a few times if TCP has it taken.
    for (let attempt = 0; ; attempt++) {
      try {
        let port = this.o.port;
        if (wantUdp) port = await this.startUdp(port);
        if (wantTcp) port = await this.startTcp(port);
        this.port = port;
        break;
      } catch (e) {
        await this.stop();
        if (this.o.port !== 0 || attempt >= 5) {
          const err = e as NodeJS.ErrnoException;
          throw new RvError('RV_ERR_SIP_LISTEN', `Cannot listen for SIP on ${this.o.host}:${this.o.port} (${err.code ?? err.message}); free the port or set siprec.port to another.`, 500);
        }
      }
    }
    if (this.o.tls) {
      try {
        this.tlsPort = await this.startTls(this.o.tls);
      } catch (e) {
        await this.stop();
        const err = e as NodeJS.ErrnoException;
        throw new RvError('RV_ERR_SIP_LISTEN', `Cannot listen for SIP over TLS on ${this.o.host}:${this.o.tls.port} (${err.code ?? err.message}); free the port or set siprec.tls.port to another.`, 500);
      }
    }
  }

  private async startUdp(port: number): Promise<number> {
    const s = createSocket({ type: this.o.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    s.on('error', (e) => this.emit('error', e));
    s.on('message', (buf, rinfo) => {
      const peer: SipPeer = {
        proto: 'udp', address: rinfo.address, port: rinfo.port,
        send: (b) => s.send(b, rinfo.port, rinfo.address, (err) => { if (err) this.emit('error', err); }),
      };
      this.deliver(buf, peer);
    });
    s.bind(port, this.o.host);
    await once(s, 'listening');
    this.udp = s;
    return s.address().port;
  }

  private async listen(srv: Server, port: number): Promise<number> {
    srv.maxConnections = this.o.maxConnections ?? 256;
    srv.on('error', (e) => this.emit('error', e));
    await new Promise<void>((res, rej) => {
      srv.once('error', rej);
      srv.listen(port, this.o.host, () => { srv.off('error', rej); res(); });
    });
    const a = srv.address();
    return typeof a === 'object' && a ? a.port : port;
  }

  private async startTcp(port: number): Promise<number> {
    const srv = createServer((sock) => { if (this.admit(sock, 'tcp')) this.onConnection(sock, 'tcp'); });
    this.tcp = srv;
    return this.listen(srv, port);
  }

  private async startTls(t: SipTlsOptions): Promise<number> {
    const srv = createTlsServer({
      cert: t.cert, key: t.key, minVersion: 'TLSv1.2', handshakeTimeout: this.o.handshakeMs ?? 10_000,
      ...(t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: true } : {}),
    });
    // The raw connection is screened before the handshake costs the box anything.
    srv.on('connection', (raw: Socket) => { this.admit(raw, 'tls'); });
    srv.on('secureConnection', (sock: TLSSocket) => { if (!sock.destroyed) this.onConnection(sock, 'tls'); });
    srv.on('tlsClientError', (_e, sock) => {
      if (!sock.destroyed) this.emit('dropped', { proto: 'tls', address: norm(sock.remoteAddress), why: 'handshake' });
      sock.destroy();
    });
    this.tlsServer = srv;
    return this.listen(srv, t.port);
  }

  /** Checks a new connection's address and the per-address count; closes it at once when either says no. */
  private admit(sock: Socket, proto: 'tcp' | 'tls'): boolean {
    const address = norm(sock.remoteAddress);
    sock.on('error', () => sock.destroy());
    if (this.o.accept && !this.o.accept(address)) {
      sock.destroy();
      this.emit('dropped', { proto, address, why: 'not-allowed' });
      return false;
    }
    const n = this.perAddress.get(address) ?? 0;
    if (n >= (this.o.perAddress ?? 32)) {
      sock.destroy();
      this.emit('dropped', { proto, address, why: 'per-address' });
      return false;
    }
    this.perAddress.set(address, n + 1);
    this.conns.add(sock);
    sock.once('close', () => {
      this.conns.delete(sock);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left); else this.perAddress.delete(address);
    });
    return true;
  }

  private onConnection(sock: Socket, proto: 'tcp' | 'tls'): void {
    const framer = new SipStreamFramer(this.limits);
    const peer: SipPeer = {
      proto, address: norm(sock.remoteAddress), port: sock.remotePort ?? 0,
      send: (b) => { if (!sock.destroyed) sock.write(b); },
    };
    // The TLS socket's raw connection is already counted (admit); errors on either end close both.
    if (proto === 'tls') sock.on('error', () => sock.destroy());
    sock.setNoDelay(true);
    const idle = this.o.idleMs ?? 120_000;
    sock.setTimeout(idle);
    sock.on('timeout', () => {
      // A connection that carries a live dialog stays: the SRC may say nothing between INVITE and BYE.
      if (this.o.keepOpen?.(peer)) { sock.setTimeout(idle); return; }
      this.emit('dropped', { proto, address: peer.address, why: 'idle' });
      sock.destroy();
    });
    sock.on('data', (chunk) => {
      let msgs: Buffer[];
      try {
        msgs = framer.push(chunk);
      } catch (e) {
        // The stream cannot be re-synchronised after broken framing: report and close (RFC 3261 §18.3).
        this.emit('malformed', e as RvError, chunk.subarray(0, 512), peer);
        sock.destroy();
        return;
      }
      for (const m of msgs) this.deliver(m, peer);
    });
  }

  private deliver(buf: Buffer, peer: SipPeer): void {
    // A lone CRLF (keep-alive) or a STUN-sized blob is not worth a log line.
    if (buf.length <= 4 && buf.every((b) => b === 0x0d || b === 0x0a)) return;
    let msg: SipMessage;
    try {
      msg = parseSip(buf, this.limits);
    } catch (e) {
      this.emit('malformed', e instanceof RvError ? e : new RvError('RV_ERR_SIP_MALFORMED', String(e)), buf.subarray(0, this.limits.maxBytes), peer);
      return;
    }
    this.emit('message', msg, peer);
  }

  /** Connections open now (TCP and TLS, handshaking ones included). */
  get connections(): number { return this.conns.size; }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
    for (const srv of [this.tcp, this.tlsServer]) if (srv) await new Promise<void>((r) => srv.close(() => r()));
    this.tcp = undefined;
    this.tlsServer = undefined;
  }
}

/** An IPv4 address as IPv4 also when it arrives mapped into IPv6. */
function norm(address: string | undefined): string {
  return (address ?? '?').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}
