// Calls to bots of the other protocols (routes[].protocol): Twilio Media Streams and raw PCM, with the carrier played
// by SIPp and a caller media leg of the test's own; exact message shapes, audio both ways, marks, clear, DTMF, bad
// bot input, and the upgrade request's headers (present at the bot, absent from the logs).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/bridge.js';
import { parseConfig } from '../../src/config/index.js';
import { encodeG711 } from '../../src/media/g711.js';
import { dominantFrequency, rms, samplesToPcm16le, tone } from '../helpers/audio.js';
import { bridgeRtpAddress, expectSippPassed } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { sdpOffer } from '../helpers/sip-messages.js';
import { callScenario, runSipp, type SippResult } from '../helpers/sipp.js';
import { expectTwilioShapes, startWireBot, type WireBot, type WireConnection } from '../helpers/twilio-bot.js';

const TWILIO_TOKEN = 'Bearer twilio-secret-6c1f';
const API_KEY = 'api-key-secret-93ab';

let twilioBot: WireBot;
let rawBot: WireBot;
let bridge: Bridge;
const logLines: string[] = [];

beforeAll(async () => {
  twilioBot = await startWireBot();
  rawBot = await startWireBot();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const config = parseConfig(
    {
      sip: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 } },
      http: { host: '127.0.0.1', port: 0 },
      media: { address: '127.0.0.1', rtpPorts: { min: 20000, max: 29999 } },
      bot: { connectTimeoutMs: 2000, headers: { 'X-Api-Key': API_KEY } },
      routes: [
        { header: 'X-Bot-Protocol', equals: 'twilio', url: twilioBot.url, protocol: 'twilio', headers: { Authorization: TWILIO_TOKEN } },
        { header: 'X-Bot-Protocol', equals: 'raw', url: rawBot.url, protocol: 'raw', sampleRate: 16000 },
      ],
      limits: { maxClockLagMs: 0, maxEventLoopUtilization: 1 },
    },
    'bot-protocols test',
  );
  bridge = await startBridge(config, pino({ level: 'debug' }, sink));
});

afterAll(async () => {
  await bridge?.stop();
  await twilioBot?.close();
  await rawBot?.close();
});

const PCMU_ONLY = [
  { pt: 0, rtpmap: 'PCMU/8000' },
  { pt: 96, rtpmap: 'telephone-event/8000', fmtp: '0-15' },
];
const PCMA_ONLY = [
  { pt: 8, rtpmap: 'PCMA/8000' },
  { pt: 96, rtpmap: 'telephone-event/8000', fmtp: '0-15' },
];

interface Placed {
  conn: WireConnection;
  sipp: Promise<SippResult>;
  bridgeRtp: { address: string; port: number };
}

async function place(bot: WireBot, protocol: string, caller: RtpPeer, formats: typeof PCMU_ONLY, ms: number): Promise<Placed> {
  const index = bot.connections.length;
  const sipp = runSipp({
    scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port, formats }), headers: [['X-Bot-Protocol', protocol]], flow: { kind: 'hangup', afterMs: ms } }) },
    transport: 't1',
    target: { host: '127.0.0.1', port: bridge.sip.tcp!.port },
  });
  const conn = await bot.connection(index);
  await conn.waitForEvent('start');
  return { conn, sipp, bridgeRtp: await bridgeRtpAddress(caller) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last `ms` of what the caller heard in `codec`. */
function heard(caller: RtpPeer, codec: 'PCMU' | 'PCMA', fromPacket: number): Int16Array {
  const pt = codec === 'PCMU' ? 0 : 8;
  const fresh = caller.received.slice(fromPacket).filter((p) => p.payloadType === pt);
  const all = caller.audio(codec);
  return all.subarray(all.length - fresh.length * 160);
}

/** The `call ended` log record of the call `callSid`, once it is written. */
async function endedRecord(callSid: string): Promise<{ botMessagesRefused?: Record<string, number> }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const line = logLines.find((l) => l.includes('"call ended"') && l.includes(`"call_sid":"${callSid}"`));
    if (line) return JSON.parse(line) as { botMessagesRefused?: Record<string, number> };
    if (Date.now() > deadline) throw new Error(`no "call ended" log for ${callSid}`);
    await sleep(50);
  }
}

describe('twilio protocol', () => {
  it('speaks Media Streams exactly: PCMU passed through byte for byte, tones both ways, DTMF, marks, clear, bad input', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp, bridgeRtp } = await place(twilioBot, 'twilio', caller, PCMU_ONLY, 6500);
      // The upgrade request's headers: the route's, the bot's, and ours.
      expect(conn.request.headers.authorization).toBe(TWILIO_TOKEN);
      expect(conn.request.headers['x-api-key']).toBe(API_KEY);
      expect(conn.request.headers['user-agent']).toMatch(/^sip-ws-bridge\/\d+\.\d+\.\d+/);
      const streamSid = String(conn.messages[1]!.streamSid);

      // Caller -> bot: the PCMU bytes the caller sent are the bytes the bot gets.
      const sent = tone(1000, 8000, 8000);
      await caller.send(bridgeRtp, 'PCMU', sent);
      await conn.until(() => conn.mulawPayloads().length >= 8000, 'a second of caller audio');
      const expected = Buffer.alloc(8000);
      encodeG711('PCMU', sent, 0, 8000, expected, 0);
      expect(conn.mulawPayloads().equals(expected)).toBe(true);
      expect(Math.abs(dominantFrequency(conn.twilioAudio().subarray(1600, 6400), 8000) - 1000)).toBeLessThanOrEqual(15);

      // Caller DTMF.
      await caller.sendDtmf(bridgeRtp, 96, ['5'], 100);
      await conn.waitForEvent('dtmf');
      expect(conn.events('dtmf')[0]!.dtmf).toEqual({ track: 'inbound_track', digit: '5' });

      // Bot -> caller: a 600 Hz tone, then its mark once it has played.
      let before = caller.received.length;
      conn.sendTwilioAudio(streamSid, tone(600, 8000, 6400));
      conn.send({ event: 'mark', streamSid, mark: { name: 'tone-done' } });
      await conn.until(() => conn.events('mark').length >= 1, 'mark tone-done', 5000);
      expect(conn.events('mark')[0]!.mark).toEqual({ name: 'tone-done' });
      expect(Math.abs(dominantFrequency(heard(caller, 'PCMU', before).subarray(800, 4800), 8000) - 600)).toBeLessThanOrEqual(15);

      // Bad input: logged, counted, and the call goes on.
      conn.send('this is not JSON');
      conn.send({ event: 'media', streamSid, media: { payload: '***' } });
      conn.send({ event: 'mark', streamSid, mark: {} });
      conn.sendBinary(Buffer.alloc(320));
      conn.send({ event: 'bogus', streamSid });

      // clear: 3 s of audio cut short; its mark is answered at once.
      conn.sendTwilioAudio(streamSid, tone(600, 8000, 24000));
      conn.send({ event: 'mark', streamSid, mark: { name: 'long' } });
      await sleep(300);
      const cleared = Date.now();
      conn.send({ event: 'clear', streamSid });
      await conn.until(() => conn.events('mark').length >= 2, 'mark long', 2000);
      expect(Date.now() - cleared).toBeLessThan(500);
      before = caller.received.length;
      await sleep(300);
      expect(rms(heard(caller, 'PCMU', before))).toBeLessThan(50);

      expectSippPassed(await sipp);
      await conn.waitForEvent('stop');
      expectTwilioShapes(conn, { callSid: String((conn.messages[1]!.start as { callSid: string }).callSid), customParameters: { 'Bot-Protocol': 'twilio' } });
      expect((conn.messages[1]!.start as { callSid: string }).callSid).toMatch(/^sipp-call-/);
      const callSid = (conn.messages[1]!.start as { callSid: string }).callSid;
      expect((await endedRecord(callSid)).botMessagesRefused).toEqual({ invalid: 4, oversize: 0, unknownEvent: 1 });
      // Header values never reach the logs.
      const logs = logLines.join('\n');
      expect(logs).not.toContain('twilio-secret');
      expect(logs).not.toContain(API_KEY);
    } finally {
      caller.close();
    }
  });

  it('transcodes a PCMA caller to mu-law', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp, bridgeRtp } = await place(twilioBot, 'twilio', caller, PCMA_ONLY, 1800);
      await caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      expectSippPassed(await sipp);
      await conn.waitForEvent('stop');
      const audio = conn.twilioAudio();
      expect(audio.length).toBeGreaterThanOrEqual(7200);
      expect(Math.abs(dominantFrequency(audio.subarray(1600, 6400), 8000) - 1000)).toBeLessThanOrEqual(15);
      expectTwilioShapes(conn, { callSid: String((conn.messages[1]!.start as { callSid: string }).callSid), customParameters: { 'Bot-Protocol': 'twilio' } });
    } finally {
      caller.close();
    }
  });
});

describe('raw protocol', () => {
  it('sends a metadata frame, then binary PCM both ways, with marks, DTMF and bad input as JSON text', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp, bridgeRtp } = await place(rawBot, 'raw', caller, PCMA_ONLY, 4500);
      expect(conn.order[0]).toBe('t');
      const meta = conn.messages[0]!;
      expect(meta).toEqual({
        event: 'start',
        call_sid: expect.stringMatching(/^sipp-call-/),
        stream_sid: expect.any(String),
        account_sid: 'sipp-account',
        from: '+918888888888',
        to: '+911234567890',
        custom_parameters: { 'Bot-Protocol': 'raw' },
        sample_rate: 16000,
        encoding: 'audio/l16',
        direction: 'inbound',
      });
      expect(conn.request.headers['x-api-key']).toBe(API_KEY);
      expect(conn.request.headers.authorization).toBeUndefined();

      // Caller -> bot: 16 kHz PCM in binary frames.
      await caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      await conn.until(() => conn.rawAudio().length >= 14000, 'caller audio');
      const audio = conn.rawAudio();
      const start = audio.findIndex((s) => Math.abs(s) > 1000);
      expect(Math.abs(dominantFrequency(audio.subarray(start + 3200, start + 12800), 16000) - 1000)).toBeLessThanOrEqual(20);

      // Caller DTMF as JSON.
      await caller.sendDtmf(bridgeRtp, 96, ['7'], 100);
      await conn.waitForEvent('dtmf');
      expect(conn.events('dtmf')[0]).toEqual({ event: 'dtmf', digit: '7', duration_ms: expect.any(Number) });

      // Bad input: an odd byte count, not JSON, a bad digit, an unknown event.
      conn.sendBinary(Buffer.alloc(321));
      conn.send('nope');
      conn.send({ event: 'dtmf', digit: 'X' });
      conn.send({ event: 'hello' });

      // Bot -> caller: binary 16 kHz PCM (odd-sized frames of whole samples), then a mark.
      const before = caller.received.length;
      const pcm = samplesToPcm16le(tone(600, 16000, 12800));
      for (let offset = 0; offset < pcm.length; offset += 1002) conn.sendBinary(pcm.subarray(offset, offset + 1002));
      conn.send({ event: 'mark', name: 'played' });
      await conn.until(() => conn.events('mark').length >= 1, 'mark played', 5000);
      expect(conn.events('mark')[0]).toEqual({ event: 'mark', name: 'played' });
      expect(Math.abs(dominantFrequency(heard(caller, 'PCMA', before).subarray(800, 4800), 8000) - 600)).toBeLessThanOrEqual(15);

      // Bot DTMF toward the caller, as RFC 4733 events.
      const beforeDtmf = caller.received.length;
      conn.send({ event: 'dtmf', digit: '3', duration_ms: 100 });
      await sleep(400);
      expect(caller.received.slice(beforeDtmf).some((p) => p.payloadType === 96)).toBe(true);

      expectSippPassed(await sipp);
      await conn.waitForEvent('stop');
      expect(conn.events('stop')[0]).toEqual({ event: 'stop', reason: 'callended' });
      expect((await endedRecord(String(meta.call_sid))).botMessagesRefused).toEqual({ invalid: 3, oversize: 0, unknownEvent: 1 });
    } finally {
      caller.close();
    }
  });
});
