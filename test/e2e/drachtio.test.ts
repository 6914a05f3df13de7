// The drachtio backend against a real drachtio-server: runs when DRACHTIO_HOST names one (see README.md,
// "Production deployment"), and is skipped with the reason otherwise, since no drachtio-server package exists here.
//   DRACHTIO_HOST, DRACHTIO_PORT (9022), DRACHTIO_SECRET (cymru): its admin socket, for the bridge;
//   DRACHTIO_SIP (DRACHTIO_HOST:5060) and DRACHTIO_SIP_TRANSPORT (udp or tcp): where SIPp sends calls;
//   DRACHTIO_MEDIA_ADDRESS (127.0.0.1): the bridge's RTP address, reachable by the carrier's media (SIPp here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { dominantFrequency, pcm16leToSamples, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { bridgeRtpAddress, expectSippPassed, placeCall } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { callScenario, runSipp, tracedMessages } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

const env = process.env;
const host = env.DRACHTIO_HOST;
if (!host) console.warn('skipping drachtio-server tests: set DRACHTIO_HOST to a drachtio-server to run them (README.md)');

const [sipHost, sipPort] = (env.DRACHTIO_SIP ?? `${host}:5060`).split(':');
const target = { host: sipHost!, port: Number(sipPort) };
const transport = env.DRACHTIO_SIP_TRANSPORT === 'tcp' ? 't1' : 'u1';

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  if (!host) return;
  bot = await TestBot.start();
  bridge = await startTestBridge({
    sip: { backend: 'drachtio', drachtio: { host, port: Number(env.DRACHTIO_PORT ?? 9022), secret: env.DRACHTIO_SECRET ?? 'cymru' }, udp: false, tcp: false },
    media: { address: env.DRACHTIO_MEDIA_ADDRESS ?? '127.0.0.1' },
    bot: { defaultUrl: bot.url },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

describe.skipIf(!host)('calls through drachtio-server', () => {
  it('carries an Exotel-shaped call: tones both ways, stop on the caller BYE', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await placeCall(bot, {
        scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), headers: [['X-Customer-Header', 'salesbot']], flow: { kind: 'hangup', afterMs: 3000 } }) },
        transport,
        target,
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
      target,
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
      target,
    });
    expectSippPassed(result);
    expect(tracedMessages(result).find((m) => m.startsWith('SIP/2.0 488'))).toMatch(/^Warning: 305 sip-ws-bridge "no common codec/m);
    await waitForIdle(bridge);
  });

  it('answers CANCEL during bot setup with 487', async () => {
    const slowBot = await TestBot.start({ handshakeDelayMs: 1500 });
    const slow = await startTestBridge({
      sip: { backend: 'drachtio', drachtio: { host: host!, port: Number(env.DRACHTIO_PORT ?? 9022), secret: env.DRACHTIO_SECRET ?? 'cymru' }, udp: false, tcp: false },
      bot: { defaultUrl: slowBot.url },
    });
    // drachtio-server shares INVITEs among connected applications: only the slow bridge may take this one.
    await bridge.stop();
    try {
      const result = await runSipp({ scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'cancel', afterMs: 300 } }) }, transport, target });
      expectSippPassed(result);
      await waitForIdle(slow);
    } finally {
      await slow.stop();
      await slowBot.close();
    }
  });
});
