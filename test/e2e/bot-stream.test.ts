// The caller's audio as the bot sees it: fixed chunks with exact timestamps, and no holes when the caller's RTP has them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { dominantFrequency, pcm16leToSamples, relativeLevelDb, rms, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot, type BotConnection } from '../helpers/bot.js';
import { startTestBridge } from '../helpers/bridge.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { bridgeRtpAddress, expectSippPassed, placeCall } from '../helpers/carrier.js';
import { callScenario, type SippResult } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  bridge = await startTestBridge({ bot: { defaultUrl: bot.url } });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

interface MediaMessage {
  sequence_number: string;
  media: { chunk: string; timestamp: string; payload: string };
}

const mediaOf = (conn: BotConnection) => conn.messages.filter((m) => m.event === 'media') as unknown as MediaMessage[];

/** A SIPp call whose media leg is `caller`; resolves once the bridge's RTP address is known. */
async function call(caller: RtpPeer, ms: number): Promise<{ conn: BotConnection; sipp: Promise<SippResult>; bridgeRtp: { address: string; port: number } }> {
  const { conn, sipp } = await placeCall(bot, {
    scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), flow: { kind: 'hangup', afterMs: ms } }) },
    transport: 't1',
    target: { host: '127.0.0.1', port: bridge.sip.tcp!.port },
  });
  return { conn, sipp, bridgeRtp: await bridgeRtpAddress(caller) };
}

/** Samples of the bot's received stream between two stream times, in ms. */
const slice = (audio: Int16Array, fromMs: number, toMs: number) => audio.subarray(fromMs * 8, toMs * 8);

describe('caller audio to the bot', () => {
  it('comes in 100 ms chunks whose chunk numbers and timestamps are exact over 5 s', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp, bridgeRtp } = await call(caller, 5600);
      await caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000 * 5));
      expectSippPassed(await sipp);
      await conn.waitForEvent('stop');
      const media = mediaOf(conn);
      expect(media.length).toBeGreaterThanOrEqual(50);
      media.forEach((m, i) => {
        expect(m.media.chunk).toBe(String(i + 1));
        expect(m.media.timestamp).toBe(String((i + 1) * 100));
        expect(Buffer.from(m.media.payload, 'base64').length).toBe(1600);
      });
      const seqs = media.map((m) => Number(m.sequence_number));
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    } finally {
      caller.close();
    }
  });

  it('has silence where caller packets were lost, keeping the stream time true', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp, bridgeRtp } = await call(caller, 3400);
      // Packets 50-59 (1.0 s to 1.2 s of the caller's audio) never arrive.
      await caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000 * 3), { drop: (i) => i >= 50 && i < 60 });
      expectSippPassed(await sipp);
      await conn.waitForEvent('stop');
      const audio = pcm16leToSamples(conn.callerAudio());
      // Where the caller's audio starts in the stream: the bridge may have sent silence before the first packet.
      const start = audio.findIndex((s) => Math.abs(s) > 1000) - 2;
      const at = (ms: number) => start / 8 + ms;
      expect(rms(slice(audio, at(1010), at(1190)))).toBe(0);
      expect(Math.abs(dominantFrequency(slice(audio, at(200), at(980)), 8000) - 1000)).toBeLessThanOrEqual(15);
      expect(Math.abs(dominantFrequency(slice(audio, at(1220), at(2900)), 8000) - 1000)).toBeLessThanOrEqual(15);
      expect(rms(slice(audio, at(1220), at(2900)))).toBeGreaterThan(5000);
    } finally {
      caller.close();
    }
  });

  it('keeps flowing while the caller sends no RTP at all, then lines up with the caller again', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp, bridgeRtp } = await call(caller, 3700);
      await caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      const quietFrom = performance.now();
      const countAtQuiet = mediaOf(conn).length;
      await new Promise((r) => setTimeout(r, 1000));
      expect(mediaOf(conn).length - countAtQuiet).toBeGreaterThanOrEqual(8);
      await caller.send(bridgeRtp, 'PCMA', tone(600, 8000, 8000));
      const quietMs = performance.now() - quietFrom - 1000;
      expectSippPassed(await sipp);
      await conn.waitForEvent('stop');
      const audio = pcm16leToSamples(conn.callerAudio());
      const first = audio.findIndex((s) => Math.abs(s) > 1000) - 2;
      const second = first + 8 * (1000 + quietMs);
      expect(rms(audio.subarray(first + 8 * 1100, first + 8 * 1900))).toBe(0);
      // The second tone starts in the stream where it started in real time, within a frame or two.
      const secondTone = audio.subarray(second + 8 * 40, second + 8 * 900);
      expect(Math.abs(dominantFrequency(secondTone, 8000) - 600)).toBeLessThanOrEqual(15);
      expect(rms(audio.subarray(second - 8 * 80, second - 8 * 40))).toBe(0);
    } finally {
      caller.close();
    }
  });
});

/** One second of audio from 20 ms after it first gets loud: the middle of a 1.5 s tone. */
function loudSecond(audio: Int16Array): Int16Array {
  const start = audio.findIndex((s) => Math.abs(s) > 1000);
  expect(start).toBeGreaterThanOrEqual(0);
  const second = audio.subarray(start + 160, start + 160 + 8000);
  expect(second.length).toBe(8000);
  return second;
}

describe('calls at once', () => {
  it('keep their audio apart both ways: each bot hears only its caller, each caller only its bot', async () => {
    const callers = [await RtpPeer.open(), await RtpPeer.open()];
    try {
      // One after the other, so that each bot connection is known to belong to its call.
      const calls = [await call(callers[0]!, 3000), await call(callers[1]!, 3000)];
      const callerHz = [700, 1300];
      const botHz = [500, 1100];
      calls.forEach(({ conn }, i) => conn.sendAudio(toneBytesPcm16le(botHz[i]!, 8000, 1500)));
      await Promise.all(calls.map(({ bridgeRtp }, i) => callers[i]!.send(bridgeRtp, 'PCMA', tone(callerHz[i]!, 8000, 8000 * 1.5))));
      for (const [i, { conn, sipp }] of calls.entries()) {
        expectSippPassed(await sipp);
        await conn.waitForEvent('stop');
        const other = 1 - i;
        const heardByBot = loudSecond(pcm16leToSamples(conn.callerAudio()));
        expect(Math.abs(dominantFrequency(heardByBot, 8000) - callerHz[i]!)).toBeLessThanOrEqual(15);
        expect(relativeLevelDb(heardByBot, 8000, callerHz[other]!, callerHz[i]!)).toBeLessThan(-30);
        const heardByCaller = loudSecond(callers[i]!.audio('PCMA'));
        expect(Math.abs(dominantFrequency(heardByCaller, 8000) - botHz[i]!)).toBeLessThanOrEqual(15);
        expect(relativeLevelDb(heardByCaller, 8000, botHz[other]!, botHz[i]!)).toBeLessThan(-30);
      }
    } finally {
      for (const caller of callers) caller.close();
    }
  });
});
