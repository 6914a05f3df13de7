// Our SDP offer for an outbound call: PCMA and PCMU, telephone-event/8000 on 101, 20 ms packets. The answer is read
// with negotiate(), which picks the codec the far end kept.
import net from 'node:net';
import sdpTransform from 'sdp-transform';
import type { LocalMedia } from './negotiate.js';

export const OFFER_DTMF_PAYLOAD_TYPE = 101;

export function buildOffer(local: LocalMedia): string {
  const ipVer = net.isIPv6(local.address) ? 6 : 4;
  return sdpTransform.write({
    version: 0,
    origin: { username: '-', sessionId: local.sessionId, sessionVersion: local.sessionVersion ?? 1, netType: 'IN', ipVer, address: local.address },
    name: 'sip-ws-bridge',
    connection: { version: ipVer, ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: local.port,
        protocol: 'RTP/AVP',
        payloads: `8 0 ${OFFER_DTMF_PAYLOAD_TYPE}`,
        rtp: [
          { payload: 8, codec: 'PCMA', rate: 8000 },
          { payload: 0, codec: 'PCMU', rate: 8000 },
          { payload: OFFER_DTMF_PAYLOAD_TYPE, codec: 'telephone-event', rate: 8000 },
        ],
        fmtp: [{ payload: OFFER_DTMF_PAYLOAD_TYPE, config: '0-15' }],
        ptime: 20,
        direction: 'sendrecv',
      },
    ],
  });
}
