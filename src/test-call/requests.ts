// The caller's SIP messages, shaped like Exotel's (../shared/spec/exotel-vsip.md): INVITE with a G.711 offer, ACK, BYE, CANCEL.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import sdpTransform from 'sdp-transform';
import {
  headerKey,
  type HeaderFields,
  type OutgoingRequest,
  type OutgoingResponse,
  type SipRequest,
  type SipResponse,
} from '../signaling/message.js';
import { contactUri } from '../signaling/parser.js';
import { newTag } from '../signaling/transaction.js';
import type { CallTarget } from './target.js';

const USER_AGENT = 'sip-ws-bridge test-call';
/** Exotel's domain in the From of the calls it hands over. */
const CARRIER_DOMAIN = 'exotelt.pstn.exotel.com';
const DTMF_PAYLOAD_TYPE = 96;

/** What every request of the call repeats. */
export interface CallLeg {
  readonly target: CallTarget;
  /** Our SIP socket, for Via and Contact. */
  readonly local: { readonly address: string; readonly port: number };
  readonly callId: string;
  /** From header value, with our tag. */
  readonly from: string;
  /** Our Contact header value. */
  readonly contact: string;
}

/** The dialog a 2xx set up, from the caller's side (RFC 3261 12.1.2). */
export interface CallerDialog {
  /** To header value with the bridge's tag. */
  readonly to: string;
  /** Request-URI of requests in the dialog: the bridge's Contact. */
  readonly remoteTarget: string;
  /** Route headers for requests in the dialog: the Record-Route of the 2xx, reversed. */
  readonly routeSet: readonly string[];
}

function hostPort(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

export function newLeg(target: CallTarget, local: CallLeg['local'], callingNumber: string): CallLeg {
  const transport = target.transport;
  return {
    target,
    local,
    callId: `${randomBytes(8).toString('hex')}@${local.address}`,
    from: `"${callingNumber}" <sip:${callingNumber}@${CARRIER_DOMAIN}>;tag=${newTag()}`,
    contact: `<sip:${callingNumber}@${hostPort(local.address, local.port)};transport=${transport}>`,
  };
}

function via(leg: CallLeg, branch: string): string {
  return `SIP/2.0/${leg.target.transport.toUpperCase()} ${hostPort(leg.local.address, leg.local.port)};branch=${branch};rport`;
}

/** The INVITE's To: the called number at the bridge's host, as Exotel writes it (no port, no tag). */
function calledParty(target: CallTarget): string {
  const host = net.isIPv6(target.host) ? `[${target.host}]` : target.host;
  return `<sip:${target.user === undefined ? '' : `${target.user}@`}${host}>`;
}

/** `headers` after `defaults`, a custom header replacing the default of the same name. */
export function withCustomHeaders(defaults: HeaderFields, custom: HeaderFields): HeaderFields {
  const replaced = new Set(custom.map(([name]) => headerKey(name)));
  return [...defaults.filter(([name]) => !replaced.has(headerKey(name))), ...custom];
}

export function inviteRequest(leg: CallLeg, branch: string, sdp: string, headers: HeaderFields): OutgoingRequest {
  return {
    method: 'INVITE',
    uri: leg.target.uri,
    headers: [
      ['Via', via(leg, branch)],
      ['Max-Forwards', '70'],
      ['From', leg.from],
      ['To', calledParty(leg.target)],
      ['Contact', leg.contact],
      ['Call-ID', leg.callId],
      ['CSeq', '1 INVITE'],
      ['User-Agent', USER_AGENT],
      ...headers,
      ['Content-Type', 'application/sdp'],
    ],
    body: sdp,
  };
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

export function dialogOf(response: SipResponse, leg: CallLeg): CallerDialog {
  return {
    to: response.headers.get('to')!,
    remoteTarget: contactUri(response) ?? leg.target.uri,
    routeSet: response.headers.getList('record-route').reverse(),
  };
}

/** ACK, BYE: requests inside the dialog, each its own transaction (the ACK of a 2xx included). */
export function inDialogRequest(method: 'ACK' | 'BYE', leg: CallLeg, dialog: CallerDialog, branch: string, seq: number): OutgoingRequest {
  return {
    method,
    uri: dialog.remoteTarget,
    headers: [
      ['Via', via(leg, branch)],
      ['Max-Forwards', '70'],
      ...dialog.routeSet.map((route) => ['Route', route] as const),
      ['From', leg.from],
      ['To', dialog.to],
      ['Call-ID', leg.callId],
      ['CSeq', `${seq} ${method}`],
      ['User-Agent', USER_AGENT],
    ],
  };
}

const copied = (request: OutgoingRequest, names: readonly string[]): HeaderFields =>
  request.headers.filter(([name]) => names.includes(headerKey(name)));

/** The ACK of a failure response belongs to the INVITE's transaction: same branch, the response's To (RFC 3261 17.1.1.3). */
export function ackOfFailure(invite: OutgoingRequest, response: SipResponse): OutgoingRequest {
  return {
    method: 'ACK',
    uri: invite.uri,
    headers: [...copied(invite, ['via', 'max-forwards', 'route', 'from', 'call-id']), ['To', response.headers.get('to')!], ['CSeq', '1 ACK']],
  };
}

/** CANCEL copies the INVITE's Request-URI, Via, From, To and Call-ID (RFC 3261 9.1). */
export function cancelOf(invite: OutgoingRequest): OutgoingRequest {
  return {
    method: 'CANCEL',
    uri: invite.uri,
    headers: [...copied(invite, ['via', 'max-forwards', 'route', 'from', 'to', 'call-id']), ['CSeq', '1 CANCEL']],
  };
}

/** A response to a request from the bridge, copying what RFC 3261 8.2.6.2 says to copy. */
export function responseTo(request: SipRequest, status: number, reason: string, headers: HeaderFields = []): OutgoingResponse {
  return {
    status,
    reason,
    headers: [
      ...request.headers.getList('via').map((value) => ['Via', value] as const),
      ...(['From', 'To', 'Call-ID', 'CSeq'] as const).map((name) => [name, request.headers.get(name)!] as const),
      ['User-Agent', USER_AGENT],
      ...headers,
    ],
  };
}
