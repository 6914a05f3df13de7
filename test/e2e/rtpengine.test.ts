// The production media path: rtpengine (Debian's daemon, userspace forwarding) faces the carrier and relays to the
// bridge. Plain RTP audio both ways, SDES-SRTP offers, and failures of rtpengine itself.
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { DtmfReceiver } from '../../src/media/dtmf.js';
import { dominantFrequency, pcm16leToSamples, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { answeredCall, botToneReachesCaller, callerToneReachesBot, expectSippPassed, placeCall, reinvite } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { startRtpengine, type RtpengineDaemon } from '../helpers/rtpengine.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { SrtpContext } from '../helpers/srtp.js';
import { exotelInvite, inDialogRequest, sdpOffer } from '../helpers/sip-messages.js';
import { callScenario, runSipp, tracedMessages } from '../helpers/sipp.js';

const root = process.getuid?.() === 0;
if (!root) console.warn('skipping rtpengine tests: the rtpengine daemon needs root');

const CRYPTO = 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR';

let rtpengine: RtpengineDaemon;
let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  if (!root) return;
  rtpengine = await startRtpengine();
  bot = await TestBot.start();
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url },
    media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: rtpengine.ngPort, localAddress: '127.0.0.1' } },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await rtpengine?.stop();
});

const tcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });
const answerPort = (sdp: string) => Number(/^m=audio (\d+) /m.exec(sdp)![1]);

describe.skipIf(!root)('calls through rtpengine', () => {
  it('relays plain RTP both ways: the carrier talks to rtpengine, the tones survive, and the session is deleted', async () => {
    const caller = await RtpPeer.open();
    try {
      const { conn, sipp } = await placeCall(bot, {
        scenario: { xml: callScenario({ sdp: sdpOffer({ port: caller.port }), flow: { kind: 'hangup', afterMs: 3000 } }) },
        transport: 't1',
        target: tcp(),
      });
      await conn.waitForEvent('start');
      while (caller.received.length === 0) await new Promise((r) => setTimeout(r, 5));
      const [address, port] = caller.received[0]!.from.split(':');
      const relayPort = Number(port);
      expect(relayPort).toBeGreaterThanOrEqual(rtpengine.portMin);
      expect(relayPort).toBeLessThanOrEqual(rtpengine.portMax);
      expect(await rtpengine.calls()).toHaveLength(1);

      void caller.send({ address: address!, port: relayPort }, 'PCMA', tone(1000, 8000, 8000 * 2));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 12, 5000, 'caller audio');
      expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()).subarray(1600), 8000) - 1000)).toBeLessThanOrEqual(15);

      const before = caller.received.length;
      conn.sendAudio(toneBytesPcm16le(600, 8000, 800));
      await new Promise((r) => setTimeout(r, 1000));
      const audio = caller.audio('PCMA');
      const botPart = audio.subarray(audio.length - (caller.received.length - before) * 160);
      expect(Math.abs(dominantFrequency(botPart.subarray(800, 4800), 8000) - 600)).toBeLessThanOrEqual(15);
      expect(caller.received.every((p) => p.from === `${address}:${relayPort}`)).toBe(true);

      const result = await sipp;
      expectSippPassed(result);
      const ok = tracedMessages(result).find((m) => m.startsWith('SIP/2.0 200') && /CSeq:\s*1 INVITE/.test(m))!;
      expect(answerPort(ok)).toBe(relayPort);
      await conn.waitForEvent('stop');
      await waitForIdle(bridge);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      caller.close();
    }
  });

  it('carries SDES-SRTP audio both ways: the carrier encrypts with its key, rtpengine with the one it answered', async () => {
    const ours = 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR';
    const toRtpengine = new SrtpContext(ours);
    let fromRtpengine: SrtpContext | undefined;
    const caller = await RtpPeer.open({ protect: (p) => toRtpengine.protect(p), unprotect: (p) => fromRtpengine?.unprotect(p) });
    const client = await SipTestClient.open('tcp', tcp());
    try {
      const sdp = sdpOffer({ port: caller.port, proto: 'RTP/SAVP' }).replace('a=sendrecv', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${ours}\r\na=sendrecv`);
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'srtp-media-1', port: tcp().port, localPort: client.localPort, sdp }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));
      const answer = ok.body.toString();
      fromRtpengine = new SrtpContext(/^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:(\S+)\r$/m.exec(answer)![1]!);
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');

      void caller.send({ address: '127.0.0.1', port: answerPort(answer) }, 'PCMA', tone(1000, 8000, 8000 * 2));
      await conn.until((m) => m.filter((x) => x.event === 'media').length >= 12, 5000, 'caller audio');
      expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()).subarray(1600), 8000) - 1000)).toBeLessThanOrEqual(15);

      const before = caller.received.length;
      conn.sendAudio(toneBytesPcm16le(600, 8000, 800));
      await new Promise((r) => setTimeout(r, 1000));
      const audio = caller.audio('PCMA');
      const botPart = audio.subarray(audio.length - (caller.received.length - before) * 160);
      expect(Math.abs(dominantFrequency(botPart.subarray(800, 4800), 8000) - 600)).toBeLessThanOrEqual(15);
      expect(caller.received.length).toBeGreaterThan(50);
      expect(caller.rejected).toBe(0);

      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      await waitForIdle(bridge);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      client.close();
      caller.close();
    }
  });

  it('answers an SDES-SRTP offer with RTP/SAVP and its own crypto, while the bridge leg stays plain RTP', async () => {
    const client = await SipTestClient.open('tcp', tcp());
    try {
      const sdp = sdpOffer({ proto: 'RTP/SAVP' }).replace('a=sendrecv', `${CRYPTO}\r\na=sendrecv`);
      client.send(exotelInvite({ callId: 'srtp-1', port: tcp().port, localPort: client.localPort, sdp }));
      const ok = await client.response(200, 'INVITE');
      const answer = ok.body.toString();
      expect(answer).toMatch(/^m=audio \d+ RTP\/SAVP 8 96\r$/m);
      expect(answer).toMatch(/^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}\r$/m);
      expect(answerPort(answer)).toBeGreaterThanOrEqual(rtpengine.portMin);
      client.send(inDialogRequest('ACK', client, ok, 1));
      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      await waitForIdle(bridge);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('refuses calls before reaching rtpengine when the offer or the route is wrong, leaving no session', async () => {
    const unrouted = await startTestBridge({ media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: rtpengine.ngPort, localAddress: '127.0.0.1' } } });
    try {
      const result = await runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'reject', status: 404 } }) },
        transport: 't1',
        target: { host: '127.0.0.1', port: unrouted.sip.tcp!.port },
      });
      expectSippPassed(result);
      const g729 = await runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer({ formats: [{ pt: 18, rtpmap: 'G729/8000' }] }), flow: { kind: 'reject', status: 488 } }) },
        transport: 't1',
        target: { host: '127.0.0.1', port: unrouted.sip.tcp!.port },
      });
      expectSippPassed(g729);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      await unrouted.stop();
    }
  });
});

const direction = (sdp: string) => /^a=(sendrecv|sendonly|recvonly|inactive)\r$/m.exec(sdp)?.[1];

describe.skipIf(!root)('re-INVITE and DTMF through rtpengine', () => {
  it("answers hold, resume and a codec change with rtpengine's updated answer, and audio follows", async () => {
    const call = await answeredCall(tcp(), bot, 'relay-hold');
    try {
      const offer = sdpOffer({ port: call.caller.port });
      const relayPort = answerPort(call.ok.body.toString());
      expect(relayPort).toBeGreaterThanOrEqual(rtpengine.portMin);
      await callerToneReachesBot(call, 'PCMA');
      await botToneReachesCaller(call, 'PCMA');

      const hold = await reinvite(call.client, call.ok, 2, offer.replace('a=sendrecv', 'a=sendonly'));
      expect(hold.trying).toBe(true);
      expect(hold.final.status).toBe(200);
      const held = hold.final.body.toString();
      expect(answerPort(held)).toBe(relayPort);
      expect(direction(held)).toBe('recvonly');
      await new Promise((r) => setTimeout(r, 100));
      const whileHeld = call.caller.received.length;
      call.conn.sendAudio(toneBytesPcm16le(600, 8000, 400));
      await new Promise((r) => setTimeout(r, 600));
      expect(call.caller.received.length).toBe(whileHeld);

      const resume = await reinvite(call.client, call.ok, 3, offer);
      expect(resume.final.status).toBe(200);
      expect(answerPort(resume.final.body.toString())).toBe(relayPort);
      expect(direction(resume.final.body.toString())).toBe('sendrecv');
      await botToneReachesCaller(call, 'PCMA');
      await callerToneReachesBot(call, 'PCMA');

      const pcmu = await reinvite(call.client, call.ok, 4, sdpOffer({ port: call.caller.port, formats: [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 96, rtpmap: 'telephone-event/8000', fmtp: '0-15' }] }));
      expect(pcmu.final.status).toBe(200);
      expect(pcmu.final.body.toString()).toMatch(/^m=audio \d+ RTP\/AVP 0 96\r$/m);
      await botToneReachesCaller(call, 'PCMU');
      await callerToneReachesBot(call, 'PCMU');

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 5));
      await call.client.response(200, 'BYE');
      await waitForIdle(bridge);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      call.close();
    }
  });

  it('carries RFC 4733 key presses both ways: the caller\'s reach the bot, the bot\'s reach the caller', async () => {
    const call = await answeredCall(tcp(), bot, 'relay-dtmf');
    try {
      await call.caller.sendDtmf(call.bridgeRtp, 96, ['1', '#', '9'], 100);
      await call.conn.until((m) => m.filter((x) => x.event === 'dtmf').length >= 3, 3000, 'three key presses');
      const pressed = call.conn.messages.filter((m) => m.event === 'dtmf').map((m) => (m as unknown as { dtmf: { digit: string; duration: string } }).dtmf);
      expect(pressed).toEqual(['1', '#', '9'].map((digit) => ({ digit, duration: '100' })));

      const before = call.caller.received.length;
      call.conn.send({ event: 'dtmf', stream_sid: call.conn.streamSid, dtmf: { digit: '5' } });
      call.conn.send({ event: 'dtmf', stream_sid: call.conn.streamSid, dtmf: { digit: '*', duration: '200' } });
      await new Promise((r) => setTimeout(r, 900));
      const events = call.caller.received.slice(before).filter((p) => p.payloadType === 96);
      const rx = new DtmfReceiver();
      expect(events.flatMap((p) => rx.packet(p.ssrc, p.timestamp, p.payload)).map((d) => `${d.digit}/${d.durationMs}`)).toEqual(['5/100', '*/200']);

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
      await call.client.response(200, 'BYE');
      await waitForIdle(bridge);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      call.close();
    }
  });
});

/** Sits between the bridge and rtpengine: rtpengine's replies, pongs aside, reach the bridge `delayMs` late. */
async function slowRelay(rtpenginePort: number): Promise<{ port: number; delayMs: number; close(): void }> {
  const socket = createSocket('udp4');
  const askers = new Map<string, { address: string; port: number }>();
  const timers = new Set<NodeJS.Timeout>();
  const relay = {
    port: 0,
    delayMs: 0,
    close() {
      for (const t of timers) clearTimeout(t);
      socket.close();
    },
  };
  socket.on('message', (msg, from) => {
    const [cookie = ''] = msg.toString().split(' ', 1);
    if (from.port !== rtpenginePort) {
      askers.set(cookie, from);
      socket.send(msg, rtpenginePort, '127.0.0.1');
      return;
    }
    const asker = askers.get(cookie);
    askers.delete(cookie);
    if (!asker) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      socket.send(msg, asker.port, asker.address);
    }, msg.includes('6:result4:pong') ? 0 : relay.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  relay.port = socket.address().port;
  return relay;
}

describe.skipIf(!root)('a re-INVITE while rtpengine is slow to answer', () => {
  it('gets 100 Trying, absorbs its retransmission, refuses a second offer with 500, and sends 200 only with the answer', async () => {
    const slow = await slowRelay(rtpengine.ngPort);
    const slowBridge = await startTestBridge({
      bot: { defaultUrl: bot.url },
      media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: slow.port, localAddress: '127.0.0.1', timeoutMs: 2000 } },
    });
    const udp = { host: '127.0.0.1', port: slowBridge.sip.udp!.port };
    const client = await SipTestClient.open('udp', udp);
    const caller = await RtpPeer.open();
    try {
      const offer = sdpOffer({ port: caller.port });
      client.send(exotelInvite({ callId: 'slow-reinvite', transport: 'UDP', port: udp.port, localPort: client.localPort, sdp: offer }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));

      slow.delayMs = 500;
      const at = client.received.length;
      const started = Date.now();
      const hold = inDialogRequest('INVITE', client, ok, 2, offer.replace('a=sendrecv', 'a=sendonly'));
      client.send(hold);
      await client.waitFor((m) => m.kind === 'response' && m.status === 100 && m.cseq.seq === 2, '100 Trying', 300, at);
      client.send(hold);
      client.send(inDialogRequest('INVITE', client, ok, 3, offer));
      const busy = await client.waitFor((m) => m.kind === 'response' && m.cseq.seq === 3, 'answer to the second offer', 1000, at);
      expect(busy.kind === 'response' && busy.status).toBe(500);
      expect(busy.headers.get('retry-after')).toBeDefined();

      const final = (await client.waitFor((m) => m.kind === 'response' && m.cseq.seq === 2 && m.status >= 200, '200 to the re-INVITE', 5000, at)) as SipResponse;
      // rtpengine's offer and answer, each 500 ms late, came before the 200.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(final.status).toBe(200);
      expect(direction(final.body.toString())).toBe('recvonly');
      client.send(inDialogRequest('ACK', client, final, 2));
      expect(client.received.slice(at).filter((m) => m.kind === 'response' && m.cseq.seq === 2 && m.status !== 100 && m.status !== 200)).toEqual([]);

      // The caller hangs up while a re-INVITE waits for rtpengine: the re-INVITE gets 487, and nothing is left.
      const at2 = client.received.length;
      client.send(inDialogRequest('INVITE', client, ok, 4, offer));
      await client.waitFor((m) => m.kind === 'response' && m.status === 100 && m.cseq.seq === 4, '100 Trying', 300, at2);
      client.send(inDialogRequest('BYE', client, ok, 5));
      const terminated = await client.waitFor((m) => m.kind === 'response' && m.cseq.seq === 4 && m.status >= 200, 'final response to the re-INVITE', 1000, at2);
      expect(terminated.kind === 'response' && terminated.status).toBe(487);
      await client.waitFor((m) => m.kind === 'response' && m.cseq.method === 'BYE', '200 to BYE', 1000, at2);
      await waitForIdle(slowBridge);
      // The late answer to the ended call's offer is refused by rtpengine and leaves no session.
      await new Promise((r) => setTimeout(r, 1200));
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      client.close();
      caller.close();
      await slowBridge.stop();
      slow.close();
    }
  });
});

describe.skipIf(!root)('a re-INVITE when rtpengine fails to answer it', () => {
  it('gets 500 with the reason in a Warning, and the call goes on as it was', async () => {
    const slow = await slowRelay(rtpengine.ngPort);
    const slowBridge = await startTestBridge({
      bot: { defaultUrl: bot.url },
      media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: slow.port, localAddress: '127.0.0.1', timeoutMs: 300, retries: 0 } },
    });
    const call = await answeredCall({ host: '127.0.0.1', port: slowBridge.sip.tcp!.port }, bot, 'relay-reoffer-fails');
    try {
      slow.delayMs = 1000;
      const failed = await reinvite(call.client, call.ok, 2, sdpOffer({ port: call.caller.port }).replace('a=sendrecv', 'a=sendonly'));
      expect(failed.trying).toBe(true);
      expect(failed.final.status).toBe(500);
      expect(failed.final.headers.get('warning')).toMatch(/^399 sip-ws-bridge "media relay: rtpengine at 127\.0\.0\.1:\d+ did not answer offer \(1 attempts of 300 ms\)/);
      slow.delayMs = 0;
      await botToneReachesCaller(call, 'PCMA');
      await callerToneReachesBot(call, 'PCMA');

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 3));
      await call.client.response(200, 'BYE');
      await waitForIdle(slowBridge);
      expect(await rtpengine.calls()).toEqual([]);
    } finally {
      call.close();
      await slowBridge.stop();
      slow.close();
    }
  });
});

describe.skipIf(!root)('rtpengine failures', () => {
  it('answers 503 with the reason when rtpengine does not answer, within the bounded timeout, leaking nothing', async () => {
    // It answers the health check's pings, so the INVITE gets past admission, and nothing else.
    const pingsOnly = createSocket('udp4');
    pingsOnly.on('message', (msg, from) => {
      const [cookie] = msg.toString().split(' ', 1);
      if (msg.includes('7:command4:ping')) pingsOnly.send(`${cookie} d6:result4:ponge`, from.port, from.address);
    });
    await new Promise<void>((resolve) => pingsOnly.bind(0, '127.0.0.1', () => resolve()));
    const deafPort = pingsOnly.address().port;
    const deaf = await startTestBridge({
      bot: { defaultUrl: bot.url },
      media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: deafPort, localAddress: '127.0.0.1', timeoutMs: 300, retries: 1 } },
    });
    try {
      const started = Date.now();
      const result = await runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'reject', status: 503 } }) },
        transport: 't1',
        target: { host: '127.0.0.1', port: deaf.sip.tcp!.port },
      });
      expectSippPassed(result);
      expect(Date.now() - started).toBeLessThan(3000);
      const rejection = tracedMessages(result).find((m) => m.startsWith('SIP/2.0 503'))!;
      expect(rejection).toMatch(new RegExp(`^Warning: 399 sip-ws-bridge "media relay: rtpengine at 127\\.0\\.0\\.1:${deafPort} did not answer offer \\(2 attempts of 300 ms\\)`, 'm'));
      await waitForIdle(deaf);
      expect(deaf.stats().rtpPortsInUse).toBe(0);
    } finally {
      await deaf.stop();
      pingsOnly.close();
    }
  });

  it('answers 503 and deletes the session when rtpengine refuses a step half-way through setup', async () => {
    const slowBot = await TestBot.start({ handshakeDelayMs: 600 });
    const halfway = await startTestBridge({
      bot: { defaultUrl: slowBot.url },
      media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: rtpengine.ngPort, localAddress: '127.0.0.1' } },
    });
    try {
      const result = runSipp({
        scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'reject', status: 503 } }) },
        transport: 't1',
        target: { host: '127.0.0.1', port: halfway.sip.tcp!.port },
      });
      // While the bridge waits for the slow bot, the session disappears from rtpengine: its `answer` will fail.
      let calls: string[] = [];
      while (calls.length === 0) calls = await rtpengine.calls();
      await rtpengine.command('delete', { 'call-id': calls[0], 'delete-delay': 0 });
      const done = await result;
      expectSippPassed(done);
      expect(tracedMessages(done).find((m) => m.startsWith('SIP/2.0 503'))).toMatch(/^Warning: 399 sip-ws-bridge "media relay: rtpengine refused answer: /m);
      await waitForIdle(halfway);
      expect(await rtpengine.calls()).toEqual([]);
      expect(slowBot.connections.every((c) => c.closed || c.messages.length === 0)).toBe(true);
    } finally {
      await halfway.stop();
      await slowBot.close();
    }
  });
});
