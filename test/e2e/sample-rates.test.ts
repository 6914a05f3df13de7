// 16 and 24 kHz bots: the rate in `start` is the rate of every payload both ways, with clean resampling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { dominantFrequency, pcm16leToSamples, relativeLevelDb, samplesToPcm16le, tone } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { bridgeRtpAddress, expectSippPassed, placeCall } from '../helpers/carrier.js';
import { callScenario } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  const url16 = new URL(bot.url);
  url16.searchParams.set('sample-rate', '16000');
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url, sampleRate: 8000 },
    routes: [
      { header: 'X-Rate', equals: '16k', url: url16.href },
      { header: 'X-Rate', equals: '24k', url: bot.url, sampleRate: 24000 },
    ],
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

describe.each([
  ['the URL', '16k', 16000, [5000]],
  ['the route', '24k', 24000, [5000, 11000]],
] as const)('a bot whose rate comes from %s (%s)', (_source, header, rate, images) => {
  it('gets and sends every payload at that rate; a 3 kHz tone keeps its frequency both ways with images and aliases below -30 dB', async () => {
    const caller = await RtpPeer.open();
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), headers: [['X-Rate', header]], flow: { kind: 'hangup', afterMs: 3500 } }) },
      transport: 't1',
      target: { host: '127.0.0.1', port: bridge.sip.tcp!.port },
    });
    try {
      await conn.waitForEvent('start');
      expect(conn.start!.start.media_format).toEqual({ encoding: 'audio/x-raw', sample_rate: String(rate), bit_rate: '16' });
      expect(conn.url.searchParams.get('sample-rate')).toBe(String(rate));

      // Caller -> bot: 8 kHz up to the bot's rate.
      void caller.send(await bridgeRtpAddress(caller), 'PCMA', tone(3000, 8000, 8000 * 1.5, 12000));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 12, 5000, 'caller audio');
      const chunks = conn.messages.filter((m) => m.event === 'media').map((m) => Buffer.from(String((m.media as { payload: string }).payload), 'base64'));
      expect(chunks.every((c) => c.length === (rate / 10) * 2)).toBe(true);
      const heard = pcm16leToSamples(conn.callerAudio()).subarray(rate / 5, rate);
      expect(Math.abs(dominantFrequency(heard, rate) - 3000)).toBeLessThanOrEqual(15);
      for (const image of images) expect(relativeLevelDb(heard, rate, image, 3000)).toBeLessThan(-30);

      // Bot -> caller: a 3 kHz tone plus an equally loud tone above 4 kHz, which must not fold back into the band.
      const above = rate === 16000 ? 6000 : 9000;
      const alias = Math.abs(above - 8000 * Math.round(above / 8000));
      const mix = tone(3000, rate, rate, 8000).map((s, i) => s + Math.round(8000 * Math.sin((2 * Math.PI * above * i) / rate)));
      const before = caller.received.length;
      conn.sendAudio(samplesToPcm16le(mix), rate / 5);
      await new Promise((r) => setTimeout(r, 1300));
      const played = caller.audio('PCMA').subarray(before * 160 + 800, before * 160 + 6400);
      expect(Math.abs(dominantFrequency(played, 8000) - 3000)).toBeLessThanOrEqual(15);
      expect(relativeLevelDb(played, 8000, alias, 3000)).toBeLessThan(-30);
      expectSippPassed(await sipp);
      await waitForIdle(bridge);
    } finally {
      caller.close();
      await sipp;
    }
  });
});
