// SIP and SDP text shaped like what Exotel sends (../shared/spec/exotel-vsip.md), for tests.
import type { SipRequest, SipResponse } from '../../src/signaling/message.js';

export interface OfferOptions {
  /** An IP, or SIPp's [media_ip] placeholder. */
  readonly address?: string;
  /** A port, or SIPp's [media_port] placeholder when SIPp plays the media itself. */
  readonly port?: number | string;
  /** m-line payload types with their rtpmap lines; default Exotel's PCMA, PCMU and telephone-event 96. */
  readonly formats?: ReadonlyArray<{ readonly pt: number; readonly rtpmap?: string; readonly fmtp?: string }>;
  readonly proto?: string;
}

export const EXOTEL_FORMATS: NonNullable<OfferOptions['formats']> = [
  { pt: 8, rtpmap: 'PCMA/8000' },
  { pt: 0, rtpmap: 'PCMU/8000' },
  { pt: 96, rtpmap: 'telephone-event/8000', fmtp: '0-15' },
];

export function sdpOffer(options: OfferOptions = {}): string {
  const address = options.address ?? '127.0.0.1';
  const formats = options.formats ?? EXOTEL_FORMATS;
  const lines = [
    'v=0',
    `o=root 1683048786 1683048786 IN IP4 ${address}`,
    's=Exotel',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${options.port ?? 37456} ${options.proto ?? 'RTP/AVP'} ${formats.map((f) => f.pt).join(' ')}`,
    ...formats.flatMap((f) => [...(f.rtpmap ? [`a=rtpmap:${f.pt} ${f.rtpmap}`] : []), ...(f.fmtp ? [`a=fmtp:${f.pt} ${f.fmtp}`] : [])]),
    'a=sendrecv',
    'a=ptime:20',
  ];
  return `${lines.join('\r\n')}\r\n`;
}

export interface InviteOptions {
  readonly callId: string;
  readonly transport?: 'UDP' | 'TCP' | 'TLS';
  readonly host?: string;
  readonly port?: number;
  readonly localPort?: number;
  readonly branch?: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly sdp?: string;
  /** X-Exotel-CallSid, the call's call_sid (default `call-sid-1`). */
  readonly callSid?: string;
}

export function exotelInvite(options: InviteOptions): Buffer {
  const transport = options.transport ?? 'TCP';
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 5070;
  const localPort = options.localPort ?? 5060;
  const body = options.sdp ?? sdpOffer();
  const lines = [
    `INVITE sip:+911234567890@${host}:${port};transport=${transport.toLowerCase()} SIP/2.0`,
    `Via: SIP/2.0/${transport} 127.0.0.1:${localPort};branch=${options.branch ?? 'z9hG4bK-exo-1'};rport`,
    'Max-Forwards: 70',
    'From: "+918888888888" <sip:+918888888888@exotelt.pstn.exotel.com>;tag=exo-1',
    `To: <sip:+911234567890@${host}>`,
    `Contact: <sip:+918888888888@127.0.0.1:${localPort};transport=${transport.toLowerCase()}>`,
    `Call-ID: ${options.callId}`,
    'CSeq: 1 INVITE',
    `X-Exotel-CallSid: ${options.callSid ?? 'call-sid-1'}`,
    'X-Exotel-AccountSid: account-sid-1',
    ...(options.headers ?? []).map(([n, v]) => `${n}: ${v}`),
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return Buffer.from(lines.join('\r\n'));
}

/** Where a bare test client sends from. */
export interface ClientAddress {
  readonly transport: string;
  readonly localPort: number;
}

/** A request inside the dialog that the bridge's 2xx `ok` set up: ACK, BYE, INFO, re-INVITE. */
export function inDialogRequest(method: string, client: ClientAddress, ok: SipResponse, cseq: number, body = ''): string {
  return [
    `${method} sip:bridge@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${client.transport.toUpperCase()} 127.0.0.1:${client.localPort};branch=z9hG4bK-${method}-${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: ${ok.headers.get('from')}`,
    `To: ${ok.headers.get('to')}`,
    `Call-ID: ${ok.callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:carrier@127.0.0.1:${client.localPort}>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** A 200 OK to a request the bridge sent (its BYE), copying the fields RFC 3261 8.2.6.2 copies. */
export function okTo(request: SipRequest): string {
  return ['SIP/2.0 200 OK', ...['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${request.headers.get(h)}`), 'Content-Length: 0', '', ''].join('\r\n');
}
