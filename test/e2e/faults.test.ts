// Limits and faults: admission (concurrent calls, INVITE rate), a bot that drops (hang up, or reconnect once), and a
// caller that vanishes (no RTP, or its TCP connection gone). Each ends as described, leaving nothing behind.
import { afterEach, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { BridgeConfigInput } from '../../src/config/index.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { dominantFrequency, pcm16leToSamples, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot, type TestBotOptions } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { answeredCall, bridgeRtpAddress, type AnsweredCall } from '../helpers/carrier.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, okTo } from '../helpers/sip-messages.js';
import { hogEventLoop } from '../helpers/stall.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(overrides: BridgeConfigInput = {}, botOptions: TestBotOptions = {}): Promise<{ bot: TestBot; bridge: Bridge }> {
  const bot = await TestBot.start(botOptions);
  cleanup.push(() => bot.close());
  const bridge = await startTestBridge({ ...overrides, bot: { defaultUrl: bot.url, ...overrides.bot } });
  cleanup.push(() => bridge.stop());
  return { bot, bridge };
}

/** An answered call whose sockets the test's cleanup closes. */
async function call(bridge: Bridge, bot: TestBot, callId: string): Promise<AnsweredCall> {
  const leg = await answeredCall(bridge.sip.tcp!, bot, callId);
  cleanup.push(() => leg.close());
  return leg;
}

describe('admission', () => {
  it('answers calls beyond maxConcurrentCalls with 503 and Retry-After', async () => {
    const { bot, bridge } = await setup({ limits: { maxConcurrentCalls: 1 } });
    const first = await call(bridge, bot, 'first');
    const second = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    cleanup.push(() => second.close());
    second.send(exotelInvite({ callId: 'second', transport: 'UDP', port: bridge.sip.udp!.port, localPort: second.localPort }));
    const refused = await second.response(503, 'INVITE');
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.headers.get('warning')).toBe('399 sip-ws-bridge "1 calls in progress, the limit is 1"');
    first.client.send(inDialogRequest('BYE', first.client, first.ok, 2));
    await first.client.response(200, 'BYE');
    await waitForIdle(bridge);
  });

  it("answers INVITEs beyond a source's rate with 503 and Retry-After", async () => {
    const { bridge } = await setup({ limits: { invitesPerSecondPerSource: 1 }, bot: { defaultUrl: 'ws://127.0.0.1:9/' } });
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    cleanup.push(() => client.close());
    for (const id of ['r1', 'r2']) client.send(exotelInvite({ callId: id, transport: 'UDP', port: bridge.sip.udp!.port, localPort: client.localPort, branch: `z9hG4bK-${id}` }));
    const limited = (await client.waitFor((m) => m.kind === 'response' && m.status === 503, '503')) as SipResponse;
    expect(limited.callId).toBe('r2');
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.headers.get('warning')).toContain('more than 1 INVITEs per second from 127.0.0.1');
    await waitForIdle(bridge);
  });
});

describe('overload', () => {
  // Each guard against an event loop kept busier than it should be, as an overloaded bridge's is.
  const guards = [
    {
      what: 'the media clock runs late',
      limits: { maxClockLagMs: 100 },
      stall: { ms: 150, everyMs: 10, forMs: 2000 },
      measure: (bridge: Bridge) => bridge.stats().clockLagMs,
      limit: 100,
      warning: /^399 sip-ws-bridge "overloaded: the media clock ran \d+ ms late, the limit is 100"$/,
    },
    {
      what: 'the event loop has no room left',
      limits: { maxEventLoopUtilization: 0.5 },
      stall: { ms: 30, everyMs: 5, forMs: 1200 },
      measure: (bridge: Bridge) => bridge.stats().eventLoopUtilization,
      limit: 0.5,
      warning: /^399 sip-ws-bridge "overloaded: the event loop was busy \d+\.\d % of the last second, the limit is 50 %"$/,
    },
  ];

  for (const { what, limits, stall, measure, limit, warning } of guards) {
    it(`refuses new calls with 503 while ${what}, and takes them again once it is over`, async () => {
      const { bot, bridge } = await setup({ limits });
      // The clock, which the guards watch, runs while a call is up.
      const running = await call(bridge, bot, 'running');
      const stopHog = hogEventLoop(stall.ms, stall.everyMs);
      cleanup.push(stopHog);
      await new Promise((r) => setTimeout(r, stall.forMs));
      expect(measure(bridge)).toBeGreaterThan(limit);

      const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
      cleanup.push(() => client.close());
      client.send(exotelInvite({ callId: 'while-overloaded', transport: 'UDP', port: bridge.sip.udp!.port, localPort: client.localPort }));
      const refused = await client.response(503, 'INVITE');
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.headers.get('warning')).toMatch(warning);

      stopHog();
      const deadline = Date.now() + 3000;
      while (measure(bridge) > limit && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const later = await call(bridge, bot, 'later');
      for (const leg of [running, later]) {
        leg.client.send(inDialogRequest('BYE', leg.client, leg.ok, 2));
        await leg.client.response(200, 'BYE');
      }
      await waitForIdle(bridge);
    });
  }

  it("refuses new calls with 503 while the signaling thread's event loop has no room left, the media being in workers", async () => {
    const { bot, bridge } = await setup({ limits: { maxEventLoopUtilization: 0.5 }, media: { workers: 1 } });
    const running = await call(bridge, bot, 'running-in-worker');
    const stopHog = hogEventLoop(30, 5);
    cleanup.push(stopHog);
    await new Promise((r) => setTimeout(r, 1200));
    // The worker's loop, which the media guards watch, is not the one kept busy.
    expect(bridge.stats().eventLoopUtilization).toBeLessThan(0.5);
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    cleanup.push(() => client.close());
    client.send(exotelInvite({ callId: 'while-signaling-busy', transport: 'UDP', port: bridge.sip.udp!.port, localPort: client.localPort }));
    const refused = await client.response(503, 'INVITE');
    expect(refused.headers.get('warning')).toMatch(/^399 sip-ws-bridge "overloaded: the signaling event loop \(SIP, API\) was busy \d+\.\d % of the last second, the limit is 50 %"$/);
    stopHog();
    await new Promise((r) => setTimeout(r, 1200));
    const later = await call(bridge, bot, 'later-in-worker');
    for (const leg of [running, later]) {
      leg.client.send(inDialogRequest('BYE', leg.client, leg.ok, 2));
      await leg.client.response(200, 'BYE');
    }
    await waitForIdle(bridge);
  });
});

describe('a bot that does not answer', () => {
  it('is given connectTimeoutMs per attempt and one retry, then the INVITE fails with 480 and the reason', async () => {
    const { bot, bridge } = await setup({ bot: { connectTimeoutMs: 300 } }, { handshakeDelayMs: 1500 });
    const client = await SipTestClient.open('tcp', bridge.sip.tcp!);
    cleanup.push(() => client.close());
    const sent = Date.now();
    client.send(exotelInvite({ callId: 'mute-bot', port: bridge.sip.tcp!.port, localPort: client.localPort }));
    const refused = await client.response(480, 'INVITE');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(550);
    expect(refused.headers.get('warning')).toMatch(/^399 sip-ws-bridge "bot unreachable: .*handshake has timed out/);
    expect(bot.attempts).toBe(2);
    await waitForIdle(bridge);
  });

  it('answers the call when the retry gets through', async () => {
    const { bot, bridge } = await setup({ bot: { connectTimeoutMs: 300 } }, { handshakeDelayMs: (attempt: number) => (attempt === 0 ? 1500 : 0) });
    const leg = await call(bridge, bot, 'second-try');
    expect(bot.attempts).toBe(2);
    leg.client.send(inDialogRequest('BYE', leg.client, leg.ok, 2));
    await leg.client.response(200, 'BYE');
    await waitForIdle(bridge);
  });
});

describe('a bot that drops', () => {
  it('hangs up with BYE by default', async () => {
    const { bot, bridge } = await setup();
    const { client, conn } = await call(bridge, bot, 'drop-hangup');
    conn.ws.terminate();
    const bye = await client.request('BYE', 3000);
    client.send(okTo(bye));
    await waitForIdle(bridge);
  });

  it('with onDrop: reconnect, connects again once with the same stream_sid and a new start, and audio flows again', async () => {
    const { bot, bridge } = await setup({ bot: { onDrop: 'reconnect' } });
    const { client, caller, ok, conn } = await call(bridge, bot, 'drop-reconnect');
    void caller.send(await bridgeRtpAddress(caller), 'PCMA', tone(1000, 8000, 8000 * 3));
    conn.ws.terminate();
    const again = await bot.connection(1);
    await again.waitForEvent('start');
    expect(again.messages[0]).toEqual({ event: 'connected' });
    expect(again.start).toMatchObject({ sequence_number: '1', stream_sid: conn.streamSid, start: { stream_sid: conn.streamSid, call_sid: conn.start!.start.call_sid } });
    await again.until((m) => m.filter((x) => x.event === 'media').length >= 5, 3000, 'caller audio on the new connection');
    expect(Math.abs(dominantFrequency(pcm16leToSamples(again.callerAudio()), 8000) - 1000)).toBeLessThanOrEqual(15);
    const before = caller.received.length;
    again.sendAudio(toneBytesPcm16le(600, 8000, 600));
    await new Promise((r) => setTimeout(r, 800));
    const audio = caller.audio('PCMA');
    expect(Math.abs(dominantFrequency(audio.subarray(audio.length - (caller.received.length - before) * 160).subarray(0, 4000), 8000) - 600)).toBeLessThanOrEqual(15);
    expect(client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);

    // A second drop is not retried: the call ends.
    again.ws.terminate();
    const bye = await client.request('BYE', 3000);
    client.send(okTo(bye));
    await waitForIdle(bridge);
    expect(bot.connections).toHaveLength(2);
    void ok;
  });

  it('hangs up when the reconnection fails', async () => {
    const { bot, bridge } = await setup({ bot: { onDrop: 'reconnect', connectTimeoutMs: 500 } });
    const { client, conn } = await call(bridge, bot, 'drop-no-way-back');
    await bot.close();
    conn.ws.terminate();
    const bye = await client.request('BYE', 5000);
    client.send(okTo(bye));
    await waitForIdle(bridge);
  });
});

describe('a caller that vanishes', () => {
  it('is hung up on after rtpTimeoutMs without RTP, and the bot gets stop "stopped"', async () => {
    const { bot, bridge } = await setup({ media: { rtpTimeoutMs: 1000 } });
    const { client, caller, conn } = await call(bridge, bot, 'no-rtp');
    await caller.send(await bridgeRtpAddress(caller), 'PCMA', tone(1000, 8000, 4000));
    const stoppedAt = Date.now();
    const bye = await client.request('BYE', 3000);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(900);
    client.send(okTo(bye));
    await conn.waitForEvent('stop');
    expect(conn.stop!.stop.reason).toBe('stopped');
    await waitForIdle(bridge);
  });

  it('ends the call when its TCP connection is lost, with stop "callended" and no BYE to send', async () => {
    const { bot, bridge } = await setup();
    const { client, conn } = await call(bridge, bot, 'tcp-lost');
    client.close();
    await conn.waitForEvent('stop');
    expect(conn.stop!.stop.reason).toBe('callended');
    await waitForIdle(bridge);
  });
});
