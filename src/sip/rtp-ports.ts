import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { RvError } from '../errors.ts';

export interface RtpPortPair {
  /** the even RTP port */
  port: number;
  socket: Socket;
  /** the odd port above it, bound for RTCP (a sign of life from a paused stream); absent at the very top of the range */
  rtcp?: Socket;
}

/**
 * Hands out UDP sockets on even ports of a configured range (RTP on even, RTCP on the odd one above),
 * picked at random, so a host on the LAN cannot guess a live call's port from the previous one.
 */
export class RtpPortPool {
  private readonly used = new Set<number>();

  constructor(private readonly o: { host: string; min: number; max: number }) {}

  get inUse(): number { return this.used.size; }

  /** Throws when the range holds no even port, so the server refuses to start instead of refusing every call. */
  check(): void {
    if (this.first > this.o.max) throw new RvError('RV_ERR_CONFIG', `The RTP port range ${this.o.min}–${this.o.max} holds no even port; set siprec.rtpPortMin below siprec.rtpPortMax.`, 500);
  }

  private get first(): number { return this.o.min + (this.o.min % 2); }

  /** Binds a socket pair on a random free even port; ports another program holds are skipped. */
  async open(): Promise<RtpPortPair> {
    const span = Math.floor((this.o.max - this.first) / 2) + 1;
    // A few random picks find a free port at once while the range is mostly free; then every free port in random order.
    const tries: number[] = [];
    for (let i = 0; i < Math.min(16, span); i++) tries.push(this.first + 2 * randomInt(span));
    const rest: number[] = [];
    for (let i = 0; i < span; i++) if (!this.used.has(this.first + 2 * i)) rest.push(this.first + 2 * i);
    for (let i = rest.length - 1; i > 0; i--) { const j = randomInt(i + 1); [rest[i], rest[j]] = [rest[j]!, rest[i]!]; }
    for (const port of [...tries, ...rest]) {
      if (this.used.has(port)) continue;
      this.used.add(port);
      const socket = await this.bind(port);
      if (!socket) { this.used.delete(port); continue; }
      if (port + 1 > this.o.max) return { port, socket };
      const rtcp = await this.bind(port + 1);
      if (rtcp) return { port, socket, rtcp };
      socket.close();
      this.used.delete(port);
    }
    throw new RvError('RV_ERR_RTP_PORTS_EXHAUSTED', `No free RTP port in ${this.o.min}–${this.o.max}; widen siprec.rtpPortMin/rtpPortMax or lower the number of recorded calls at once.`, 503);
  }

  private async bind(port: number): Promise<Socket | undefined> {
    const socket = createSocket({ type: this.o.host.includes(':') ? 'udp6' : 'udp4' });
    const ok = await new Promise<boolean>((res) => {
      const fail = () => res(false);
      socket.once('error', fail);
      socket.once('listening', () => { socket.off('error', fail); res(true); });
      socket.bind(port, this.o.host);
    });
    if (ok) return socket;
    try { socket.close(); } catch { /* never bound */ }
    return undefined;
  }

  release(port: number, socket?: Socket, rtcp?: Socket): void {
    for (const s of [socket, rtcp]) if (s) { try { s.close(); } catch { /* already closed */ } }
    this.used.delete(port);
  }
}
