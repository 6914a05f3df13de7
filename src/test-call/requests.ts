// The caller's INVITE, shaped like Exotel's (../shared/spec/exotel-vsip.md), as a dial request for the embedded UAC.
import net from 'node:net';
import { buildOffer } from '../sdp/index.js';
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
  const sessionId = Math.floor(Date.now() / 1000);
  return buildOffer({ address, port: rtpPort, sessionId, sessionVersion: sessionId }, { dtmfPayloadType: DTMF_PAYLOAD_TYPE, name: 'test-call' });
}
