// Transfer in bridge mode, the rest: an agent answering unusably, the trunk's channel an agent leg holds, an outbound
// call's called party bridged, and a bridged call's recording.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipRequest } from '../../src/signaling/message.js';
import { readWav } from '../../src/test-call/wav.js';
import { dominantFrequency, tone } from '../helpers/audio.js';
import { waitForIdle } from '../helpers/bridge.js';
import { answeredCall, callerToneReachesBot } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { okTo, sdpOffer } from '../helpers/sip-messages.js';
import { statuses, transferMessage } from '../helpers/transfer.js';
import { callerHangsUp, sleep, statusOf, toneReachesAgent, TransferBed, waitStatus } from '../helpers/transfer-bed.js';

let bed: TransferBed;
beforeAll(async () => {
  bed = await TransferBed.start();
});
afterAll(async () => {
  await bed?.close();
});

describe('bridge transfer limits', () => {
  it('an INVITE the agent cannot be offered (an agent answering without a common codec): failed, the caller stays with the bot', async () => {
    await bed.withAgentCall('bridge-badsdp', async (call, agent) => {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      agent.respond(200, 'OK', `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${agent.rtp.port} RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n`);
      await agent.sip.request('ACK');
      await waitStatus(call, 'failed');
      expect(statusOf(call).at(-1)!.reason).toMatch(/SDP/);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      await callerToneReachesBot(call, 'PCMA');
      await callerHangsUp(call);
      await waitForIdle(bed.bridge);
    });
  });
});

describe('bridge transfer of other calls', () => {
  it('a second call\'s agent leg through a trunk with no channel left: failed with the reason, no INVITE', async () => {
    await bed.noCalls();
    const call = await answeredCall(bed.sipTcp, bed.bot, 'bridge-full');
    const before = bed.trunkAgent.sip.received.length;
    try {
      call.conn.send(transferMessage(call, { to: '+918041234567', trunk: 'agents', mode: 'bridge' }));
      const invite = (await bed.trunkAgent.sip.waitFor((m) => m.kind === 'request' && m.method === 'INVITE', 'INVITE', 5000, before)) as SipRequest;
      bed.trunkAgent.respond(180, 'Ringing', undefined, invite);
      // A second call's agent leg finds the trunk's one channel taken.
      const other = await answeredCall(bed.sipTcp, bed.bot, 'bridge-full-2');
      try {
        other.conn.send(transferMessage(other, { to: '+918041234568', trunk: 'agents', mode: 'bridge' }));
        await other.conn.until((ms) => statuses(ms).length > 0, 5000, 'transfer_status');
        expect(statuses(other.conn.messages)[0]).toMatchObject({ status: 'failed' });
        expect(statuses(other.conn.messages)[0]!.reason).toMatch(/its limit is 1/);
        await callerHangsUp(other);
      } finally {
        other.close();
      }
      expect(bed.trunkAgent.sip.count((m) => m.kind === 'request' && m.method === 'INVITE' && m.callId !== invite.callId && bed.trunkAgent.sip.received.indexOf(m) >= before)).toBe(0);
      await callerHangsUp(call);
      const cancel = (await bed.trunkAgent.sip.waitFor((m) => m.kind === 'request' && m.method === 'CANCEL', 'CANCEL', 5000, before)) as SipRequest;
      bed.trunkAgent.sip.send(okTo(cancel));
      bed.trunkAgent.respond(487, 'Request Terminated', undefined, invite);
      await waitForIdle(bed.bridge);
    } finally {
      call.close();
    }
  });

  it('an outbound call: the called party is bridged to the agent; the agent hangs up and the called party gets BYE', async () => {
    await bed.noCalls();
    const agent = await bed.agent();
    const phone = await RtpPeer.open();
    const botIndex = bed.bot.connections.length;
    try {
      const placed = await bed.api('POST', '/v1/calls', { to: '+919876543210', from: '+912261234567', trunk: 'callee' });
      expect(placed.status).toBe(201);
      const sid = placed.body.call_sid as string;
      const invite = await bed.callee.invite();
      bed.callee.respond(200, 'OK', sdpOffer({ port: phone.port, formats: [{ pt: 8, rtpmap: 'PCMA/8000' }, { pt: 96, rtpmap: 'telephone-event/8000' }] }));
      await bed.callee.sip.request('ACK');
      const conn = await bed.bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.send({ event: 'transfer', stream_sid: conn.streamSid, transfer: { to: agent.uri('agent-out'), mode: 'bridge', bot: 'listen' } });
      const agentInvite = await agent.invite();
      // From: the called party, the phone side of this call.
      expect(agentInvite.headers.get('from')).toMatch(/^<sip:\+919876543210@/);
      await agent.answer();
      await conn.until((ms) => statuses(ms).some((x) => x.status === 'completed'), 5000, 'completed');
      const phoneRtp = bed.callee.bridgeRtp;
      await toneReachesAgent(phone, phoneRtp, agent.rtp);
      agent.bye();
      await agent.sip.response(200, 'BYE');
      const bye = (await bed.callee.sip.waitFor((m) => m.kind === 'request' && m.method === 'BYE' && m.callId === invite.callId, 'BYE')) as SipRequest;
      bed.callee.sip.send(okTo(bye));
      await conn.waitForEvent('stop');
      for (let i = 0; i < 100 && (await bed.api('GET', `/v1/calls/${sid}`)).body.status === 'in-progress'; i++) await sleep(50);
      const record = (await bed.api('GET', `/v1/calls/${sid}`)).body;
      expect(record.transfer).toMatchObject({ to: agent.uri('agent-out'), mode: 'bridge', status: 'completed', sip_status: 200 });
      await waitForIdle(bed.bridge);
    } finally {
      agent.close();
      phone.close();
    }
  });

  it('a recorded call records the caller left and the agent (what the caller heard) right', async () => {
    await bed.noCalls();
    const agent = await bed.agent();
    const call = await answeredCall(bed.sipTcp, bed.bot, 'bridge-rec', [['X-Rec', 'yes']]);
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge', bot: 'stop' }));
      await agent.invite();
      await agent.answer();
      await call.conn.waitForEvent('stop');
      await Promise.all([call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 12_000)), agent.rtp.send(agent.bridgeRtp, 'PCMU', tone(440, 8000, 12_000))]);
      await callerHangsUp(call);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      const report = await bed.webhook.reportFor('bridge-rec');
      const wav = readWav(readFileSync(report.recording!.path));
      if (!wav.ok) throw new Error(wav.reason);
      const { samples, channels } = wav.value;
      expect(channels).toBe(2);
      const frames = samples.length / 2;
      const channel = (which: number) => Int16Array.from({ length: 8000 }, (_, i) => samples[(frames - 12_000 + i) * 2 + which] ?? 0);
      expect(Math.abs(dominantFrequency(channel(0), 8000) - 1000)).toBeLessThanOrEqual(20);
      expect(Math.abs(dominantFrequency(channel(1), 8000) - 440)).toBeLessThanOrEqual(20);
      await waitForIdle(bed.bridge);
    } finally {
      call.close();
      agent.close();
    }
  });
});
