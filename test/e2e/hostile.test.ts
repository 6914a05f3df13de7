// Hostile input on the live bridge: damaged SIP over UDP and TCP, oversize messages, bad RTP into a call, and bad
// bot messages. Each is answered or dropped with a reason, and nothing else is disturbed.
import { createSocket } from 'node:dgram';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { writeRtpHeader } from '../../src/media/rtp-packet.js';
import { dominantFrequency, pcm16leToSamples, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { bridgeRtpAddress } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url, maxMessageBytes: 65_536 },
    sip: { maxMessageBytes: 16_384 },
    // Thousands of damaged INVITEs from one address must not be throttled here.
    limits: { invitesPerSecondPerSource: 100_000 },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

const OPTIONS = (port: number, transport: string) =>
  `OPTIONS sip:bridge@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bK-${Math.random()}\r\nFrom: <sip:c@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: alive-${Math.random()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

async function stillAnswers(): Promise<void> {
  for (const transport of ['udp', 'tcp'] as const) {
    const client = await SipTestClient.open(transport, { host: '127.0.0.1', port: bridge.sip[transport]!.port });
    try {
      client.send(OPTIONS(client.localPort, transport.toUpperCase()));
      await client.response(200, 'OPTIONS');
    } finally {
      client.close();
    }
  }
}

/** Damage applied to a valid INVITE: random bytes replaced, cut, or padded. */
function damaged(valid: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 1500 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.nat(valid.length - 1), fc.uint8Array({ minLength: 1, maxLength: 20 })).map(([at, bytes]) => Buffer.concat([valid.subarray(0, at), Buffer.from(bytes), valid.subarray(at + bytes.length)])),
    fc.nat(valid.length).map((at) => valid.subarray(0, at)),
  );
}

describe('damaged SIP on the wire', () => {
  it('survives 2000 damaged datagrams, answering those it can with 400, and serves calls after', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const replies: string[] = [];
    socket.on('message', (m) => replies.push(m.toString('latin1')));
    const valid = exotelInvite({ callId: 'hostile-udp', transport: 'UDP', port: bridge.sip.udp!.port, localPort: socket.address().port });
    const samples = fc.sample(damaged(valid), { numRuns: 2000, seed: 42 });
    try {
      for (const [i, datagram] of samples.entries()) {
        socket.send(datagram, bridge.sip.udp!.port, '127.0.0.1');
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(replies.filter((r) => r.startsWith('SIP/2.0 400 Bad Request\r\n')).length).toBeGreaterThan(10);
      expect(replies.every((r) => /^SIP\/2\.0 \d{3} /.test(r))).toBe(true);
      await stillAnswers();
      await waitForIdle(bridge, 15_000);
    } finally {
      socket.close();
    }
  });

  it('closes only the TCP connections that send unframeable bytes or a 1 MB message', async () => {
    const valid = exotelInvite({ callId: 'hostile-tcp', transport: 'TCP', port: bridge.sip.tcp!.port });
    const streams = fc.sample(damaged(valid), { numRuns: 200, seed: 7 });
    const bystander = await SipTestClient.open('tcp', { host: '127.0.0.1', port: bridge.sip.tcp!.port });
    try {
      await Promise.all(
        [...streams, Buffer.alloc(1 << 20, 'A')].map(async (bytes) => {
          const socket = net.connect({ host: '127.0.0.1', port: bridge.sip.tcp!.port });
          socket.on('error', () => {});
          await new Promise((resolve) => socket.once('connect', resolve));
          socket.end(bytes);
          await new Promise((r) => setTimeout(r, 50));
          socket.destroy();
        }),
      );
      bystander.send(OPTIONS(bystander.localPort, 'TCP'));
      await bystander.response(200, 'OPTIONS');
      await stillAnswers();
      await waitForIdle(bridge, 15_000);
    } finally {
      bystander.close();
    }
  });
});

describe('a call under fire', () => {
  it('keeps carrying audio through bad RTP and bad bot messages, dropping each with a reason', async () => {
    const client = await SipTestClient.open('tcp', { host: '127.0.0.1', port: bridge.sip.tcp!.port });
    const caller = await RtpPeer.open();
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.2', () => resolve()));
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'under-fire', port: bridge.sip.tcp!.port, localPort: client.localPort, sdp: sdpOffer({ port: caller.port }) }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      const bridgeRtp = await bridgeRtpAddress(caller);

      // Before the caller's first packet: a stranger on another IP tries to take the stream.
      const rtp = (pt: number, seq: number) => {
        const p = Buffer.alloc(172, 0xd5);
        writeRtpHeader(p, false, pt, seq, seq * 160, 0xbad);
        return p;
      };
      for (let i = 0; i < 20; i++) stranger.send(rtp(8, i), bridgeRtp.port, bridgeRtp.address);
      await new Promise((r) => setTimeout(r, 50));
      void caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000 * 2));
      // Then garbage: short packets, odd sizes, wrong version, unknown payload types, a stranger again.
      for (const junk of [Buffer.alloc(3), Buffer.alloc(11, 0x80), Buffer.from([0x40, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]), rtp(18, 1), rtp(101, 2), Buffer.alloc(1500, 0xff)]) {
        caller.socket.send(junk, bridgeRtp.port, bridgeRtp.address);
      }
      for (let i = 0; i < 20; i++) stranger.send(rtp(8, 100 + i), bridgeRtp.port, bridgeRtp.address);

      // The bot, meanwhile, sends nonsense, then a message over bot.maxMessageBytes, then real audio.
      for (const text of ['{not json', '{"event":"media","media":{"payload":"!!!"}}', '{"event":"hangup"}', '[]', '{"event":"media"}', 'null']) conn.ws.send(text);
      conn.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      conn.send({ event: 'media', stream_sid: conn.streamSid, media: { payload: Buffer.alloc(100_000).toString('base64') } });
      const before = caller.received.length;
      conn.sendAudio(toneBytesPcm16le(600, 8000, 800));

      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 15, 5000, 'caller audio');
      const heard = pcm16leToSamples(conn.callerAudio());
      expect(Math.abs(dominantFrequency(heard.subarray(heard.length - 8000), 8000) - 1000)).toBeLessThanOrEqual(15);
      await new Promise((r) => setTimeout(r, 900));
      const audio = caller.audio('PCMA');
      const botPart = audio.subarray(audio.length - (caller.received.length - before) * 160);
      expect(Math.abs(dominantFrequency(botPart.subarray(0, 4800), 8000) - 600)).toBeLessThanOrEqual(15);
      expect(caller.received.every((p) => p.from === `${bridgeRtp.address}:${bridgeRtp.port}`)).toBe(true);

      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      await conn.waitForEvent('stop');
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
      stranger.close();
    }
  });
});
