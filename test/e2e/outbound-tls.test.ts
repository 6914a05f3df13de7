// Outbound calls over TLS to a trunk whose certificate a per-trunk `ca` vouches for: a Node TLS UAS of our own
// (Debian's SIPp has no TLS) answers with SDP pointing at an RtpPeer and answers our BYE. Without the `ca` its
// certificate is untrusted: the call fails naming the certificate problem, and no INVITE reaches the peer.
import tls from 'node:tls';
import { copyFileSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findHeaderEnd, parseMessage } from '../../src/signaling/parser.js';
import type { SipRequest } from '../../src/signaling/message.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, recordWhen } from '../helpers/call-api.js';
import { botToneReachesCaller, bridgeRtpAddress, callerToneReachesBot } from '../helpers/carrier.js';
import { CertDir } from '../helpers/certs.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { okTo, sdpOffer } from '../helpers/sip-messages.js';

const TOKEN = 'outbound-tls-token';
const CALL = { to: '+919876543210', from: '+912261234567' };

/** A SIP UAS on TLS: answers each INVITE 200 with SDP at `rtpPort`, takes the ACK, answers BYE 200. */
class TlsUas {
  readonly requests: SipRequest[] = [];
  readonly handshakeErrors: string[] = [];
  readonly #sockets = new Set<tls.TLSSocket>();

  private constructor(
    readonly server: tls.Server,
    readonly port: number,
  ) {}

  static async start(files: { cert: string; key: string }, rtpPort: number): Promise<TlsUas> {
    const server = tls.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const uas = new TlsUas(server, (server.address() as { port: number }).port);
    server.on('tlsClientError', (err) => uas.handshakeErrors.push(err.message));
    server.on('secureConnection', (socket) => uas.#serve(socket, rtpPort));
    return uas;
  }

  #serve(socket: tls.TLSSocket, rtpPort: number): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        while (buffer.length >= 2 && buffer[0] === 0x0d && buffer[1] === 0x0a) buffer = buffer.subarray(2);
        const end = findHeaderEnd(buffer);
        if (!end) return;
        const length = Number(/^(?:Content-Length|l)\s*:\s*(\d+)/im.exec(buffer.subarray(0, end.index).toString('latin1'))?.[1] ?? 0);
        const total = end.index + end.length + length;
        if (buffer.length < total) return;
        const parsed = parseMessage(buffer.subarray(0, total));
        buffer = buffer.subarray(total);
        if (parsed.ok && parsed.message.kind === 'request') this.#answer(socket, parsed.message, rtpPort);
      }
    });
  }

  #answer(socket: tls.TLSSocket, request: SipRequest, rtpPort: number): void {
    this.requests.push(request);
    if (request.method === 'INVITE') {
      const sdp = sdpOffer({ port: rtpPort, formats: [{ pt: 8, rtpmap: 'PCMA/8000' }] });
      const copied = ['Via', 'From', 'Call-ID', 'CSeq'].map((h) => `${h}: ${request.headers.get(h)}`);
      socket.write(
        ['SIP/2.0 200 OK', ...copied, `To: ${request.headers.get('To')};tag=tls-uas`, `Contact: <sip:127.0.0.1:${this.port};transport=tls>`, 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp].join('\r\n'),
      );
    } else if (request.method === 'BYE') {
      socket.write(okTo(request));
    }
  }

  methods(): string[] {
    return this.requests.map((r) => r.method);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const certs = new CertDir();
let files: { cert: string; key: string };
beforeAll(() => {
  certs.selfSigned('trunk-ca');
  certs.selfSigned('other-ca');
  files = certs.signed('localhost', 'trunk-ca');
});
afterAll(() => certs.remove());

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(ca: string | undefined) {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const peer = await RtpPeer.open();
  cleanup.push(() => peer.close());
  const uas = await TlsUas.start(files, peer.port);
  cleanup.push(() => uas.close());
  const bridge = await startTestBridge({
    api: { token: TOKEN },
    trunks: [{ name: 'tls', uri: `sips:localhost:${uas.port}`, fromDomain: 'acme.example.com', ...(ca !== undefined && { ca }) }],
    bot: { defaultUrl: bot.url },
  });
  cleanup.push(() => bridge.stop());
  return { bot, peer, uas, bridge, api: callApiClient(bridge.httpPort, TOKEN) };
}

describe('outbound calls to a TLS trunk', () => {
  it("trusts the trunk's certificate through its `ca`: answered, audio both ways, our BYE answered", async () => {
    const s = await setup(certs.path('trunk-ca.pem'));
    const placed = await s.api('POST', '/v1/calls', CALL);
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const conn = await s.bot.connection(0);
    await conn.waitForEvent('start');
    expect(conn.start!.start).toMatchObject({ call_sid: sid, direction: 'outbound', from: CALL.from, to: CALL.to });
    const invite = s.uas.requests.find((r) => r.method === 'INVITE')!;
    expect(invite.uri).toBe(`sip:${CALL.to}@localhost`);
    expect(invite.headers.get('Via')).toMatch(/^SIP\/2\.0\/TLS /);
    expect(invite.headers.get('From')).toMatch(/^<sip:\+912261234567@acme\.example\.com>;tag=/);

    const call = { conn, caller: s.peer, bridgeRtp: await bridgeRtpAddress(s.peer) };
    await callerToneReachesBot(call, 'PCMA');
    await botToneReachesCaller(call, 'PCMA');

    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
    await conn.waitForEvent('stop');
    const record = await recordWhen(s.api, sid, (r) => r.ended_at !== null, 'end');
    expect(record).toMatchObject({ status: 'completed', sip_status: 200, disconnected_by: 'system' });
    expect(s.uas.methods()).toEqual(['INVITE', 'ACK', 'BYE']);
    await waitForIdle(s.bridge);
  }, 30_000);

  it('fails the call, naming the certificate problem, when the trunk has no `ca` for its certificate', async () => {
    const s = await setup(undefined);
    const placed = await s.api('POST', '/v1/calls', CALL);
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const record = await recordWhen(s.api, sid, (r) => r.ended_at !== null, 'end');
    expect(record.status).toBe('failed');
    expect(record.end_reason).toMatch(/certificate/i);
    expect(s.uas.requests).toEqual([]);
    const conn = await s.bot.connection(0);
    expect(conn.messages.some((m) => m.event === 'start')).toBe(false);
    await waitForIdle(s.bridge);
  }, 30_000);

  it("reads the trunk's ca again on reload (SIGHUP): another CA's file fails the call, the right one then works", async () => {
    const caFile = certs.path('reloaded-ca.pem');
    copyFileSync(certs.path('other-ca.pem'), caFile);
    const s = await setup(caFile);
    const first = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    expect(await recordWhen(s.api, first, (r) => r.ended_at !== null, 'end')).toMatchObject({ status: 'failed', end_reason: expect.stringMatching(/certificate/i) });
    expect(s.uas.requests).toEqual([]);

    copyFileSync(certs.path('trunk-ca.pem'), caFile);
    s.bridge.reloadTls();
    const second = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await s.bot.connection(1);
    await conn.waitForEvent('start');
    expect((await s.api('DELETE', `/v1/calls/${second}`)).status).toBe(202);
    expect(await recordWhen(s.api, second, (r) => r.ended_at !== null, 'end')).toMatchObject({ status: 'completed', sip_status: 200 });
    expect(s.uas.methods()).toEqual(['INVITE', 'ACK', 'BYE']);
    await waitForIdle(s.bridge);
  }, 30_000);
});
