import { randomBytes } from 'node:crypto';
import { isSrtpSuite, parseInlineKey, SrtpReceiver, type SrtpSuite } from '../rtp/srtp.ts';
import type { SdpStream } from './sdp.ts';

/** A stream's SRTP as agreed in the offer/answer (RFC 4568 SDES). */
export interface StreamSrtp {
  receiver: SrtpReceiver;
  suite: SrtpSuite;
  tag: number;
  protocol: string;
  /** the SRC's key parameters (to notice rekeying) */
  offerKey: string;
  /** our own key for the answer (RFC 4568 asks for one; the recorder never sends media) */
  answerKey: string;
}

/**
 * SRTP for an offered stream: the first a=crypto line with a suite, key and session parameters this box
 * supports. `srtp` is absent for plain RTP; a refusal names why SRTP was asked for but cannot be done.
 */
export function chooseSrtp(offer: SdpStream): { srtp?: StreamSrtp } | { refusal: string } {
  const savp = /^RTP\/SAVPF?$/i.test(offer.protocol);
  if (!savp && !/^RTP\/AVPF?$/i.test(offer.protocol)) return { refusal: `the ${offer.protocol} transport is not supported (RTP/AVP or RTP/SAVP with SDES keys)` };
  for (const c of offer.crypto) {
    if (!isSrtpSuite(c.suite)) continue;
    // Session parameters that change the transform (key derivation rate, unencrypted or unauthenticated SRTP) are not supported.
    if (c.sessionParams && /\S/.test(c.sessionParams)) continue;
    const key = parseInlineKey(c.suite, c.keyParams);
    if (!key) continue;
    return {
      srtp: {
        receiver: new SrtpReceiver(key), suite: c.suite, tag: c.tag, protocol: offer.protocol,
        offerKey: c.keyParams, answerKey: randomBytes(30).toString('base64'),
      },
    };
  }
  // Best-effort SRTP (a=crypto on RTP/AVP) falls back to plain RTP; RTP/SAVP without a usable key cannot be recorded.
  if (!savp) return {};
  return { refusal: `SRTP offered without an SDES key the box supports (a=crypto AES_CM_128_HMAC_SHA1_80 or _32 with an inline key); nothing could be decrypted` };
}
