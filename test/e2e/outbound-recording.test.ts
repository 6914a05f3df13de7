// The stream policy for calls placed through the API, with SIPp as the trunk: the global recording records a call
// whose bot is the default one (a WAV with the called party's tone), and a routing rule's `recording: false` and
// `mode: listen` apply to the calls its custom parameters route.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RecordingResult } from '../../src/media/recorder.js';
import { readWav } from '../../src/test-call/wav.js';
import { dominantFrequency, rms, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient } from '../helpers/call-api.js';
import { bridgeRtpAddress, expectSippPassed } from '../helpers/carrier.js';
import { calledParty } from '../helpers/sipp-trunk.js';
import { WebhookServer, type WebhookBody } from '../helpers/webhook-server.js';

const TOKEN = 'outbound-recording-token';
const CALL = { to: '+919876543210', from: '+912261234567' };
const dir = mkdtempSync(join(tmpdir(), 'outbound-recording-'));

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup(afterMs: number) {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const webhook = await WebhookServer.start();
  cleanup.push(() => webhook.close());
  const { peer, sipPort, trunk } = await calledParty(cleanup, (rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs }));
  const bridge = await startTestBridge({
    api: { token: TOKEN },
    trunks: [{ name: 'sipp', uri: `sip:127.0.0.1:${sipPort};transport=udp` }],
    bot: { defaultUrl: bot.url, chunkMs: 20 },
    webhook: { url: webhook.url, backoffMs: 10 },
    recording: { dir, flushMs: 200 },
    routes: [{ header: 'X-campaign', equals: 'quiet', url: bot.url, mode: 'listen', recording: false }],
  });
  cleanup.push(() => bridge.stop());
  return { bot, peer, webhook, trunk, bridge, api: callApiClient(bridge.httpPort, TOKEN) };
}

/** A call placed through the API with `campaign` in its custom parameters, once its bot got `start` (the answer). */
async function placeAnswered(s: Awaited<ReturnType<typeof setup>>, campaign: string) {
  const placed = await s.api('POST', '/v1/calls', { ...CALL, custom_parameters: { campaign } });
  expect(placed.status).toBe(201);
  const conn = await s.bot.connection(0);
  await conn.waitForEvent('start');
  return { sid: placed.body.call_sid as string, conn };
}

async function finalReport(webhook: WebhookServer, sid: string): Promise<WebhookBody> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const post = webhook.posts.find((p) => p.body.call_sid === sid && p.body.event === 'completed');
    if (post) return post.body;
    if (Date.now() > deadline) throw new Error('no final report');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the stream policy of outbound calls', () => {
  it('records a call to the default bot when recording is configured globally: the called party on the left', async () => {
    const s = await setup(3000);
    const { sid } = await placeAnswered(s, 'loud');
    const bridgeRtp = await bridgeRtpAddress(s.peer);
    await s.peer.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
    expectSippPassed(await s.trunk);
    const report = await finalReport(s.webhook, sid);
    const recording = report.recording as RecordingResult;
    expect(recording).toBeDefined();
    expect(recording.path).toBe(join(dir, `${sid}.wav`));
    expect(recording.error).toBeUndefined();
    expect(recording.duration_s).toBeGreaterThan(2);
    const wav = readWav(readFileSync(recording.path));
    if (!wav.ok) throw new Error(wav.reason);
    expect(wav.value).toMatchObject({ sampleRate: 8000, channels: 2 });
    const left = new Int16Array(4000);
    for (let i = 0; i < left.length; i++) left[i] = wav.value.samples[(2000 + i) * 2]!;
    expect(Math.abs(dominantFrequency(left, 8000) - 1000)).toBeLessThanOrEqual(20);
    await waitForIdle(s.bridge);
  });

  it("applies the routing rule its custom parameters match: listen-only (the bot's audio is not played) and not recorded", async () => {
    const s = await setup(2500);
    const { sid, conn } = await placeAnswered(s, 'quiet');
    conn.sendAudio(toneBytesPcm16le(600, 8000, 1000));
    expectSippPassed(await s.trunk);
    const report = await finalReport(s.webhook, sid);
    expect(report.recording).toBeUndefined();
    expect(existsSync(join(dir, `${sid}.wav`))).toBe(false);
    expect((report.media as { listen_only_ignored_ms: number }).listen_only_ignored_ms).toBeGreaterThan(900);
    // Silence frames went out all along, and none held the bot's tone.
    expect(s.peer.received.length).toBeGreaterThan(50);
    expect(rms(s.peer.audio('PCMA'))).toBeLessThan(20);
    await waitForIdle(s.bridge);
  });
});
