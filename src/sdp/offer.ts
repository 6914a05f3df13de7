// Our SDP offer (outbound calls, and the test caller): PCMA and PCMU, telephone-event/8000 (101 unless asked), 20 ms.
// The answer is read with negotiate(), which picks the codec the far end kept.
import net from 'node:net';
import sdpTransform from 'sdp-transform';
import type { LocalMedia } from './negotiate.js';

export const OFFER_DTMF_PAYLOAD_TYPE = 101;

/** What an offer may change: the telephone-event payload type (Exotel's carrier offers 96) and the s= name. */
export interface OfferShape {
  readonly dtmfPayloadType?: number;
  readonly name?: string;
}

export function buildOffer(local: LocalMedia, { dtmfPayloadType = OFFER_DTMF_PAYLOAD_TYPE, name = 'sip-ws-bridge' }: OfferShape = {}): string {
  const ipVer = net.isIPv6(local.address) ? 6 : 4;
  return sdpTransform.write({
    version: 0,
    origin: { username: '-', sessionId: local.sessionId, sessionVersion: local.sessionVersion ?? 1, netType: 'IN', ipVer, address: local.address },
    name,
    connection: { version: ipVer, ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: local.port,
        protocol: 'RTP/AVP',
        payloads: `8 0 ${dtmfPayloadType}`,
        rtp: [
          { payload: 8, codec: 'PCMA', rate: 8000 },
          { payload: 0, codec: 'PCMU', rate: 8000 },
          { payload: dtmfPayloadType, codec: 'telephone-event', rate: 8000 },
        ],
        fmtp: [{ payload: dtmfPayloadType, config: '0-15' }],
        ptime: 20,
        direction: 'sendrecv',
      },
    ],
  });
}
