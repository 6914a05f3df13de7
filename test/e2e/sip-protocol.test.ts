// RFC 3261 behaviour on the wire, driven by a bare SIP peer: OPTIONS, 405, 400, 481, 2xx retransmission,
// re-INVITE, and a whole call over TLS with a certificate made by the test.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { dominantFrequency, pcm16leToSamples, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { CertDir } from '../helpers/certs.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, okTo, sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let bridge: Bridge;
const certs = new CertDir();

beforeAll(async () => {
  const tls = certs.selfSigned('localhost');
  bot = await TestBot.start();
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url },
    sip: { tls: { host: '127.0.0.1', port: 0, ...tls } },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  certs.remove();
});

const udp = () => ({ host: '127.0.0.1', port: bridge.sip.udp!.port });
const tcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });

function request(method: string, client: SipTestClient, extra: string[] = [], callId = `${method}-${Math.random()}`): string {
  const transport = client.transport.toUpperCase();
  return [
    `${method} sip:bridge@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${transport} 127.0.0.1:${client.localPort};branch=z9hG4bK-${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    'From: <sip:carrier@127.0.0.1>;tag=c1',
    'To: <sip:bridge@127.0.0.1>',
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('out-of-dialog requests', () => {
  it('answers OPTIONS with 200, Allow, and the Via stamped with rport', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      client.send(request('OPTIONS', client));
      const ok = await client.response(200, 'OPTIONS');
      expect(ok.headers.get('allow')).toBe('INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE');
      expect(ok.via[0].params.get('rport')).toBe(String(client.localPort));
    } finally {
      client.close();
    }
  });

  it('answers an unknown method with 405 and Allow, and BYE for no dialog with 481', async () => {
    const client = await SipTestClient.open('tcp', tcp());
    try {
      client.send(request('SUBSCRIBE', client));
      const refused = await client.response(405, 'SUBSCRIBE');
      expect(refused.headers.get('allow')).toContain('INVITE');
      client.send(request('BYE', client).replace('To: <sip:bridge@127.0.0.1>', 'To: <sip:bridge@127.0.0.1>;tag=nope'));
      await client.response(481, 'BYE');
    } finally {
      client.close();
    }
  });

  it('answers a malformed request with 400 naming the problem, and an INVITE without Contact with 400', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      client.send(request('OPTIONS', client).replace(/Call-ID: .*\r\n/, ''));
      const bad = await client.waitForRaw(/^SIP\/2\.0 400 Bad Request\r\n/);
      expect(bad).toMatch(/\r\nWarning: 399 sip-ws-bridge "missing Call-ID header"\r\n/);
      expect(bad).toMatch(/\r\nCSeq: 1 OPTIONS\r\n/);
      const body = sdpOffer();
      client.send(request('INVITE', client, ['Content-Type: application/sdp']).replace('Content-Length: 0\r\n\r\n', `Content-Length: ${body.length}\r\n\r\n${body}`));
      const noContact = await client.response(400, 'INVITE');
      expect(noContact.headers.get('warning')).toContain('missing Contact header');
    } finally {
      client.close();
    }
  });

  it('answers 400 and closes a TCP connection that sends unframeable bytes, and keeps serving others', async () => {
    const garbage = net.connect(tcp());
    await new Promise((resolve) => garbage.once('connect', resolve));
    let received = '';
    garbage.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => garbage.once('close', resolve));
    garbage.write('HELLO sip:x SIP/2.0\r\nVia: nothing\r\n\r\n');
    await closed;
    expect(received).toMatch(/^SIP\/2\.0 400 /);
    const client = await SipTestClient.open('tcp', tcp());
    try {
      client.send(request('OPTIONS', client));
      await client.response(200, 'OPTIONS');
    } finally {
      client.close();
    }
  });
});

describe('INVITE transactions and dialogs', () => {
  it('retransmits 200 OK over UDP until the ACK, then answers a re-INVITE with the same SDP', async () => {
    const client = await SipTestClient.open('udp', udp());
    const caller = await RtpPeer.open();
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'retrans-1', transport: 'UDP', port: udp().port, localPort: client.localPort, sdp: sdpOffer({ port: caller.port }) }));
      await client.response(100, 'INVITE');
      const ok = await client.response(200, 'INVITE');
      await new Promise((r) => setTimeout(r, 450));
      const copies = client.count((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'INVITE');
      expect(copies).toBeGreaterThanOrEqual(3);
      expect(client.raw.filter((raw) => raw.toString().startsWith('SIP/2.0 200')).every((raw, _i, all) => raw.equals(all[0]!))).toBe(true);
      client.send(inDialogRequest('ACK', client, ok, ok.cseq.seq));
      await new Promise((r) => setTimeout(r, 500));
      expect(client.count((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'INVITE')).toBeLessThanOrEqual(copies + 1);

      const reinviteAt = client.received.length;
      client.send(inDialogRequest('INVITE', client, ok, 2, sdpOffer({ port: caller.port })));
      const ok2 = (await client.waitFor((m) => m.kind === 'response' && m.status === 200 && m.cseq.seq === 2, 're-INVITE 200', 5000, reinviteAt)) as SipResponse;
      expect(ok2.body.toString()).toBe(ok.body.toString());
      client.send(inDialogRequest('ACK', client, ok2, 2));

      client.send(inDialogRequest('BYE', client, ok, 3));
      await client.waitFor((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'BYE', '200 to BYE');
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('stop');
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
    }
  });

  it('ends the call with BYE when no ACK arrives within 64*T1, and stops the bot stream', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'no-ack-1', transport: 'UDP', port: udp().port, localPort: client.localPort }));
      await client.response(200, 'INVITE');
      const bye = await client.request('BYE', 10_000);
      expect(bye.headers.get('to')).toContain('tag=exo-1');
      client.send(okTo(bye));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('stop');
      expect(conn.stop!.stop.reason).toBe('stopped');
      await waitForIdle(bridge);
    } finally {
      client.close();
    }
  });
});

describe('BYE from the bridge', () => {
  it('follows the route set and the dialog identifiers when the bot hangs up', async () => {
    const client = await SipTestClient.open('tcp', tcp());
    try {
      const botIndex = bot.connections.length;
      const invite = exotelInvite({
        callId: 'rr-1',
        port: tcp().port,
        localPort: client.localPort,
        headers: [['Record-Route', '<sip:edge2.example.com;lr>, <sip:edge1.example.com;transport=tcp;lr>']],
      });
      client.send(invite);
      const ok = await client.response(200, 'INVITE');
      expect(ok.headers.getList('record-route')).toEqual(['<sip:edge2.example.com;lr>', '<sip:edge1.example.com;transport=tcp;lr>']);
      client.send(inDialogRequest('ACK', client, ok, ok.cseq.seq));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.ws.close();
      const bye = await client.request('BYE');
      expect(bye.uri).toBe(`sip:+918888888888@127.0.0.1:${client.localPort};transport=tcp`);
      expect(bye.headers.getList('route')).toEqual(['<sip:edge2.example.com;lr>', '<sip:edge1.example.com;transport=tcp;lr>']);
      expect(bye.from.params.get('tag')).toBe(ok.to.params.get('tag'));
      expect(bye.to.params.get('tag')).toBe('exo-1');
      expect(bye.callId).toBe('rr-1');
      expect(bye.cseq.method).toBe('BYE');
      client.send(okTo(bye));
      await waitForIdle(bridge);
    } finally {
      client.close();
    }
  });
});

describe('a call over TLS', () => {
  it('carries audio both ways and ends on the caller BYE with stop', async () => {
    const tls = { host: '127.0.0.1', port: bridge.sip.tls!.port };
    const client = await SipTestClient.open('tls', tls);
    const caller = await RtpPeer.open();
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'tls-1', transport: 'TLS', port: tls.port, localPort: client.localPort, sdp: sdpOffer({ port: caller.port }), headers: [['X-Customer-Header', 'tls-bot']] }));
      const ok = await client.response(200, 'INVITE');
      expect(ok.headers.get('contact')).toMatch(/;transport=tls>$/);
      client.send(inDialogRequest('ACK', client, ok, ok.cseq.seq));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      expect(conn.start!.start.custom_parameters).toEqual({ 'Customer-Header': 'tls-bot' });

      const answerPort = Number(/m=audio (\d+)/.exec(ok.body.toString())![1]);
      void caller.send({ address: '127.0.0.1', port: answerPort }, 'PCMA', tone(1000, 8000, 8000 * 2));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 12, 5000, 'caller audio');
      expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()).subarray(1600), 8000) - 1000)).toBeLessThanOrEqual(15);

      const before = caller.received.length;
      conn.sendAudio(toneBytesPcm16le(1500, 8000, 800));
      await new Promise((r) => setTimeout(r, 1000));
      const audio = caller.audio('PCMA');
      const botPart = audio.subarray(audio.length - (caller.received.length - before) * 160);
      expect(Math.abs(dominantFrequency(botPart.subarray(800, 4800), 8000) - 1500)).toBeLessThanOrEqual(15);

      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      await conn.waitForEvent('stop');
      expect(conn.stop!.stop.reason).toBe('callended');
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
    }
  });
});
