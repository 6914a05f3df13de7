// Key presses both ways: RFC 4733 events from SIPp on PT 96 (Exotel) and PT 101, SIP INFO, and the bot's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DtmfReceiver } from '../../src/media/dtmf.js';
import { TestBot, type BotConnection, type BotMessage } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { expectSippPassed, placeCall } from '../helpers/carrier.js';
import { callScenario, pause, playDtmf, playPcap, runSipp, sendInfo } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

// SIPp plays DTMF and pcap files through a raw socket, which needs root (CI runs as root).
const root = process.getuid?.() === 0;
if (!root) console.warn('skipping SIPp DTMF playback tests: SIPp needs root for play_dtmf/play_pcap_audio');

const PCAPS = '/usr/share/sip-tester';

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

const target = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });

const dtmfOf = (conn: BotConnection) =>
  conn.messages.filter((m): m is BotMessage & { dtmf: { digit: string; duration: string } } => m.event === 'dtmf').map((m) => m.dtmf);

describe('caller key presses reach the bot once each, in order', () => {
  it.skipIf(!root)("as RFC 4733 events on Exotel's payload type 96", async () => {
    const botIndex = bot.connections.length;
    const digits = '1234567890*#ABCD';
    const result = await runSipp({
      scenario: { xml: callScenario({ sdp: sdpOffer({ address: '[media_ip]', port: '[media_port]' }), afterAck: playDtmf(digits, 100) + pause(3600), flow: { kind: 'hangup', afterMs: 200 } }) },
      transport: 't1',
      target: target(),
    });
    expectSippPassed(result);
    const conn = await bot.connection(botIndex);
    await conn.waitForEvent('stop');
    const received = dtmfOf(conn);
    expect(received.map((d) => d.digit).join('')).toBe(digits);
    expect(received.every((d) => d.duration === '100')).toBe(true);
    const start = conn.messages.find((m) => m.event === 'start')!;
    const seqs = conn.messages.filter((m) => m !== start && m.event !== 'connected').map((m) => Number(m.sequence_number));
    expect(seqs).toEqual(seqs.map((_, i) => i + 2));
    await waitForIdle(bridge);
  });

  it.skipIf(!root)("as sip-tester's shipped RFC 2833 captures on payload type 101", async () => {
    const botIndex = bot.connections.length;
    const files = ['1', '2', 'pound', 'star', '9'];
    const result = await runSipp({
      scenario: {
        xml: callScenario({
          sdp: sdpOffer({ address: '[media_ip]', port: '[media_port]', formats: [{ pt: 8, rtpmap: 'PCMA/8000' }, { pt: 101, rtpmap: 'telephone-event/8000', fmtp: '0-16' }] }),
          afterAck: files.map((f) => playPcap(`${PCAPS}/dtmf_2833_${f}.pcap`) + pause(400)).join(''),
          flow: { kind: 'hangup', afterMs: 200 },
        }),
      },
      transport: 't1',
      target: target(),
    });
    expectSippPassed(result);
    const conn = await bot.connection(botIndex);
    await conn.waitForEvent('stop');
    expect(dtmfOf(conn)).toEqual(['1', '2', '#', '*', '9'].map((digit) => ({ digit, duration: '280' })));
    await waitForIdle(bridge);
  });

  it('as SIP INFO application/dtmf-relay and application/dtmf', async () => {
    const botIndex = bot.connections.length;
    const result = await runSipp({
      scenario: {
        xml: callScenario({
          sdp: sdpOffer(),
          afterAck: sendInfo(10, 'application/dtmf-relay', 'Signal=7\nDuration=160') + sendInfo(11, 'application/dtmf', '#') + sendInfo(12, 'application/dtmf-relay', 'Signal=10'),
          flow: { kind: 'hangup', afterMs: 300 },
        }),
      },
      transport: 'u1',
      target: { host: '127.0.0.1', port: bridge.sip.udp!.port },
    });
    expectSippPassed(result);
    const conn = await bot.connection(botIndex);
    await conn.waitForEvent('stop');
    expect(dtmfOf(conn)).toEqual([
      { digit: '7', duration: '160' },
      { digit: '#', duration: '0' },
      { digit: '*', duration: '0' },
    ]);
  });
});

describe('bot key presses reach the caller', () => {
  it('as RFC 4733 events on the negotiated payload type, between audio frames on one sequence', async () => {
    const caller = await RtpPeer.open();
    const { conn, sipp } = await placeCall(bot, {
      scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), flow: { kind: 'hangup', afterMs: 2000 } }) },
      transport: 't1',
      target: target(),
    });
    try {
      await conn.waitForEvent('start');
      conn.send({ event: 'dtmf', stream_sid: conn.streamSid, dtmf: { digit: '1' } });
      conn.send({ event: 'dtmf', stream_sid: conn.streamSid, dtmf: { digit: '#', duration: '200' } });
      conn.send({ event: 'dtmf', dtmf: { digit: 'X' } });
      await new Promise((r) => setTimeout(r, 900));
      expectSippPassed(await sipp);

      const events = caller.received.filter((p) => p.payloadType === 96);
      const rx = new DtmfReceiver();
      const digits = events.flatMap((p) => rx.packet(p.ssrc, p.timestamp, p.payload)).map((d) => `${d.digit}/${d.durationMs}`);
      expect(digits).toEqual(['1/100', '#/200']);
      expect(events.filter((p) => p.marker)).toHaveLength(2);
      expect(events.filter((p) => p.payload[1]! & 0x80)).toHaveLength(6);
      const all = caller.received;
      for (let i = 1; i < all.length; i++) expect((all[i]!.sequence - all[i - 1]!.sequence) & 0xffff).toBe(1);
      expect(new Set(all.map((p) => p.ssrc)).size).toBe(1);
    } finally {
      caller.close();
      await sipp;
    }
  });
});
