// The drachtio backend against a real drachtio-server: a private one on free loopback ports (test/global-setup.ts
// installs it as root; skipped with the reason when it is absent), or an external one named by DRACHTIO_HOST
// (README.md, "Trying the drachtio backend"):
//   DRACHTIO_HOST, DRACHTIO_PORT (9022), DRACHTIO_SECRET (cymru): its admin socket, for the bridge;
//   DRACHTIO_SIP (DRACHTIO_HOST:5060) and DRACHTIO_SIP_TRANSPORT (udp or tcp): where SIPp sends calls;
//   DRACHTIO_MEDIA_ADDRESS (127.0.0.1): the bridge's RTP address, reachable by the carrier's media (SIPp here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { dominantFrequency, pcm16leToSamples, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { bridgeRtpAddress, expectSippPassed, placeCall } from '../helpers/carrier.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { callScenario, runSipp, tracedMessages } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

const env = process.env;
const external = env.DRACHTIO_HOST;
const binary = drachtioBinary();
const skip = !external && 'missing' in binary ? `skipping drachtio-server tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

interface Drachtio {
  readonly admin: { host: string; port: number; secret: string };
  readonly sip: { host: string; port: number };
}

let server: DrachtioServer | undefined;
let drachtio: Drachtio;

beforeAll(async () => {
  if (skip) return;
  if (external) {
    const [sipHost, sipPort] = (env.DRACHTIO_SIP ?? `${external}:5060`).split(':');
    drachtio = {
      admin: { host: external, port: Number(env.DRACHTIO_PORT ?? 9022), secret: env.DRACHTIO_SECRET ?? 'cymru' },
      sip: { host: sipHost!, port: Number(sipPort) },
    };
    return;
  }
  server = await startDrachtioServer();
  drachtio = { admin: { host: server.host, port: server.adminPort, secret: server.secret }, sip: server.sip };
});

afterAll(async () => {
  await server?.stop();
});

const startBridge = (botUrl: string) =>
  startTestBridge({
    sip: { backend: 'drachtio', drachtio: drachtio.admin, udp: false, tcp: false },
    media: { address: env.DRACHTIO_MEDIA_ADDRESS ?? '127.0.0.1' },
    bot: { defaultUrl: botUrl },
  });

// The private server takes both transports; an external one the one DRACHTIO_SIP_TRANSPORT names.
const both: Array<['UDP' | 'TCP', 'u1' | 't1']> = [['UDP', 'u1'], ['TCP', 't1']];
const transports = external ? both.filter(([name]) => name === (env.DRACHTIO_SIP_TRANSPORT === 'tcp' ? 'TCP' : 'UDP')) : both;

describe.skipIf(skip).each(transports)('calls through drachtio-server over %s', (_name, transport) => {
  let bot: TestBot;
  let bridge: Bridge;
  const target = () => drachtio.sip;

  beforeAll(async () => {
    bot = await TestBot.start();
    bridge = await startBridge(bot.url);
  });

  afterAll(async () => {
    await bridge?.stop();
    await bot?.close();
  });

    it('carries an Exotel-shaped call: tones both ways, stop on the caller BYE', async () => {
      const caller = await RtpPeer.open();
      try {
        const { conn, sipp } = await placeCall(bot, {
          scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), headers: [['X-Customer-Header', 'salesbot']], flow: { kind: 'hangup', afterMs: 3000 } }) },
          transport,
          target: target(),
        });
        await conn.waitForEvent('start');
        expect(conn.start!.start).toMatchObject({ from: '+918888888888', to: '+911234567890', custom_parameters: { 'Customer-Header': 'salesbot' } });
        void caller.send(await bridgeRtpAddress(caller), 'PCMA', tone(1000, 8000, 8000 * 2));
        await conn.until((m) => m.filter((x) => x.event === 'media').length >= 12, 5000, 'caller audio');
        expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()).subarray(1600), 8000) - 1000)).toBeLessThanOrEqual(15);
        const before = caller.received.length;
        conn.sendAudio(toneBytesPcm16le(600, 8000, 800));
        await new Promise((r) => setTimeout(r, 1000));
        const audio = caller.audio('PCMA');
        const botPart = audio.subarray(audio.length - (caller.received.length - before) * 160);
        expect(Math.abs(dominantFrequency(botPart.subarray(800, 4800), 8000) - 600)).toBeLessThanOrEqual(15);
        expectSippPassed(await sipp);
        await conn.waitForEvent('stop');
        expect(conn.stop!.stop.reason).toBe('callended');
        await waitForIdle(bridge);
      } finally {
        caller.close();
      }
    });

    it('hangs up with BYE when the bot closes', async () => {
      const { conn, sipp } = await placeCall(bot, {
        scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'await-bye', timeoutMs: 10_000 } }) },
        transport,
        target: target(),
      });
      await conn.waitForEvent('start');
      conn.ws.close();
      expectSippPassed(await sipp);
      await waitForIdle(bridge);
    });

    it('rejects an offer without a common codec with 488 and the Warning', async () => {
      const result = await runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer({ formats: [{ pt: 18, rtpmap: 'G729/8000' }] }), flow: { kind: 'reject', status: 488 } }) },
        transport,
        target: target(),
      });
      expectSippPassed(result);
      expect(tracedMessages(result).find((m) => m.startsWith('SIP/2.0 488'))).toMatch(/^Warning: 305 sip-ws-bridge "no common codec/m);
      await waitForIdle(bridge);
    });

    it('answers CANCEL during bot setup with 487', async () => {
      const slowBot = await TestBot.start({ handshakeDelayMs: 1500 });
      const slow = await startBridge(slowBot.url);
      // drachtio-server shares INVITEs among connected applications: only the slow bridge may take this one.
      await bridge.stop();
      try {
        const result = await runSipp({ scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'cancel', afterMs: 300 } }) }, transport, target: target() });
        expectSippPassed(result);
        await waitForIdle(slow);
      } finally {
        await slow.stop();
        await slowBot.close();
      }
    });
  });
