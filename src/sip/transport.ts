import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { EventEmitter, once } from 'node:events';
import { RvError } from '../errors.ts';
import { DEFAULT_SIP_LIMITS, parseSip, SipStreamFramer, type SipLimits, type SipMessage } from './message.ts';

export interface SipPeer {
  proto: 'udp' | 'tcp';
  address: string;
  port: number;
  /** sends bytes back the way the message came (same TCP connection, or UDP to the source) */
  send(buf: Buffer): void;
}

export type SipTransportEvents = {
  message: [SipMessage, SipPeer];
  /** a datagram or stream message that could not be parsed; `raw` is what arrived (bounded by the limits) */
  malformed: [RvError, Buffer, SipPeer];
  /** a socket-level error that did not stop the listener */
  error: [Error];
};

export interface SipTransportOptions {
  host: string;
  /** one port for UDP and TCP; 0 picks a free one (the same for both) */
  port: number;
  udp?: boolean;
  tcp?: boolean;
  limits?: SipLimits;
  /** TCP connections open at once; more are refused */
  maxConnections?: number;
}

/** SIP over UDP and TCP (RFC 3261 §18): one listener each, messages parsed and framed, bad input reported, never thrown. */
export class SipTransport extends EventEmitter<SipTransportEvents> {
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Set<Socket>();
  private readonly limits: SipLimits;
  port = 0;

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
        return;
      } catch (e) {
        await this.stop();
        if (this.o.port !== 0 || attempt >= 5) {
          const err = e as NodeJS.ErrnoException;
          throw new RvError('RV_ERR_SIP_LISTEN', `Cannot listen for SIP on ${this.o.host}:${this.o.port} (${err.code ?? err.message}); free the port or set siprec.port to another.`, 500);
        }
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

  private async startTcp(port: number): Promise<number> {
    const srv = createServer((sock) => this.onConnection(sock));
    srv.maxConnections = this.o.maxConnections ?? 256;
    srv.on('error', (e) => this.emit('error', e));
    await new Promise<void>((res, rej) => {
      srv.once('error', rej);
      srv.listen(port, this.o.host, () => { srv.off('error', rej); res(); });
    });
    this.tcp = srv;
    const a = srv.address();
    return typeof a === 'object' && a ? a.port : port;
  }

  private onConnection(sock: Socket): void {
    this.conns.add(sock);
    const framer = new SipStreamFramer(this.limits);
    const peer: SipPeer = {
      proto: 'tcp', address: sock.remoteAddress ?? '?', port: sock.remotePort ?? 0,
      send: (b) => { if (!sock.destroyed) sock.write(b); },
    };
    sock.setNoDelay(true);
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
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
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

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
    const t = this.tcp;
    this.tcp = undefined;
    if (t) await new Promise<void>((r) => t.close(() => r()));
  }
}
