// The two signaling backends present the same INVITE as the same IncomingCall: each INVITE goes to the embedded
// stack and to a private drachtio-server (through the drachtio backend), and what the call layer would see of it
// is compared between the two, field by field.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMERS, DrachtioBackend, type EmbeddedSipBackend, type IncomingCall, type SipBackend } from '../../src/signaling/index.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { sdpOffer } from '../helpers/sip-messages.js';
import { startBackend } from '../helpers/uac.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping the backend contract test: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

const log = pino({ level: 'silent' });
let server: DrachtioServer;
let embedded: EmbeddedSipBackend;
let drachtio: DrachtioBackend;
type Transport = 'udp' | 'tcp';

beforeAll(async () => {
  if (skip) return;
  server = await startDrachtioServer();
  drachtio = new DrachtioBackend({ host: server.host, port: server.adminPort, secret: server.secret, allowSource: () => true, log });
  await drachtio.start();
  if (!drachtio.status.up) throw new Error(drachtio.status.reason);
  embedded = await startBackend(DEFAULT_TIMERS);
});

afterAll(async () => {
  await embedded?.stop();
  await drachtio?.stop();
  await server?.stop();
});

interface Shape {
  /** Compact header names (RFC 3261 7.3.3: f, t, i, m, v, c, l). */
  readonly compact?: boolean;
  readonly from: string;
  readonly to: string;
  readonly requestUri: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

function invite(shape: Shape, callId: string, transport: Transport, localPort: number): string {
  const sdp = sdpOffer();
  const name = (full: string, short: string) => (shape.compact ? short : full);
  return [
    `INVITE ${shape.requestUri} SIP/2.0`,
    `${name('Via', 'v')}: SIP/2.0/${transport.toUpperCase()} 127.0.0.1:${localPort};branch=z9hG4bK-${callId.replace(/\W/g, '')};rport`,
    'Max-Forwards: 70',
    `${name('From', 'f')}: ${shape.from}`,
    `${name('To', 't')}: ${shape.to}`,
    `${name('Contact', 'm')}: <sip:carrier@127.0.0.1:${localPort};transport=${transport}>`,
    `${name('Call-ID', 'i')}: ${callId}`,
    'CSeq: 1 INVITE',
    ...shape.headers.map(([n, v]) => `${n}: ${v}`),
    `${name('Content-Type', 'c')}: application/sdp`,
    `${name('Content-Length', 'l')}: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

/** The ACK for a non-2xx final response (RFC 3261 17.1.1.3). */
function ackFor(shape: Shape, response: SipResponse, callId: string, transport: Transport, localPort: number): string {
  return [
    `ACK ${shape.requestUri} SIP/2.0`,
    `Via: SIP/2.0/${transport.toUpperCase()} 127.0.0.1:${localPort};branch=z9hG4bK-${callId.replace(/\W/g, '')};rport`,
    'Max-Forwards: 70',
    `From: ${shape.from}`,
    `To: ${response.headers.get('to')}`,
    `Call-ID: ${callId}`,
    'CSeq: 1 ACK',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Sends the INVITE to one backend's SIP port, takes what the backend presents, rejects it (486) and ACKs that. */
async function through(backend: SipBackend, sip: { host: string; port: number }, shape: Shape, callId: string, transport: Transport): Promise<Record<string, unknown>> {
  const client = await SipTestClient.open(transport, sip);
  try {
    const offered = new Promise<IncomingCall>((resolve, reject) => {
      const got = () => client.raw.map((r) => r.toString().split('\r\n')[0]).join(' | ');
      const timer = setTimeout(() => reject(new Error(`no INVITE from port ${sip.port} for ${callId}; the client got: ${got()}`)), 5000);
      backend.once('invite', (call) => {
        clearTimeout(timer);
        resolve(call);
      });
    });
    client.send(invite(shape, callId, transport, client.localPort));
    const call = await offered;
    const seen = {
      callId: call.callId,
      from: call.from,
      to: call.to,
      requestUri: call.requestUri,
      xHeaders: call.headers.filter(([name]) => /^x-/i.test(name)),
      sdp: call.sdp,
      protocol: call.protocol,
    };
    call.reject(486, 'Busy Here');
    const busy = await client.response(486, 'INVITE');
    client.send(ackFor(shape, busy, callId, transport, client.localPort));
    return seen;
  } finally {
    client.close();
  }
}

const customHeaders: Shape['headers'] = [
  ['x-customer-HEADER', 'salesbot'],
  ['X-UUI', 'abc;def=1'],
  ['X-exotel-callsid', 'cs-1'],
];

const shapes: Array<[string, Shape]> = [
  ['escaped user parts', { from: '<sip:%2B918888888888@carrier.example>;tag=f1', to: '<sip:%2B911234567890@bridge.example>', requestUri: 'sip:%2B911234567890@bridge.example;user=phone', headers: customHeaders }],
  ['a quoted display name with escapes', { from: '"Ann \\"Q\\" O\\\\Brien" <sip:+918888888888@carrier.example>;tag=f2', to: '"Sales desk" <sip:+911234567890@bridge.example>', requestUri: 'sip:+911234567890@bridge.example', headers: customHeaders }],
  ['a token display name', { from: 'Ann Smith <sip:ann@carrier.example>;tag=f3', to: 'Sales <sip:sales@bridge.example>', requestUri: 'sip:sales@bridge.example', headers: customHeaders }],
  ['tel: URIs', { from: '<tel:+918888888888>;tag=f4', to: '<tel:+911234567890>', requestUri: 'sip:+911234567890@bridge.example', headers: customHeaders }],
  ['addr-specs without angle brackets', { from: 'sip:+918888888888@carrier.example;tag=f5', to: 'sip:+911234567890@bridge.example', requestUri: 'sip:+911234567890@bridge.example', headers: customHeaders }],
  ['compact header names', { compact: true, from: '"Ann" <sip:%2B918888888888@carrier.example>;tag=f6', to: '<sip:+911234567890@bridge.example>', requestUri: 'sip:+911234567890@bridge.example', headers: customHeaders }],
];

const cases = shapes.flatMap(([name, shape]) => (['udp', 'tcp'] as const).map((transport) => [name, transport, shape] as const));

describe.skipIf(skip)('embedded and drachtio backends present an INVITE alike', () => {
  it.each(cases)('with %s over %s', async (name, transport, shape) => {
    const callId = `contract-${name.replace(/\W+/g, '-')}-${transport}@carrier.example`;
    const viaEmbedded = await through(embedded, { host: '127.0.0.1', port: embedded.listening[transport]!.port }, shape, callId, transport);
    const viaDrachtio = await through(drachtio, server.sip, shape, callId, transport);
    expect(viaDrachtio).toEqual(viaEmbedded);
  });
});
