// The caller's INVITE, shaped like Exotel's (../shared/spec/exotel-vsip.md), as a dial request for the embedded UAC.
import net from 'node:net';
import sdpTransform from 'sdp-transform';
import { headerKey, type HeaderFields } from '../signaling/message.js';
import type { DialRequest } from '../signaling/types.js';
import type { CallTarget } from './target.js';

export const USER_AGENT = 'sip-ws-bridge test-call';
/** Exotel's domain in the From of the calls it hands over. */
const CARRIER_DOMAIN = 'exotelt.pstn.exotel.com';
const DTMF_PAYLOAD_TYPE = 96;

const hostForUri = (host: string) => (net.isIPv6(host) ? `[${host}]` : host);

/**
 * The INVITE of a call from `callingNumber`: From `"NUMBER" <sip:NUMBER@exotelt.pstn.exotel.com>`, To the called
 * number at the bridge's host (no port, as Exotel writes it), Contact with the calling number, our User-Agent.
 */
export function dialRequest(target: CallTarget, callingNumber: string, sdp: string, headers: HeaderFields): DialRequest {
  const host = hostForUri(target.host);
  return {
    uri: target.uri,
    proxy: `sip:${host}:${target.port};transport=${target.transport}`,
    to: `sip:${target.user === undefined ? '' : `${target.user}@`}${host}`,
    from: { user: callingNumber, host: CARRIER_DOMAIN, displayName: callingNumber },
    contactUser: callingNumber,
    userAgent: USER_AGENT,
    headers,
    sdp,
  };
}

/** `headers` after `defaults`, a custom header replacing the default of the same name. */
export function withCustomHeaders(defaults: HeaderFields, custom: HeaderFields): HeaderFields {
  const replaced = new Set(custom.map(([name]) => headerKey(name)));
  return [...defaults.filter(([name]) => !replaced.has(headerKey(name))), ...custom];
}

/** Exotel's offer: PCMA, PCMU and telephone-event on 96, 20 ms packets. */
export function sdpOffer(address: string, rtpPort: number): string {
  const ipVer = net.isIPv6(address) ? 6 : 4;
  const sessionId = Math.floor(Date.now() / 1000);
  return sdpTransform.write({
    version: 0,
    origin: { username: '-', sessionId, sessionVersion: sessionId, netType: 'IN', ipVer, address },
    name: 'test-call',
    connection: { version: ipVer, ip: address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: rtpPort,
        protocol: 'RTP/AVP',
        payloads: `8 0 ${DTMF_PAYLOAD_TYPE}`,
        rtp: [
          { payload: 8, codec: 'PCMA', rate: 8000 },
          { payload: 0, codec: 'PCMU', rate: 8000 },
          { payload: DTMF_PAYLOAD_TYPE, codec: 'telephone-event', rate: 8000 },
        ],
        fmtp: [{ payload: DTMF_PAYLOAD_TYPE, config: '0-15' }],
        direction: 'sendrecv',
        ptime: 20,
      },
    ],
  });
}
