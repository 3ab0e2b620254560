/** IPv4 addresses may arrive as IPv4-mapped IPv6 on a dual-stack socket; compare them in one form. */
export const plainAddr = (a: string): string => a.replace(/^::ffff:/i, '').toLowerCase();

export interface LatchVerdict {
  ok: boolean;
  /** set when this packet latched the stream on its sender */
  latched?: boolean;
  /** set when the packet came from a sender other than the latched or an allowed one (counted) */
  stranger?: boolean;
}

/**
 * Symmetric-RTP latching for one media stream (issue 10): the first valid packet from an address the
 * signalling allows fixes the stream's sender (address and port); later packets from anyone else are
 * dropped and counted. An SSRC change from the latched sender is fine (a transcoder restart, a
 * re-INVITE); a second sender is not, so nobody on the LAN can add audio or digits to a recorded call.
 */
export class MediaLatch {
  private sender?: { addr: string; port: number };
  /** packets dropped because they came from someone other than the latched (or an allowed) sender */
  dropped = 0;
  /** the first stranger that sent to this stream, for the log and the call's notes */
  firstStranger?: string;

  constructor(private readonly allowed: (addr: string) => boolean) {}

  get latchedOn(): string | undefined { return this.sender ? `${this.sender.addr}:${this.sender.port}` : undefined; }

  /** Judges one packet; `valid` is whether it parsed as RTP with a payload type the SDP lists. */
  check(addr: string, port: number, valid: boolean): LatchVerdict {
    const a = plainAddr(addr);
    if (this.sender) {
      if (this.sender.addr === a && this.sender.port === port) return { ok: true };
      return this.drop(a, port);
    }
    if (!this.allowed(a)) return this.drop(a, port);
    // Not RTP, or a payload type the SDP did not give: it does not latch, and is not a stranger's.
    if (!valid) return { ok: false };
    this.sender = { addr: a, port };
    return { ok: true, latched: true };
  }

  /** The signalling moved the media (a re-INVITE with a new address): latch again on the next valid packet. */
  reset(): void { this.sender = undefined; }

  private drop(addr: string, port: number): LatchVerdict {
    this.dropped++;
    this.firstStranger ??= `${addr}:${port}`;
    return { ok: false, stranger: true };
  }
}
