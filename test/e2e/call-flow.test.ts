// A carrier (SIPp) calls the bridge; an in-test bot checks what arrives and talks back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { decodeG711 } from '../../src/media/g711.js';
import { dominantFrequency, pcm16leToSamples, rms, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { cancelWhileBotConnects } from '../helpers/cancel-during-setup.js';
import { bridgeRtpAddress, expectSippPassed, placeCall } from '../helpers/carrier.js';
import { callScenario, runSipp, tracedMessages } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  const authUrl = new URL(bot.url);
  authUrl.username = 'key';
  authUrl.password = 's3cret';
  authUrl.pathname = '/auth';
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url },
    routes: [{ header: 'X-Customer-Header', equals: 'authbot', url: authUrl.href }],
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

function decodePacket(payload: Buffer): Int16Array {
  const out = new Int16Array(payload.length);
  decodeG711('PCMA', payload, out);
  return out;
}

function sipTarget(transport: 'u1' | 't1') {
  const listener = transport === 'u1' ? bridge.sip.udp! : bridge.sip.tcp!;
  return { host: '127.0.0.1', port: listener.port };
}

describe.each([
  ['TCP', 't1'],
  ['UDP', 'u1'],
] as const)('an Exotel-shaped call over %s', (_name, transport) => {
  it('streams the caller tone to the bot, the bot tone to the caller on a 20 ms clock, and ends with stop on BYE', async () => {
    const caller = await RtpPeer.open();
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), headers: [['X-Customer-Header', 'salesbot'], ['X-UUI', 'abc123']], flow: { kind: 'hangup', afterMs: 4000 } }) },
      transport,
      target: sipTarget(transport),
    });
    try {
      await conn.waitForEvent('start');
      const [connected, start] = conn.messages;
      expect(connected).toEqual({ event: 'connected' });
      expect(start).toMatchObject({
        event: 'start',
        sequence_number: '1',
        start: {
          call_sid: expect.stringMatching(/^sipp-call-/),
          account_sid: 'sipp-account',
          from: '+918888888888',
          to: '+911234567890',
          custom_parameters: { 'Customer-Header': 'salesbot', UUI: 'abc123' },
          media_format: { encoding: 'audio/x-raw', sample_rate: '8000', bit_rate: '16' },
        },
      });
      expect(conn.start!.stream_sid).toBe(conn.start!.start.stream_sid);
      expect(conn.url.searchParams.get('sample-rate')).toBe('8000');
      expect(conn.url.searchParams.get('Customer-Header')).toBe('salesbot');

      const bridgeRtp = await bridgeRtpAddress(caller);
      void caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000 * 2));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 15, 5000, '1.5 s of caller audio');
      const heard = pcm16leToSamples(conn.callerAudio());
      expect(Math.abs(dominantFrequency(heard.subarray(1600), 8000) - 1000)).toBeLessThanOrEqual(15);

      const before = caller.received.length;
      conn.sendAudio(toneBytesPcm16le(600, 8000, 1000));
      await new Promise((r) => setTimeout(r, 1300));
      const packets = caller.received.slice(before);
      const audio = caller.audio('PCMA');
      const botTone = audio.subarray(audio.length - (packets.length - 5) * 160);
      expect(Math.abs(dominantFrequency(botTone.subarray(0, 4000), 8000) - 600)).toBeLessThanOrEqual(15);
      const gaps = packets.slice(1).map((p, i) => p.at - packets[i]!.at).sort((a, b) => a - b);
      expect(gaps[Math.floor(gaps.length / 2)]).toBeGreaterThan(17);
      expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(23);
      for (let i = 1; i < packets.length; i++) {
        expect((packets[i]!.sequence - packets[i - 1]!.sequence) & 0xffff).toBe(1);
        expect((packets[i]!.timestamp - packets[i - 1]!.timestamp) >>> 0).toBe(160);
        expect(packets[i]!.ssrc).toBe(packets[0]!.ssrc);
      }

      await conn.waitForEvent('stop', 8000);
      const stop = conn.stop!;
      expect(stop.stop).toEqual({ call_sid: conn.start!.start.call_sid, account_sid: 'sipp-account', reason: 'callended' });
      expect(Number(stop.sequence_number)).toBe(conn.messages.length - 1);
      await conn.waitForClose();
      expectSippPassed(await sipp);
      await waitForIdle(bridge);
    } finally {
      caller.close();
      await sipp;
    }
  });
});

describe('media and bot connection details', () => {
  it('latches RTP to where the caller media really comes from (symmetric RTP behind NAT)', async () => {
    const advertised = await RtpPeer.open();
    const natted = await RtpPeer.open();
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: advertised.port }), flow: { kind: 'hangup', afterMs: 2500 } }) },
      transport: 't1',
      target: sipTarget('t1'),
    });
    try {
      const bridgeRtp = await bridgeRtpAddress(advertised);
      void natted.send(bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 8, 5000, 'caller audio');
      expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()).subarray(800), 8000) - 1000)).toBeLessThanOrEqual(15);
      const advertisedBefore = advertised.received.length;
      const nattedBefore = natted.received.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(advertised.received.length).toBe(advertisedBefore);
      expect(natted.received.length - nattedBefore).toBeGreaterThanOrEqual(12);
      expectSippPassed(await sipp);
    } finally {
      advertised.close();
      natted.close();
      await sipp;
    }
  });

  it('sends URL userinfo as Basic auth and puts sample-rate and custom parameters in the query', async () => {
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer(), headers: [['X-Customer-Header', 'authbot']], flow: { kind: 'hangup', afterMs: 500 } }) },
      transport: 'u1',
      target: sipTarget('u1'),
    });
    expect(conn.request.headers.authorization).toBe(`Basic ${Buffer.from('key:s3cret').toString('base64')}`);
    expect(conn.url.pathname).toBe('/auth');
    expect(conn.url.search).toBe('?sample-rate=8000&Customer-Header=authbot');
    expectSippPassed(await sipp);
    await waitForIdle(bridge);
  });
});

describe('the shipped SIPp scenario test/sipp/exotel-inbound.xml', () => {
  it('plays its 1 kHz PCMA tone to the bot and hangs up cleanly', async () => {
    const { conn, sipp } = await placeCall(bot, { scenario: { file: 'test/sipp/exotel-inbound.xml' }, transport: 't1', target: sipTarget('t1') });
    await conn.waitForEvent('stop', 15_000);
    const heard = pcm16leToSamples(conn.callerAudio());
    expect(heard.length).toBeGreaterThan(8000 * 3);
    expect(Math.abs(dominantFrequency(heard.subarray(8000), 8000) - 1000)).toBeLessThanOrEqual(15);
    expectSippPassed(await sipp);
    await waitForIdle(bridge);
  });

  it('ACKs a refusal and prints its status and Warning, failing the run, instead of "Unexpected message"', async () => {
    const refusing = await startTestBridge();
    try {
      const result = await runSipp({ scenario: { file: 'test/sipp/exotel-inbound.xml' }, transport: 't1', target: { host: '127.0.0.1', port: refusing.sip.tcp!.port } });
      expect(result.stderr).toContain('call refused: 404 Not Found (Warning: 399 sip-ws-bridge "no route matches the call and no default bot URL is configured")');
      expect(`${result.stdout}\n${result.stderr}\n${result.errors}`).not.toMatch(/unexpected message/i);
      expect(result.code).toBe(1);
      const acks = tracedMessages(result).filter((m) => m.startsWith('ACK '));
      expect(acks).toHaveLength(1);
      expect(acks[0]).toMatch(/^Via: .*;branch=z9hG4bK-\d+-1-invite;/m);
      await waitForIdle(refusing);
      expect(refusing.stats().sip.transactions).toBe(0);
    } finally {
      await refusing.stop();
    }
  });
});

describe('hangups', () => {
  it('plays out what the bot queued, then sends BYE when the bot closes', async () => {
    const caller = await RtpPeer.open();
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), flow: { kind: 'await-bye', timeoutMs: 10_000 } }) },
      transport: 't1',
      target: sipTarget('t1'),
    });
    try {
      await conn.waitForEvent('start');
      conn.sendAudio(toneBytesPcm16le(800, 8000, 600));
      conn.ws.close(1000, 'goodbye');
      const result = await sipp;
      expectSippPassed(result);
      const bye = tracedMessages(result).find((m) => m.startsWith('BYE '));
      expect(bye).toBeDefined();
      const loud = caller.received.filter((p) => rms(decodePacket(p.payload)) > 2000);
      expect(loud.length).toBeGreaterThanOrEqual(29);
      const played = Int16Array.from(loud.flatMap((p) => [...decodePacket(p.payload)]));
      expect(Math.abs(dominantFrequency(played, 8000) - 800)).toBeLessThanOrEqual(15);
      expect(conn.messages.some((m) => m.event === 'stop')).toBe(false);
      await waitForIdle(bridge);
    } finally {
      caller.close();
    }
  });

  it('answers CANCEL during bot setup with 200 and 487, abandoning the bot connection', async () => {
    await cancelWhileBotConnects({}, (result) => {
      const trace = tracedMessages(result);
      expect(trace.some((m) => m.startsWith('SIP/2.0 200') && /CSeq:\s*1 CANCEL/.test(m))).toBe(true);
      expect(trace.some((m) => m.startsWith('SIP/2.0 487'))).toBe(true);
    });
  });
});

describe('setup failures on the wire', () => {
  it('answers a PCMU-only offer with PCMU and carries its audio', async () => {
    const caller = await RtpPeer.open();
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port, formats: [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 101, rtpmap: 'telephone-event/8000', fmtp: '0-16' }] }), flow: { kind: 'hangup', afterMs: 2500 } }) },
      transport: 't1',
      target: sipTarget('t1'),
    });
    try {
      const bridgeRtp = await bridgeRtpAddress(caller);
      expect(caller.received[0]!.payloadType).toBe(0);
      void caller.send(bridgeRtp, 'PCMU', tone(1000, 8000, 8000 * 2));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 12, 5000, 'caller audio');
      expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()).subarray(1600), 8000) - 1000)).toBeLessThanOrEqual(15);
      const result = await sipp;
      expectSippPassed(result);
      const ok = tracedMessages(result).find((m) => m.startsWith('SIP/2.0 200') && /CSeq:\s*1 INVITE/.test(m))!;
      expect(ok).toMatch(/m=audio \d+ RTP\/AVP 0 101\r?\n/);
      expect(ok).toMatch(/a=rtpmap:0 PCMU\/8000/);
      expect(ok).not.toMatch(/PCMA/);
    } finally {
      caller.close();
      await sipp;
    }
  });

  it('answers an offer without a common codec with 488 and a Warning', async () => {
    const result = await runSipp({
      scenario: { xml: callScenario({ sdp: sdpOffer({ formats: [{ pt: 18, rtpmap: 'G729/8000' }] }), flow: { kind: 'reject', status: 488 } }) },
      transport: 'u1',
      target: sipTarget('u1'),
    });
    expectSippPassed(result);
    const rejection = tracedMessages(result).find((m) => m.startsWith('SIP/2.0 488'))!;
    expect(rejection).toMatch(/^Warning: 305 sip-ws-bridge "no common codec: offered G729; supported PCMA, PCMU"/m);
    await waitForIdle(bridge);
  });

  it('answers a call no route takes with 404 and the reason, and an unreachable bot with 480', async () => {
    const routed = await startTestBridge({
      bot: { connectTimeoutMs: 500, connectRetries: 0 },
      routes: [{ header: 'X-Customer-Header', equals: 'deadbot', url: 'ws://127.0.0.1:9/nobody' }],
    });
    try {
      const target = { host: '127.0.0.1', port: routed.sip.tcp!.port };
      const unrouted = await runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer(), headers: [['X-Customer-Header', 'unknown']], flow: { kind: 'reject', status: 404 } }) },
        transport: 't1',
        target,
      });
      expectSippPassed(unrouted);
      expect(tracedMessages(unrouted).find((m) => m.startsWith('SIP/2.0 404'))).toMatch(/^Warning: 399 sip-ws-bridge "no route matches the call and no default bot URL is configured"/m);

      const unreachable = await runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer(), headers: [['X-Customer-Header', 'deadbot']], flow: { kind: 'reject', status: 480 } }) },
        transport: 't1',
        target,
      });
      expectSippPassed(unreachable);
      expect(tracedMessages(unreachable).find((m) => m.startsWith('SIP/2.0 480'))).toMatch(/^Warning: 399 sip-ws-bridge "bot unreachable: .*ECONNREFUSED/m);
      await waitForIdle(routed);
    } finally {
      await routed.stop();
    }
  });
});

// A contact centre's PBX calls the bridge as it would call StreamKit: X-Account-Sid beside its custom headers.
describe('the account of a call from a PBX', () => {
  const pbxCall = async (headers: Array<[string, string]>, exotelHeaders: boolean) => {
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer(), headers, exotelHeaders, flow: { kind: 'hangup', afterMs: 300 } }) },
      transport: 't1',
      target: sipTarget('t1'),
    });
    await conn.waitForEvent('start');
    expectSippPassed(await sipp);
    await conn.waitForEvent('stop', 5000);
    return { start: conn.start!.start, stop: conn.stop!.stop };
  };

  it('takes X-Account-Sid as account_sid, not as a custom parameter', async () => {
    const headers: Array<[string, string]> = [['X-Account-Sid', 'pbx-account-7'], ['X-Customer-Header', 'salesbot'], ['X-UUI', 'u'.repeat(45)]];
    const { start, stop } = await pbxCall(headers, false);
    expect(start.account_sid).toBe('pbx-account-7');
    expect(start.custom_parameters).toEqual({ 'Customer-Header': 'salesbot', UUI: 'u'.repeat(45) });
    expect(stop.account_sid).toBe('pbx-account-7');
  });

  it('prefers X-Exotel-AccountSid when both are present', async () => {
    const { start } = await pbxCall([['X-Account-Sid', 'pbx-account-7'], ['X-Customer-Header', 'salesbot']], true);
    expect(start.account_sid).toBe('sipp-account');
    expect(start.custom_parameters).toEqual({ 'Customer-Header': 'salesbot' });
  });
});
