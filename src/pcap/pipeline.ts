import { FrameDecoder } from './decode.ts';
import { PassiveTracker, type PassiveOptions } from './passive.ts';
import { PcapReader } from './reader.ts';

/** Capture bytes → frames → UDP/TCP → SIP dialogs and RTP: one pipeline for a file and for tcpdump's stdout. */
export class CapturePipeline {
  readonly reader = new PcapReader();
  readonly decoder = new FrameDecoder();
  readonly tracker: PassiveTracker;

  constructor(opts: PassiveOptions) {
    this.tracker = new PassiveTracker(opts);
  }

  /** Throws RV_ERR_PCAP_FORMAT / RV_ERR_PCAP_DAMAGED when the bytes are not (or no longer) a capture. */
  push(chunk: Buffer): void {
    for (const f of this.reader.push(chunk)) {
      const s = this.decoder.decode(f);
      if (s) this.tracker.push(s);
    }
  }

  /** The capture is over: ends every call still followed. */
  end(): void {
    try {
      this.reader.end();
    } finally {
      this.tracker.finish();
    }
  }

  counts(): Record<string, number | boolean | string | undefined> {
    return { ...this.reader.stats, ...this.decoder.stats, ...this.tracker.stats };
  }
}
