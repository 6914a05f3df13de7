// Recording and listen-only streams, with SIPp as the carrier: the WAV's channels hold the right tones at the right
// times, a full disk stops the recording but not the call, uploads, safe file names; listen-only keeps the bot mute.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { RecordingResult } from '../../src/media/recorder.js';
import { readWav, type WavAudio } from '../../src/test-call/wav.js';
import { dominantFrequency, pcm16leToSamples, rms, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot, type BotConnection } from '../helpers/bot.js';
import { metrics } from '../helpers/bridge-http.js';
import { startTestBridge } from '../helpers/bridge.js';
import { bridgeRtpAddress, expectSippPassed, placeCall } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { sdpOffer } from '../helpers/sip-messages.js';
import { callScenario, type SippResult } from '../helpers/sipp.js';
import { WebhookServer, type WebhookBody } from '../helpers/webhook-server.js';

const root = mkdtempSync(join(tmpdir(), 'recording-e2e-'));
const dirs = { dual: join(root, 'dual'), mono: join(root, 'mono'), wide: join(root, 'wide'), full: join(root, 'full'), upload: join(root, 'upload') };

/** Receives PUTs of recordings. */
const puts: Array<{ url: string; type: string | undefined; body: Buffer }> = [];
const uploadServer = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    puts.push({ url: `${req.method} ${req.url}`, type: req.headers['content-type'], body: Buffer.concat(chunks) });
    res.writeHead(200).end();
  });
});

let bot: TestBot;
let bridge: Bridge;
let webhook: WebhookServer;
let mounted = false;

beforeAll(async () => {
  mkdirSync(dirs.full, { recursive: true });
  // A tiny disk: about two seconds of 8 kHz stereo.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dirs.full]);
  mounted = true;
  await new Promise<void>((resolve) => uploadServer.listen(0, '127.0.0.1', resolve));
  const uploadUrl = `http://127.0.0.1:${(uploadServer.address() as AddressInfo).port}/bucket/{call_sid}.wav?X-Amz-Signature=abc`;
  bot = await TestBot.start();
  webhook = await WebhookServer.start();
  const route = (value: string, extra: object) => ({ header: 'X-Rec', equals: value, url: bot.url, ...extra });
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url, chunkMs: 20 },
    webhook: { url: webhook.url, backoffMs: 10 },
    routes: [
      route('dual', { recording: { dir: dirs.dual, flushMs: 200 } }),
      route('mono', { recording: { dir: dirs.mono, channels: 'mono' } }),
      route('wide', { sampleRate: 16000, recording: { dir: dirs.wide } }),
      route('full', { recording: { dir: dirs.full } }),
      route('upload', { recording: { dir: dirs.upload, upload: uploadUrl, keepLocal: false } }),
      route('listen', { mode: 'listen' }),
    ],
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await webhook?.close();
  await new Promise((resolve) => uploadServer.close(resolve));
  if (mounted) execFileSync('umount', [dirs.full]);
  rmSync(root, { recursive: true, force: true });
});

interface Placed {
  readonly conn: BotConnection;
  readonly caller: RtpPeer;
  readonly bridgeRtp: { address: string; port: number };
  readonly sipp: Promise<SippResult>;
}

/** A SIPp call routed by X-Rec, hung up by the caller after `ms`; the caller's media leg is an RtpPeer. */
async function place(rec: string, ms: number, headers: Array<[string, string]> = [], exotelHeaders = true): Promise<Placed> {
  const caller = await RtpPeer.open();
  const { conn, sipp } = await placeCall(bot, {
    scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), headers: [['X-Rec', rec], ...headers], exotelHeaders, flow: { kind: 'hangup', afterMs: ms } }) },
    transport: 't1',
    target: { host: '127.0.0.1', port: bridge.sip.tcp!.port },
  });
  await conn.waitForEvent('start');
  const bridgeRtp = await bridgeRtpAddress(caller);
  return { conn, caller, bridgeRtp, sipp };
}

async function reportOf(conn: BotConnection, timeoutMs = 10_000): Promise<WebhookBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const post = webhook.posts.find((p) => p.body.stream_sid === conn.streamSid);
    if (post) return post.body;
    if (Date.now() > deadline) throw new Error('no post-call report');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function wavOf(path: string): WavAudio {
  const wav = readWav(readFileSync(path));
  if (!wav.ok) throw new Error(wav.reason);
  return wav.value;
}

/** One channel of `wav` from `fromS` to `toS` seconds. */
function slice(wav: WavAudio, which: number, fromS: number, toS: number): Int16Array {
  const { sampleRate: rate, channels, samples } = wav;
  const out = new Int16Array(Math.round((toS - fromS) * rate));
  const first = Math.round(fromS * rate);
  for (let i = 0; i < out.length; i++) out[i] = samples[(first + i) * channels + which] ?? 0;
  return out;
}

/**
 * A recorded call on `route`: the caller sends `callerSamples` of 1000 Hz; `botAfterMs` in, the bot answers with
 * `botMs` of 600 Hz at `botRate`; resolves with the post-call report once the call has ended.
 */
async function talkedCall(route: string, holdMs: number, callerSamples: number, bot: { afterMs: number; rate: number; ms: number }): Promise<WebhookBody> {
  const call = await place(route, holdMs);
  try {
    const talking = call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, callerSamples));
    await new Promise((r) => setTimeout(r, bot.afterMs));
    call.conn.sendAudio(toneBytesPcm16le(600, bot.rate, bot.ms));
    await talking;
    expectSippPassed(await call.sipp);
  } finally {
    call.caller.close();
  }
  return reportOf(call.conn);
}

const near = (hz: number, expected: number) => expect(Math.abs(hz - expected)).toBeLessThanOrEqual(20);

describe('recording', () => {
  it('dual: the caller 1000 Hz on the left; the bot 600 Hz reply, as played, on the right, at their times', async () => {
    // The recording starts with the answer; the caller talks for 1.5 s, the bot answers 1.5 s after it began.
    const report = await talkedCall('dual', 4000, 12_000, { afterMs: 1500, rate: 8000, ms: 1000 });
    const recording = report.recording as RecordingResult;
    expect(recording.path).toBe(join(dirs.dual, `${report.call_sid.replace(/[^A-Za-z0-9_-]/g, '_')}.wav`));
    expect(recording.error).toBeUndefined();
    expect(recording.duration_s).toBeGreaterThan(3.5);
    expect(recording.duration_s).toBeLessThan(4.6);
    expect(readFileSync(recording.path).length).toBe(recording.bytes);
    const wav = wavOf(recording.path);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 2 });
    near(dominantFrequency(slice(wav, 0, 0.4, 1.3), 8000), 1000);
    expect(rms(slice(wav, 1, 0.2, 1.3))).toBeLessThan(100);
    near(dominantFrequency(slice(wav, 1, 1.8, 2.4), 8000), 600);
    // The caller was quiet while the bot spoke, and the bot's audio is not on the caller's side.
    expect(rms(slice(wav, 0, 2.0, 2.4))).toBeLessThan(100);
    expect(rms(slice(wav, 1, 3.0, 3.4))).toBeLessThan(100);
  });

  it('mono: the two mixed in one channel', async () => {
    const recording = (await talkedCall('mono', 3000, 8000, { afterMs: 1300, rate: 8000, ms: 1000 })).recording as RecordingResult;
    const wav = wavOf(recording.path);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1 });
    near(dominantFrequency(slice(wav, 0, 0.3, 0.9), 8000), 1000);
    near(dominantFrequency(slice(wav, 0, 1.8, 2.2), 8000), 600);
  });

  it('a 16 kHz bot gives a 16 kHz recording', async () => {
    const recording = (await talkedCall('wide', 2500, 8000, { afterMs: 1200, rate: 16000, ms: 800 })).recording as RecordingResult;
    const wav = wavOf(recording.path);
    expect(wav).toMatchObject({ sampleRate: 16000, channels: 2 });
    near(dominantFrequency(slice(wav, 0, 0.3, 0.9), 16000), 1000);
    near(dominantFrequency(slice(wav, 1, 1.6, 1.9), 16000), 600);
  });

  it('a full disk stops the recording, not the call: the report says why and the metric counts it', async () => {
    const call = await place('full', 4000);
    try {
      await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 28_000));
      // The caller is still heard by the bot after the disk filled (about 2 s in).
      const heard = pcm16leToSamples(call.conn.callerAudio());
      near(dominantFrequency(heard.subarray(heard.length - 4000), 8000), 1000);
      expectSippPassed(await call.sipp);
    } finally {
      call.caller.close();
    }
    const report = await reportOf(call.conn);
    expect(report).toMatchObject({ disconnected_by: 'caller', end_reason: 'bye', sip_status: 200 });
    const recording = report.recording as RecordingResult;
    expect(recording.error).toMatch(/ENOSPC|short write/);
    expect(recording.duration_s).toBeLessThan(2.2);
    expect((await metrics(bridge.httpPort)).get('bridge_recording_errors_total')).toBeGreaterThanOrEqual(1);
  });

  it('uploads the file with PUT after the call ({call_sid} in the URL), then removes it with keepLocal false', async () => {
    const call = await place('upload', 1500);
    try {
      await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      expectSippPassed(await call.sipp);
    } finally {
      call.caller.close();
    }
    const report = await reportOf(call.conn);
    const recording = report.recording as RecordingResult;
    const deadline = Date.now() + 5000;
    while (puts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(puts).toHaveLength(1);
    expect(puts[0]!.url).toBe(`PUT /bucket/${report.call_sid.replace(/[^A-Za-z0-9_-]/g, '_')}.wav?X-Amz-Signature=abc`);
    expect(puts[0]!.type).toBe('audio/wav');
    expect(puts[0]!.body.length).toBe(recording.bytes);
    expect(puts[0]!.body.toString('latin1', 0, 4)).toBe('RIFF');
    while (existsSync(recording.path) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(recording.path)).toBe(false);
    expect((await metrics(bridge.httpPort)).get('bridge_recording_uploads_total{result="uploaded"}')).toBe(1);
  });

  it('a call sid from a header never becomes a path: X-Exotel-CallSid ../../etc/x', async () => {
    const call = await place('dual', 800, [['X-Exotel-CallSid', '../../etc/x']], false);
    try {
      expectSippPassed(await call.sipp);
    } finally {
      call.caller.close();
    }
    const report = await reportOf(call.conn);
    expect(report.call_sid).toBe('../../etc/x');
    const recording = report.recording as RecordingResult;
    expect(dirname(recording.path)).toBe(dirs.dual);
    expect(recording.path).toBe(join(dirs.dual, '______etc_x.wav'));
    expect(readdirSync(dirs.dual)).toContain('______etc_x.wav');
  });
});

describe('listen-only streams', () => {
  it('the bot hears the caller; the caller hears only silence whatever the bot sends; the report counts it', async () => {
    const call = await place('listen', 3000);
    try {
      const talking = call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      await new Promise((r) => setTimeout(r, 500));
      call.conn.sendAudio(toneBytesPcm16le(600, 8000, 1000));
      await talking;
      const heard = pcm16leToSamples(call.conn.callerAudio());
      near(dominantFrequency(heard.subarray(1600, 6400), 8000), 1000);
      expectSippPassed(await call.sipp);
    } finally {
      call.caller.close();
    }
    // Silence frames went out all along (NAT bindings stay open), and none held the bot's tone.
    expect(call.caller.received.length).toBeGreaterThan(100);
    expect(rms(call.caller.audio('PCMA'))).toBeLessThan(20);
    const report = await reportOf(call.conn);
    expect(report.media?.listen_only_ignored_ms).toBe(1000);
    expect(report.recording).toBeUndefined();
  });
});
