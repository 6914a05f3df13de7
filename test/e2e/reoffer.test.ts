// Re-offers in an answered call on the bridge's own media path: hold and resume, a codec change, UPDATE, and offers
// that cannot be answered. The 200 comes after the answer is made, and the answer says what the media really does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { answeredCall, botToneReachesCaller, callerToneReachesBot, reinvite } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, sdpOffer } from '../helpers/sip-messages.js';

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

const direction = (sdp: string) => /^a=(sendrecv|sendonly|recvonly|inactive)\r$/m.exec(sdp)?.[1];
const originVersion = (sdp: string) => Number(/^o=\S+ \d+ (\d+) /m.exec(sdp)![1]);
const PCMU_ONLY = [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 96, rtpmap: 'telephone-event/8000', fmtp: '0-15' }];

describe('re-INVITE on the embedded media path', () => {
  it('answers hold with recvonly and sends nothing, inactive with inactive, and resumes on sendrecv', async () => {
    const call = await answeredCall(bridge.sip.tcp!, bot, 'hold-1');
    try {
      const offer = sdpOffer({ port: call.caller.port });
      const first = call.ok.body.toString();
      expect(direction(first)).toBe('sendrecv');
      await botToneReachesCaller(call, 'PCMA');

      const hold = await reinvite(call.client, call.ok, 2, offer.replace('a=sendrecv', 'a=sendonly'));
      expect(hold.trying).toBe(true);
      expect(hold.final.status).toBe(200);
      const held = hold.final.body.toString();
      expect(direction(held)).toBe('recvonly');
      expect(originVersion(held)).toBe(originVersion(first) + 1);
      await new Promise((r) => setTimeout(r, 100));
      const whileHeld = call.caller.received.length;
      call.conn.sendAudio(toneBytesPcm16le(600, 8000, 400));
      await new Promise((r) => setTimeout(r, 600));
      expect(call.caller.received.length).toBe(whileHeld);

      const inactive = await reinvite(call.client, call.ok, 3, offer.replace('a=sendrecv', 'a=inactive'));
      expect(direction(inactive.final.body.toString())).toBe('inactive');
      await new Promise((r) => setTimeout(r, 300));
      expect(call.caller.received.length).toBe(whileHeld);

      const resume = await reinvite(call.client, call.ok, 4, offer);
      expect(direction(resume.final.body.toString())).toBe('sendrecv');
      await botToneReachesCaller(call, 'PCMA');
      // The first packet after the pause carries the marker bit.
      expect(call.caller.received[whileHeld]!.marker).toBe(true);
      await callerToneReachesBot(call, 'PCMA');

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 5));
      await call.client.response(200, 'BYE');
      await waitForIdle(bridge);
    } finally {
      call.close();
    }
  });

  it('answers a first offer on hold with recvonly and keeps quiet until a re-INVITE resumes', async () => {
    const client = await SipTestClient.open('tcp', bridge.sip.tcp!);
    const caller = await RtpPeer.open();
    try {
      const botIndex = bot.connections.length;
      const offer = sdpOffer({ port: caller.port });
      client.send(exotelInvite({ callId: 'held-from-start', port: bridge.sip.tcp!.port, localPort: client.localPort, sdp: offer.replace('a=sendrecv', 'a=sendonly') }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));
      expect(direction(ok.body.toString())).toBe('recvonly');
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.sendAudio(toneBytesPcm16le(600, 8000, 400));
      await new Promise((r) => setTimeout(r, 500));
      expect(caller.received).toHaveLength(0);

      const resume = await reinvite(client, ok, 2, offer);
      expect(direction(resume.final.body.toString())).toBe('sendrecv');
      await new Promise((r) => setTimeout(r, 300));
      expect(caller.received.length).toBeGreaterThan(5);
      expect(caller.received[0]!.marker).toBe(true);

      client.send(inDialogRequest('BYE', client, ok, 3));
      await client.response(200, 'BYE');
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
    }
  });

  it('keeps sending where the caller latched it (NAT) when a re-offer repeats the same SDP address', async () => {
    const client = await SipTestClient.open('tcp', bridge.sip.tcp!);
    const caller = await RtpPeer.open();
    try {
      const botIndex = bot.connections.length;
      // The SDP names a port nothing listens on, as a caller behind NAT does; its packets come from another.
      const offer = sdpOffer({ port: 9 });
      client.send(exotelInvite({ callId: 'latched', port: bridge.sip.tcp!.port, localPort: client.localPort, sdp: offer }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      const bridgeRtp = { address: '127.0.0.1', port: Number(/^m=audio (\d+) /m.exec(ok.body.toString())![1]) };
      await caller.send(bridgeRtp, 'PCMA', tone(1000, 8000, 1600));
      await new Promise((r) => setTimeout(r, 200));
      expect(caller.received.length).toBeGreaterThan(3);

      const resume = await reinvite(client, ok, 2, offer.replace('o=root 1683048786 1683048786', 'o=root 1683048786 1683048787'));
      expect(resume.final.status).toBe(200);
      const before = caller.received.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(caller.received.length - before).toBeGreaterThan(8);

      client.send(inDialogRequest('BYE', client, ok, 3));
      await client.response(200, 'BYE');
      await waitForIdle(bridge);
    } finally {
      client.close();
      caller.close();
    }
  });

  it('switches codec when the re-offer drops the one in use, and keeps it while the offer still has it', async () => {
    const call = await answeredCall(bridge.sip.tcp!, bot, 'codec-1');
    try {
      // Both offered, PCMU first: PCMA stays, as it is the codec in use.
      const both = await reinvite(call.client, call.ok, 2, sdpOffer({ port: call.caller.port, formats: [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 8, rtpmap: 'PCMA/8000' }, PCMU_ONLY[1]!] }));
      expect(both.final.body.toString()).toMatch(/^m=audio \d+ RTP\/AVP 8 96\r$/m);
      // Nothing changed: the same description keeps its version (RFC 3264 section 8).
      expect(originVersion(both.final.body.toString())).toBe(originVersion(call.ok.body.toString()));

      const pcmu = await reinvite(call.client, call.ok, 3, sdpOffer({ port: call.caller.port, formats: PCMU_ONLY }));
      expect(pcmu.final.status).toBe(200);
      expect(pcmu.final.body.toString()).toMatch(/^m=audio \d+ RTP\/AVP 0 96\r$/m);
      expect(pcmu.final.body.toString()).toMatch(/^a=rtpmap:0 PCMU\/8000\r$/m);
      await botToneReachesCaller(call, 'PCMU');
      await callerToneReachesBot(call, 'PCMU');

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 4));
      await call.client.response(200, 'BYE');
      await waitForIdle(bridge);
    } finally {
      call.close();
    }
  });

  it('refuses an offer it cannot answer with 488 and a Warning, and the call goes on as it was', async () => {
    const call = await answeredCall(bridge.sip.tcp!, bot, 'refused-1');
    try {
      const g729 = await reinvite(call.client, call.ok, 2, sdpOffer({ port: call.caller.port, formats: [{ pt: 18, rtpmap: 'G729/8000' }] }));
      expect(g729.final.status).toBe(488);
      expect(g729.final.headers.get('warning')).toBe('399 sip-ws-bridge "no common codec: offered G729; supported PCMA, PCMU"');
      await botToneReachesCaller(call, 'PCMA');
      await callerToneReachesBot(call, 'PCMA');
      expect(bridge.stats().activeCalls).toBe(1);

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 3));
      await call.client.response(200, 'BYE');
      await waitForIdle(bridge);
    } finally {
      call.close();
    }
  });

  it('answers an UPDATE offer from the new media state, and follows the caller to a new address', async () => {
    const call = await answeredCall(bridge.sip.tcp!, bot, 'update-1');
    const moved = await RtpPeer.open();
    try {
      const from = call.client.received.length;
      call.client.send(inDialogRequest('UPDATE', call.client, call.ok, 2, sdpOffer({ port: moved.port }).replace('a=sendrecv', 'a=sendonly')));
      const ok = await call.client.waitFor((m) => m.kind === 'response' && m.cseq.method === 'UPDATE', '200 to UPDATE', 5000, from);
      expect(ok.kind === 'response' && ok.status).toBe(200);
      expect(direction(ok.body.toString())).toBe('recvonly');

      call.client.send(inDialogRequest('UPDATE', call.client, call.ok, 3, sdpOffer({ port: moved.port })));
      await call.client.waitFor((m) => m.kind === 'response' && m.cseq.seq === 3, '200 to second UPDATE', 5000, from);
      await new Promise((r) => setTimeout(r, 300));
      expect(moved.received.length).toBeGreaterThan(5);

      call.client.send(inDialogRequest('BYE', call.client, call.ok, 4));
      await call.client.response(200, 'BYE');
      await waitForIdle(bridge);
    } finally {
      moved.close();
      call.close();
    }
  });
});
