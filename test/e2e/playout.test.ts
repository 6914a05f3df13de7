// The bot's audio on the bridge's own 20 ms clock: marks tied to playout, clear within a frame, any chunk size,
// a capped queue, and steady packet timing whatever the bot's bursts.
import alawmulaw from 'alawmulaw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { decodeG711 } from '../../src/media/g711.js';
import { dominantFrequency, rms, samplesToPcm16le, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot, type BotConnection } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { RtpPeer, type ReceivedPacket } from '../helpers/rtp-peer.js';
import { expectSippPassed, placeCall } from '../helpers/carrier.js';
import { callScenario, type SippResult } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  bridge = await startTestBridge({ bot: { defaultUrl: bot.url }, media: { maxQueueMs: 2000 } });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

function decode(p: ReceivedPacket): Int16Array {
  const out = new Int16Array(p.payload.length);
  decodeG711('PCMA', p.payload, out);
  return out;
}

const isLoud = (p: ReceivedPacket) => rms(decode(p)) > 1000;

/** A call from SIPp whose media leg is `caller`, lasting `ms`; resolves with the bot side once `start` is in. */
async function call(caller: RtpPeer, ms: number): Promise<{ conn: BotConnection; sipp: Promise<SippResult> }> {
  const { conn, sipp } = await placeCall(bot, {
    scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), flow: { kind: 'hangup', afterMs: ms } }) },
    transport: 't1',
    target: { host: '127.0.0.1', port: bridge.sip.tcp!.port },
  });
  await conn.waitForEvent('start');
  return { conn, sipp };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('marks and clear', () => {
  it('answers a mark when the audio before it has been played: 2 s of tone, mark 2 s after playout started', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await call(caller, 3500);
      conn.sendAudio(toneBytesPcm16le(700, 8000, 2000), 3200);
      conn.send({ event: 'mark', stream_sid: conn.streamSid, mark: { name: 'tone-done' } });
      await conn.waitForEvent('mark', 5000);
      const markAt = performance.now();
      const firstTone = caller.received.find(isLoud)!;
      const elapsed = markAt - firstTone.at;
      expect(elapsed).toBeGreaterThanOrEqual(1960);
      expect(elapsed).toBeLessThanOrEqual(2040);
      expect(conn.messages.find((m) => m.event === 'mark')).toMatchObject({ event: 'mark', stream_sid: conn.streamSid, mark: { name: 'tone-done' } });
      await new Promise((r) => setTimeout(r, 100));
      expect(caller.received.filter(isLoud)).toHaveLength(100);
      expectSippPassed(await sipp);
    } finally {
      caller.close();
    }
  });

  it('silences the caller within one frame of a clear, and answers pending marks at once', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await call(caller, 2500);
      conn.sendAudio(toneBytesPcm16le(700, 8000, 3000), 3200);
      conn.send({ event: 'mark', stream_sid: conn.streamSid, mark: { name: 'after-tone' } });
      await until(() => caller.received.filter(isLoud).length >= 25, 3000, 'half a second of tone');
      const clearedAt = performance.now();
      conn.send({ event: 'clear', streamSid: conn.streamSid });
      await conn.waitForEvent('mark', 1000);
      await new Promise((r) => setTimeout(r, 300));
      const after = caller.received.filter((p) => p.at > clearedAt);
      const loudAfter = after.filter(isLoud);
      expect(loudAfter.length).toBeLessThanOrEqual(1);
      if (loudAfter.length === 1) expect(loudAfter[0]).toBe(after[0]);
      expect(after.length).toBeGreaterThanOrEqual(14);
      expectSippPassed(await sipp);
    } finally {
      caller.close();
    }
  });
});

describe('bot audio of any shape', () => {
  it('plays chunks of any size, odd byte counts included, as one seamless stream', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await call(caller, 2500);
      const samples = tone(450, 8000, 8000 * 1.2, 9000);
      const bytes = samplesToPcm16le(samples);
      const sizes = [2, 3, 1, 5, 7, 321, 4801, 999, 2, 1];
      let offset = 0;
      for (let i = 0; offset < bytes.length; i++) {
        const size = sizes[i % sizes.length]!;
        conn.send({ event: 'media', stream_sid: conn.streamSid, media: { payload: bytes.subarray(offset, offset + size).toString('base64') } });
        offset += size;
      }
      await until(() => caller.received.filter(isLoud).length >= 60, 3000, 'the whole tone');
      await new Promise((r) => setTimeout(r, 100));
      const loud = caller.received.filter(isLoud);
      const played = Int16Array.from(loud.flatMap((p) => [...decode(p)]));
      const expected = alawmulaw.alaw.decode(alawmulaw.alaw.encode(samples));
      expect(played.length).toBe(expected.length);
      expect([...played]).toEqual([...expected]);
      expectSippPassed(await sipp);
    } finally {
      caller.close();
    }
  });

  it('accepts a 100 KB chunk, and caps the queue by dropping the oldest audio', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await call(caller, 3500);
      // 100 KB = 6.25 s at 8 kHz: 4.25 s of 500 Hz then 2 s of 1500 Hz. The 2 s queue keeps only the last 2 s.
      const first = toneBytesPcm16le(500, 8000, 4250);
      const last = toneBytesPcm16le(1500, 8000, 2000);
      conn.send({ event: 'media', stream_sid: conn.streamSid, media: { payload: Buffer.concat([first, last]).toString('base64') } });
      await until(() => caller.received.filter(isLoud).length >= 100, 4000, '2 s of audio');
      await new Promise((r) => setTimeout(r, 200));
      const loud = caller.received.filter(isLoud);
      expect(loud.length).toBe(100);
      const played = Int16Array.from(loud.flatMap((p) => [...decode(p)]));
      expect(Math.abs(dominantFrequency(played, 8000) - 1500)).toBeLessThanOrEqual(15);
      expectSippPassed(await sipp);
    } finally {
      caller.close();
    }
  });
});

describe('outbound RTP timing', () => {
  it('spaces packets 20 ms apart for 10 s of bot audio sent in bursts (no gap above 40 ms)', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await call(caller, 11_500);
      const sendAt = [0, 1, 1.5, 4, 4.2, 7, 7.1, 7.2];
      const audio = toneBytesPcm16le(600, 8000, 10_000);
      const piece = audio.length / sendAt.length;
      const started = performance.now();
      for (const [i, at] of sendAt.entries()) {
        await new Promise((r) => setTimeout(r, Math.max(0, started + at * 1000 - performance.now())));
        conn.sendAudio(audio.subarray(Math.floor(i * piece), Math.floor((i + 1) * piece)), 16_000);
      }
      await until(() => caller.received.filter(isLoud).length >= 250, 12_000, '5 s of tone');
      const result = await sipp;
      expectSippPassed(result);
      const packets = caller.received;
      const gaps = packets.slice(1).map((p, i) => p.at - packets[i]!.at);
      const sorted = [...gaps].sort((a, b) => a - b);
      console.log(`outbound RTP gaps over ${gaps.length} packets: p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms`);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(40);
      expect(Math.abs(percentile(sorted, 50) - 20)).toBeLessThan(2);
      await waitForIdle(bridge);
    } finally {
      caller.close();
    }
  });
});
