// The UAC against bare peers SIPp cannot play: Timer A/B, a retransmitted or forked 2xx, 407 twice, stop() mid-INVITE,
// CANCEL crossed by a 2xx or never answered, Timer D, TCP connection reuse and its source address, a TCP trunk that hangs up before a final
// response, a TLS trunk whose certificate is not trusted.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import type { EmbeddedSipBackend } from '../../src/signaling/index.js';
import { StreamFramer } from '../../src/signaling/framing.js';
import type { SipRequest } from '../../src/signaling/message.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { CertDir } from '../helpers/certs.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { answered, dialRequest, expectIdle, isRequest, outcome, reply, SDP, startBackend, UAC_TIMERS } from '../helpers/uac.js';

let backend: EmbeddedSipBackend | undefined;
let peer: SipTestClient | undefined;

afterEach(async () => {
  if (backend) await expectIdle(backend);
  await backend?.stop();
  peer?.close();
  backend = undefined;
  peer = undefined;
});

async function udpPeer(): Promise<SipTestClient> {
  backend = await startBackend();
  peer = await SipTestClient.open('udp', { host: '127.0.0.1', port: backend.listening.udp!.port });
  return peer;
}

/** A bare TCP trunk that hands each INVITE to `onInvite` with its socket; its sockets and itself closed by `close`. */
async function tcpTrunk(onInvite: (invite: SipRequest, socket: net.Socket) => void): Promise<{ proxy: string; sockets: net.Socket[]; close: () => Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const framer = new StreamFramer(65_536);
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.type !== 'message') continue;
        const parsed = parseMessage(event.data);
        if (parsed.ok && parsed.message.kind === 'request' && parsed.message.method === 'INVITE') onInvite(parsed.message, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    proxy: `sip:127.0.0.1:${(server.address() as net.AddressInfo).port};transport=tcp`,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

it('resends the INVITE over UDP at T1 doubling and fails with 408 at Timer B', async () => {
  const client = await udpPeer();
  const started = Date.now();
  const result = await outcome(backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`)));
  expect(result).toMatchObject({ failed: { status: 408 } });
  expect(Date.now() - started).toBeGreaterThanOrEqual(64 * UAC_TIMERS.t1 - 20);
  // Sent at 0, T1, 3T1, 7T1, 15T1, 31T1, 63T1 (the last may race Timer B at 64T1).
  const invites = client.count(isRequest('INVITE'));
  expect(invites).toBeGreaterThanOrEqual(6);
  expect(invites).toBeLessThanOrEqual(7);
});

it('sends the INVITE once over TCP and still fails with 408 at Timer B', async () => {
  backend = await startBackend();
  let data = '';
  const server = net.createServer((socket) => socket.on('data', (chunk: Buffer) => (data += chunk.toString())));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const result = await outcome(backend.dial(dialRequest(`sip:127.0.0.1:${port};transport=tcp`)));
    expect(result).toMatchObject({ failed: { status: 408 } });
    expect(data.match(/^INVITE /gm)).toHaveLength(1);
  } finally {
    await backend.stop();
    await new Promise((resolve) => server.close(resolve));
  }
});

it('ACKs a retransmitted 200 again with the same ACK', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`));
  const invite = (await client.request('INVITE')) as SipRequest;
  const ok = reply(invite, '200 OK', 'callee', [`Contact: <sip:peer@127.0.0.1:${client.localPort}>`], SDP);
  client.send(ok);
  const [dialog] = await answered(call);
  await client.request('ACK');
  client.send(ok);
  await client.waitFor(isRequest('ACK'), 'the second ACK', 5000, client.received.findIndex(isRequest('ACK')) + 1);
  const acks = client.raw.map((data) => data.toString()).filter((text) => text.startsWith('ACK '));
  expect(acks).toHaveLength(2);
  expect(acks[1]).toBe(acks[0]);
  const hangup = dialog.bye();
  client.send(reply((await client.request('BYE')) as SipRequest, '200 OK', undefined));
  await hangup;
});

it('ACKs both 2xx of a forked INVITE, keeps the first dialog and ends the second with BYE', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:localhost:${client.localPort}`));
  let answers = 0;
  call.on('answered', () => answers++);
  const invite = (await client.request('INVITE')) as SipRequest;
  const contact = `Contact: <sip:peer@127.0.0.1:${client.localPort}>`;
  client.send(reply(invite, '200 OK', 'first', [contact], SDP));
  client.send(reply(invite, '200 OK', 'second', [contact], SDP));
  const [dialog] = await answered(call);
  await client.waitFor(isRequest('ACK', 'first'), 'ACK of the first 2xx');
  await client.waitFor(isRequest('ACK', 'second'), 'ACK of the second 2xx');
  const bye = (await client.waitFor(isRequest('BYE', 'second'), 'BYE of the second dialog')) as SipRequest;
  client.send(reply(bye, '200 OK', undefined));
  expect(client.count(isRequest('BYE', 'first'))).toBe(0);

  const hangup = dialog.bye();
  const ours = (await client.waitFor(isRequest('BYE', 'first'), 'our BYE')) as SipRequest;
  client.send(reply(ours, '200 OK', undefined));
  await hangup;
  expect(answers).toBe(1);
});

it('answers a 407 with Proxy-Authorization once and fails when the same realm challenges again', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`, { credentials: { username: 'bob', password: 'zanzibar' } }));
  const first = (await client.request('INVITE')) as SipRequest;
  const challenge = 'Proxy-Authenticate: Digest realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", opaque=""';
  client.send(reply(first, '407 Proxy Authentication Required', 'p1', [challenge]));
  const second = (await client.waitFor((m) => isRequest('INVITE')(m) && m.cseq.seq === 2, 'the INVITE with credentials')) as SipRequest;
  expect(client.count((m) => isRequest('ACK')(m) && m.cseq.seq === 1)).toBe(1);
  const credentials = second.headers.get('proxy-authorization')!;
  const param = (name: string) => new RegExp(`${name}="?([^",]*)"?`).exec(credentials)?.[1];
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const ha1 = md5('bob:biloxi.com:zanzibar');
  const ha2 = md5(`INVITE:${param('uri')}`);
  expect(param('uri')).toBe(first.uri);
  expect(param('response')).toBe(md5(`${ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:${param('cnonce')}:auth:${ha2}`));
  expect(second.headers.get('authorization')).toBeUndefined();

  client.send(reply(second, '407 Proxy Authentication Required', 'p2', [challenge]));
  expect(await outcome(call)).toMatchObject({ failed: { status: 407, detail: expect.stringContaining('refused') } });
  await client.waitFor((m) => isRequest('ACK')(m) && m.cseq.seq === 2, 'ACK of the second 407');
});

it('stop() abandons an INVITE in progress: failed 503, nothing left behind', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`));
  const result = outcome(call);
  await client.request('INVITE');
  await backend!.stop();
  expect(await result).toMatchObject({ failed: { status: 503 } });
  expect(backend!.stats()).toMatchObject({ dialogs: 0, pendingInvites: 0, transactions: 0 });
  const sent = client.received.length;
  await new Promise((resolve) => setTimeout(resolve, 4 * UAC_TIMERS.t1));
  expect(client.received.length).toBe(sent);
});

it('refuses a TLS trunk whose certificate it cannot verify: failed 503 naming the certificate problem', async () => {
  backend = await startBackend();
  const certs = new CertDir();
  const files = certs.selfSigned('localhost');
  let handshakes = 0;
  const server = tls.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, () => handshakes++);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const result = await outcome(backend.dial(dialRequest(`sip:localhost:${port};transport=tls`)));
    expect(result).toMatchObject({ failed: { status: 503, detail: expect.stringMatching(/self[- ]signed/i) } });
    expect(handshakes).toBe(0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    certs.remove();
  }
});

it('reuses its TCP connection to the trunk across calls, and opens a new one once it dropped', async () => {
  backend = await startBackend();
  const trunk = await tcpTrunk((invite, socket) => socket.write(reply(invite, '486 Busy Here', 'busy')));
  try {
    for (let i = 0; i < 2; i++) expect(await outcome(backend.dial(dialRequest(trunk.proxy)))).toMatchObject({ failed: { status: 486 } });
    expect(trunk.sockets).toHaveLength(1);
    trunk.sockets[0]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await outcome(backend.dial(dialRequest(trunk.proxy)))).toMatchObject({ failed: { status: 486 } });
    expect(trunk.sockets).toHaveLength(2);
  } finally {
    await backend.stop();
    await trunk.close();
  }
});

it('opens its TCP connection to the trunk from the address it listens on, the one its Via names', async () => {
  // 127.0.0.2 is loopback too, but not the address the kernel would pick to reach 127.0.0.1.
  backend = await startBackend(UAC_TIMERS, '127.0.0.2');
  let via = '';
  const trunk = await tcpTrunk((invite, socket) => {
    via = invite.headers.get('via') ?? '';
    socket.write(reply(invite, '486 Busy Here', 'busy'));
  });
  try {
    expect(await outcome(backend.dial(dialRequest(trunk.proxy)))).toMatchObject({ failed: { status: 486 } });
    expect(trunk.sockets.map((socket) => socket.remoteAddress)).toEqual(['127.0.0.2']);
    expect(via).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.2:/);
  } finally {
    await backend.stop();
    await trunk.close();
  }
});

it('ACKs a retransmitted 486 again on the INVITE branch and reports the failure once (Timer D)', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`));
  let failures = 0;
  call.on('failed', () => failures++);
  const invite = (await client.request('INVITE')) as SipRequest;
  const busy = reply(invite, '486 Busy Here', 'busy');
  client.send(busy);
  await client.request('ACK');
  client.send(busy);
  await client.waitFor(isRequest('ACK'), 'the second ACK', 5000, client.received.findIndex(isRequest('ACK')) + 1);
  const acks = client.received.filter(isRequest('ACK'));
  expect(acks.map((ack) => ack.via[0].params.get('branch'))).toEqual([invite.via[0].params.get('branch'), invite.via[0].params.get('branch')]);
  expect(failures).toBe(1);
});

it('ACKs and ends with BYE a 2xx that crosses the CANCEL, reported as failed 487', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`));
  const result = outcome(call);
  const invite = (await client.request('INVITE')) as SipRequest;
  client.send(reply(invite, '180 Ringing', 'callee'));
  call.cancel();
  const cancel = (await client.request('CANCEL')) as SipRequest;
  expect(cancel.via[0].params.get('branch')).toBe(invite.via[0].params.get('branch'));
  client.send(reply(invite, '200 OK', 'callee', [`Contact: <sip:peer@127.0.0.1:${client.localPort}>`], SDP));
  client.send(reply(cancel, '200 OK', 'callee'));
  expect(await result).toMatchObject({ failed: { status: 487 } });
  await client.request('ACK');
  client.send(reply((await client.request('BYE')) as SipRequest, '200 OK', undefined));
});

it('gives the INVITE up 64*T1 after a CANCEL that brought no final response', async () => {
  const client = await udpPeer();
  const call = backend!.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`));
  const invite = (await client.request('INVITE')) as SipRequest;
  client.send(reply(invite, '180 Ringing', 'callee'));
  call.on('progress', () => call.cancel());
  client.send(reply((await client.request('CANCEL')) as SipRequest, '200 OK', 'callee'));
  const started = Date.now();
  expect(await outcome(call)).toMatchObject({ failed: { status: 487, detail: expect.stringContaining('no final response') } });
  expect(Date.now() - started).toBeGreaterThanOrEqual(64 * UAC_TIMERS.t1 - 200);
});

it('fails with 503 at once when the TCP connection closes after a provisional response (no timer would end it)', async () => {
  backend = await startBackend();
  const trunk = await tcpTrunk((invite, socket) => {
    socket.write(reply(invite, '180 Ringing', 'callee'));
    setTimeout(() => socket.destroy(), 50);
  });
  try {
    const started = Date.now();
    const call = backend.dial(dialRequest(trunk.proxy));
    const progress: number[] = [];
    call.on('progress', (status) => progress.push(status));
    const result = await outcome(call);
    expect(progress).toEqual([180]);
    expect(result).toMatchObject({ failed: { status: 503, detail: expect.stringContaining('closed before a final response') } });
    expect(Date.now() - started).toBeLessThan(32 * UAC_TIMERS.t1);
  } finally {
    await backend.stop();
    await trunk.close();
  }
});

it('fails with 503 at once when the TCP connection closes before any response (not 408 at Timer B)', async () => {
  // RFC 3261 timers (T1 500 ms): Timer B would end the INVITE only after 32 s.
  backend = await startBackend({ t1: 500, t2: 4000, t4: 5000 });
  const invites: SipRequest[] = [];
  const trunk = await tcpTrunk((invite, socket) => {
    invites.push(invite);
    socket.destroy();
  });
  try {
    const started = Date.now();
    const result = await outcome(backend.dial(dialRequest(trunk.proxy)));
    expect(invites).toHaveLength(1);
    expect(result).toMatchObject({ failed: { status: 503, detail: expect.stringContaining('closed before a final response') } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(backend.stats()).toMatchObject({ dialogs: 0, pendingInvites: 0, transactions: 0, connections: 0 });
  } finally {
    await backend.stop();
    await trunk.close();
  }
});
