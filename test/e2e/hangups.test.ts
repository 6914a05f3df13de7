// Hangups and their races, each ending with the bridge holding no call, socket, port or timer of that call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, okTo, sdpOffer } from '../helpers/sip-messages.js';
import { RtpPeer } from '../helpers/rtp-peer.js';

/** Node's live handles by kind (timers, UDP and TCP sockets...), as the process reports them. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function expectHandlesBackTo(baseline: Record<string, number>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = handles();
    const grown = Object.keys(now).filter((k) => (now[k] ?? 0) > (baseline[k] ?? 0));
    if (grown.length === 0) return;
    if (Date.now() > deadline) throw new Error(`handles left over: ${grown.map((k) => `${k} ${baseline[k] ?? 0} -> ${now[k]}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let bot: TestBot;
let deafBot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  deafBot = await TestBot.start({ autoPong: false });
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url, drainTimeoutMs: 1000, pingIntervalMs: 300 },
    routes: [{ header: 'X-Customer-Header', equals: 'deaf', url: deafBot.url }],
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await deafBot?.close();
});

interface Established {
  client: SipTestClient;
  caller: RtpPeer;
  ok: SipResponse;
  botIndex: number;
}

/** An answered, ACKed call over TCP from a bare SIP client, its media leg on `caller`. */
async function establish(callId: string, headers: Array<[string, string]> = [], botServer = bot): Promise<Established> {
  const client = await SipTestClient.open('tcp', { host: '127.0.0.1', port: bridge.sip.tcp!.port });
  const caller = await RtpPeer.open();
  const botIndex = botServer.connections.length;
  client.send(exotelInvite({ callId, port: bridge.sip.tcp!.port, localPort: client.localPort, sdp: sdpOffer({ port: caller.port }), headers }));
  const ok = await client.response(200, 'INVITE');
  client.send(inDialogRequest('ACK', client, ok, 1));
  return { client, caller, ok, botIndex };
}

const byes = (client: SipTestClient) => client.count((m) => m.kind === 'request' && m.method === 'BYE');

describe('hangups', () => {
  it('bounds the play-out after the bot closes by the drain timeout, then sends BYE', async () => {
    const baseline = handles();
    const { client, caller, botIndex } = await establish('drain-1');
    try {
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.sendAudio(toneBytesPcm16le(500, 8000, 5000), 16_000);
      await new Promise((r) => setTimeout(r, 200));
      const closedAt = Date.now();
      conn.ws.close();
      const bye = await client.request('BYE', 5000);
      const waited = Date.now() - closedAt;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(1500);
      client.send(okTo(bye));
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
    }
    await expectHandlesBackTo(baseline);
  });

  it('answers a BYE sent right behind the ACK, stops the bot once, and leaks nothing', async () => {
    const baseline = handles();
    const client = await SipTestClient.open('tcp', { host: '127.0.0.1', port: bridge.sip.tcp!.port });
    const caller = await RtpPeer.open();
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'quick-bye', port: bridge.sip.tcp!.port, localPort: client.localPort, sdp: sdpOffer({ port: caller.port }) }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1) + inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      const conn = await bot.connection(botIndex);
      await conn.waitForClose();
      expect(conn.messages.filter((m) => m.event === 'stop')).toHaveLength(1);
      expect(conn.stop!.stop.reason).toBe('callended');
      await waitForIdle(bridge);
      expect(byes(client)).toBe(0);
    } finally {
      client.close();
      caller.close();
    }
    await expectHandlesBackTo(baseline);
  });

  it('makes exactly one BYE/200 exchange when the caller hangs up as the bot closes', async () => {
    const baseline = handles();
    const { client, caller, ok, botIndex } = await establish('glare-1');
    try {
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.ws.close();
      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      await waitForIdle(bridge);
      await new Promise((r) => setTimeout(r, 200));
      expect(byes(client)).toBe(0);
      expect(client.count((m) => m.kind === 'response' && m.cseq.method === 'BYE')).toBe(1);
      expect(conn.messages.filter((m) => m.event === 'stop').length).toBeLessThanOrEqual(1);
    } finally {
      client.close();
      caller.close();
    }
    await expectHandlesBackTo(baseline);
  });

  it('abandons a bot still connecting when the caller cancels, and leaks nothing', async () => {
    const slowBot = await TestBot.start({ handshakeDelayMs: 800 });
    const slow = await startTestBridge({ bot: { defaultUrl: slowBot.url } });
    const baseline = handles();
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: slow.sip.udp!.port });
    try {
      const invite = exotelInvite({ callId: 'cancel-connecting', transport: 'UDP', port: slow.sip.udp!.port, localPort: client.localPort, branch: 'z9hG4bK-cc-1' });
      client.send(invite);
      await client.response(100, 'INVITE');
      client.send(
        invite
          .toString()
          .replace(/^INVITE/, 'CANCEL')
          .replace('CSeq: 1 INVITE', 'CSeq: 1 CANCEL')
          .replace(/Content-Type: application\/sdp\r\nContent-Length: \d+\r\n\r\n[\s\S]*$/, 'Content-Length: 0\r\n\r\n'),
      );
      await client.response(200, 'CANCEL');
      await client.response(487, 'INVITE');
      await waitForIdle(slow);
      await new Promise((r) => setTimeout(r, 1000));
      expect(slowBot.connections.every((c) => c.closed)).toBe(true);
    } finally {
      client.close();
      await slow.stop();
      await slowBot.close();
    }
    await expectHandlesBackTo(baseline);
  });

  it('ends a call at the maximum duration with BYE and stop "stopped"', async () => {
    const short = await startTestBridge({ bot: { defaultUrl: bot.url }, limits: { maxCallDurationMs: 1500 } });
    const client = await SipTestClient.open('tcp', { host: '127.0.0.1', port: short.sip.tcp!.port });
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'max-duration', port: short.sip.tcp!.port, localPort: client.localPort }));
      const ok = await client.response(200, 'INVITE');
      const answeredAt = Date.now();
      client.send(inDialogRequest('ACK', client, ok, 1));
      const bye = await client.request('BYE', 4000);
      expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(1400);
      client.send(okTo(bye));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('stop');
      expect(conn.stop!.stop.reason).toBe('stopped');
      await waitForIdle(short);
    } finally {
      client.close();
      await short.stop();
    }
  });

  it('treats a bot that stops answering WebSocket pings as gone, and hangs up', async () => {
    const baseline = handles();
    const { client, caller } = await establish('deaf-1', [['X-Customer-Header', 'deaf']], deafBot);
    try {
      const bye = await client.request('BYE', 3000);
      client.send(okTo(bye));
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
    }
    await expectHandlesBackTo(baseline);
  });
});
