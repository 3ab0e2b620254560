import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { RvError } from '../errors.ts';

/** Hands out UDP sockets on even ports of a configured range (RTP on even, RTCP left to the odd one above). */
export class RtpPortPool {
  private readonly used = new Set<number>();
  private next: number;

  constructor(private readonly o: { host: string; min: number; max: number }) {
    this.next = o.min + (o.min % 2);
  }

  get inUse(): number { return this.used.size; }

  /** Throws when the range holds no even port, so the server refuses to start instead of refusing every call. */
  check(): void {
    if (this.o.min + (this.o.min % 2) > this.o.max) throw new RvError('RV_ERR_CONFIG', `The RTP port range ${this.o.min}–${this.o.max} holds no even port; set siprec.rtpPortMin below siprec.rtpPortMax.`, 500);
  }

  /** Binds a socket on the next free port; ports another program holds are skipped. */
  async open(): Promise<{ port: number; socket: Socket }> {
    const first = this.o.min + (this.o.min % 2);
    const span = Math.floor((this.o.max - first) / 2) + 1;
    for (let tried = 0; tried < span; tried++) {
      const port = this.next;
      this.next = port + 2 > this.o.max ? first : port + 2;
      if (this.used.has(port)) continue;
      this.used.add(port);
      const socket = createSocket({ type: this.o.host.includes(':') ? 'udp6' : 'udp4' });
      try {
        socket.bind(port, this.o.host);
        await Promise.race([once(socket, 'listening'), once(socket, 'error').then(([e]) => { throw e; })]);
        return { port, socket };
      } catch {
        this.used.delete(port);
        socket.close();
      }
    }
    throw new RvError('RV_ERR_RTP_PORTS_EXHAUSTED', `No free RTP port in ${this.o.min}–${this.o.max}; widen siprec.rtpPortMin/rtpPortMax or lower the number of recorded calls at once.`, 503);
  }

  release(port: number, socket?: Socket): void {
    if (socket) { try { socket.close(); } catch { /* already closed */ } }
    this.used.delete(port);
  }
}
