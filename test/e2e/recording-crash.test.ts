// A bridge killed mid-call (SIGKILL, no chance to finish anything) leaves a playable recording up to its last flush;
// the same call, on a listen-only route, warns once about the bot's audio it does not play.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readWav } from '../../src/test-call/wav.js';
import { dominantFrequency, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { BridgeProcess } from '../helpers/bridge-process.js';
import { bridgeRtpAddress, placeCall } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { sdpOffer } from '../helpers/sip-messages.js';
import { callScenario } from '../helpers/sipp.js';

const dir = mkdtempSync(join(tmpdir(), 'recording-crash-'));
const FLUSH_MS = 200;
let bot: TestBot;
let bridge: BridgeProcess | undefined;

beforeAll(async () => {
  bot = await TestBot.start();
});

afterAll(async () => {
  await bridge?.kill();
  await bot?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('leaves a WAV whose header matches the file up to its last flush, with the audio in it, after SIGKILL', async () => {
  const started = await BridgeProcess.start({
    bot: { defaultUrl: bot.url },
    routes: [{ header: 'X-Rec', equals: 'yes', url: bot.url, mode: 'listen', recording: { dir, flushMs: FLUSH_MS } }],
  });
  bridge = started.bridge;
  const caller = await RtpPeer.open();
  try {
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), headers: [['X-Rec', 'yes']], flow: { kind: 'hangup', afterMs: 8000 } }) },
      transport: 't1',
      target: { host: '127.0.0.1', port: started.sip.tcp.port },
      timeoutMs: 10_000,
    });
    await conn.waitForEvent('start');
    const bridgeRtp = await bridgeRtpAddress(caller);
    void caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000 * 3));
    // Two media messages from a listen-only bot: one warning.
    conn.sendAudio(toneBytesPcm16le(600, 8000, 200));
    await new Promise((r) => setTimeout(r, 300));
    conn.sendAudio(toneBytesPcm16le(600, 8000, 200));
    await new Promise((r) => setTimeout(r, 2200));
    expect(bridge.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('listen-only stream')).length).toBe(1);
    bridge.signal('SIGKILL');
    await bridge.exited;
    caller.stop();
    // SIPp loses its connection; its own timeout bounds it otherwise.
    await sipp;
  } finally {
    caller.close();
  }

  const files = readdirSync(dir);
  expect(files).toHaveLength(1);
  const bytes = readFileSync(join(dir, files[0]!));
  const dataBytes = bytes.readUInt32LE(40);
  expect(bytes.toString('latin1', 0, 4)).toBe('RIFF');
  expect(bytes.readUInt32LE(4)).toBe(36 + dataBytes);
  // The header is updated right after each flush's audio: at most one flush may be on disk beyond it.
  const flushBytes = (8000 * FLUSH_MS) / 1000 * 4;
  expect(dataBytes % flushBytes).toBe(0);
  expect(bytes.length - 44 - dataBytes).toBeGreaterThanOrEqual(0);
  expect(bytes.length - 44 - dataBytes).toBeLessThanOrEqual(flushBytes);
  expect(dataBytes).toBeGreaterThanOrEqual(1.5 * 8000 * 4);
  const wav = readWav(bytes.subarray(0, 44 + dataBytes));
  if (!wav.ok) throw new Error(wav.reason);
  expect(wav.value).toMatchObject({ sampleRate: 8000, channels: 2 });
  const left = new Int16Array(4000);
  for (let i = 0; i < left.length; i++) left[i] = wav.value.samples[(4000 + i) * 2]!;
  expect(Math.abs(dominantFrequency(left, 8000) - 1000)).toBeLessThanOrEqual(20);
}, 30_000);
