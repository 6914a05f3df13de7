// Transfer in bridge mode: the bridge dials the agent (through a trunk or straight to an allowed URI), keeps the caller
// with the bot while it rings, then joins caller and agent (audio both ways, transcoded, DTMF relayed) with the bot
// stopped or listening; the agent moving, the bot leaving; busy, no answer and hang-ups on either side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_FORMATS, rfc4733Digits } from '../helpers/agent.js';
import { goertzelPower, pcm16leToSamples, relativeLevelDb, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { metrics } from '../helpers/bridge-http.js';
import { waitForIdle } from '../helpers/bridge.js';
import { answeredCall, callerToneReachesBot } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { inDialogRequest, okTo, sdpOffer } from '../helpers/sip-messages.js';
import { statuses, transferMessage } from '../helpers/transfer.js';
import { callerHangsUp, sleep, statusOf, toneReachesAgent, TransferBed, waitStatus } from '../helpers/transfer-bed.js';

let bed: TransferBed;
beforeAll(async () => {
  bed = await TransferBed.start();
});
afterAll(async () => {
  await bed?.close();
});

describe('bridge transfer answered', () => {
  it('through the trunk, bot listening: ringing, answered, completed; PCMA caller and PCMU agent hear each other, the bot hears both, the caller nothing of the bot; the agent hangs up', async () => {
    await bed.noCalls();
    const call = await answeredCall(bed.sipTcp, bed.bot, 'bridge-listen');
    try {
      call.conn.send(transferMessage(call, { to: '+918041234567', trunk: 'agents', mode: 'bridge', bot: 'listen', headers: { 'X-UUI': 'ticket-991' } }));
      const invite = await bed.trunkAgent.invite();
      expect(invite.uri).toBe(`sip:+918041234567@127.0.0.1`);
      expect(invite.headers.get('from')).toMatch(/^<sip:\+918888888888@127\.0\.0\.1>/);
      expect(invite.headers.get('x-uui')).toBe('ticket-991');
      expect(invite.headers.get('x-trunk')).toBe('agents');
      await waitStatus(call, 'trying');
      bed.trunkAgent.respond(180, 'Ringing');
      await waitStatus(call, 'ringing');
      // While it rings the caller keeps the bed.bot.
      await callerToneReachesBot(call, 'PCMA');
      await bed.trunkAgent.answer();
      await waitStatus(call, 'completed');
      expect(statusOf(call).map((s) => s.status)).toEqual(['trying', 'ringing', 'answered', 'completed']);
      expect(statusOf(call)[2]).toMatchObject({ sip_status: 200 });

      // Both talk at once (caller 1000 Hz in PCMA, agent 440 Hz in PCMU) while the bed.bot plays 600 Hz, ignored.
      const botBefore = call.conn.callerAudio().length;
      const callerBefore = call.caller.received.length;
      const agentBefore = bed.trunkAgent.rtp.received.length;
      call.conn.sendAudio(toneBytesPcm16le(600, 8000, 1500));
      await Promise.all([call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 12_000)), bed.trunkAgent.rtp.send(bed.trunkAgent.bridgeRtp, 'PCMU', tone(440, 8000, 12_000))]);
      await sleep(200);

      const atAgent = bed.trunkAgent.rtp.received.slice(agentBefore);
      expect(atAgent.length).toBeGreaterThan(50);
      expect(atAgent.every((p) => p.payloadType === 0)).toBe(true);
      const agentHeard = bed.trunkAgent.rtp.audio('PCMU').slice(-9000, -1000);
      expect(relativeLevelDb(agentHeard, 8000, 1000, 440)).toBeGreaterThan(30);

      const atCaller = call.caller.received.slice(callerBefore).filter((p) => p.payloadType === 8);
      expect(atCaller.length).toBeGreaterThan(50);
      const callerHeard = call.caller.audio('PCMA').slice(-9000, -1000);
      expect(relativeLevelDb(callerHeard, 8000, 440, 1000)).toBeGreaterThan(30);
      expect(relativeLevelDb(callerHeard, 8000, 600, 440)).toBeLessThan(-30);

      const botHeard = pcm16leToSamples(call.conn.callerAudio().subarray(botBefore)).slice(2000, 10_000);
      expect(goertzelPower(botHeard, 8000, 1000)).toBeGreaterThan(1e6);
      expect(goertzelPower(botHeard, 8000, 440)).toBeGreaterThan(1e6);
      expect(Math.abs(relativeLevelDb(botHeard, 8000, 440, 1000))).toBeLessThan(6);

      // The agent leg holds the trunk's one channel.
      const placed = await bed.api('POST', '/v1/calls', { to: '+919876543210', from: '+912261234567', trunk: 'agents' });
      expect(placed.status).toBe(429);
      expect(placed.body.error).toMatch(/its limit is 1/);

      bed.trunkAgent.bye();
      await bed.trunkAgent.sip.response(200, 'BYE');
      call.client.send(okTo(await call.client.request('BYE')));
      await call.conn.waitForEvent('stop');
      const report = await bed.webhook.reportFor('bridge-listen');
      expect(report.transfer).toMatchObject({ to: '+918041234567', mode: 'bridge', status: 'completed', sip_status: 200 });
      expect(report.transfer!.answered_at).toMatch(/^\d{4}-/);
      // The agent's side of the media, counted apart from the caller's: at least the 1.5 s of tone each way above.
      expect(report.agent_media!.packets_in).toBeGreaterThanOrEqual(70);
      expect(report.agent_media!.packets_out).toBeGreaterThanOrEqual(atAgent.length);
      expect((await metrics(bed.bridge.httpPort)).get('bridge_transfers_total{mode="bridge",result="completed"}')).toBeGreaterThan(0);
    } finally {
      call.close();
    }
  });

  it('straight to an allowed URI, bot stopped: the bot hears stop transferred while the call goes on; DTMF both ways on each side\'s payload type; the caller hangs up and the agent gets BYE', async () => {
    await bed.withAgentCall('bridge-stop', async (call, agent) => {
      call.conn.send(transferMessage(call, { to: agent.uri('agent-7'), mode: 'bridge', bot: 'stop' }));
      const invite = await agent.invite();
      expect(invite.uri).toBe(agent.uri('agent-7'));
      await agent.answer();
      await call.conn.waitForEvent('stop');
      expect(call.conn.stop!.stop.reason).toBe('transferred');
      expect(statusOf(call).map((s) => s.status)).toEqual(['trying', 'answered', 'completed']);
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);

      await call.caller.sendDtmf(call.bridgeRtp, 96, ['5', '#'], 100);
      await agent.rtp.sendDtmf(agent.bridgeRtp, 101, ['7'], 100);
      await sleep(400);
      expect(rfc4733Digits(agent.rtp.received, 101)).toBe('5#');
      expect(rfc4733Digits(agent.rtp.received, 96)).toBe('');
      expect(rfc4733Digits(call.caller.received, 96)).toBe('7');
      // A key press in SIP INFO reaches the agent as RFC 4733 too.
      const info = 'Signal=9\r\nDuration=160\r\n';
      call.client.send(inDialogRequest('INFO', call.client, call.ok, 2, info).replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
      await call.client.response(200, 'INFO');
      await sleep(400);
      expect(rfc4733Digits(agent.rtp.received, 101)).toBe('5#9');
      // And the agent's SIP INFO reaches the caller.
      agent.info('1');
      await agent.sip.response(200, 'INFO');
      await sleep(400);
      expect(rfc4733Digits(call.caller.received, 96)).toBe('71');
      // Audio still flows after the bed.bot left: the caller's tone reaches the agent.
      await toneReachesAgent(call.caller, call.bridgeRtp, agent.rtp);

      await callerHangsUp(call, 3);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      const report = await bed.webhook.reportFor('bridge-stop');
      expect(report.transfer).toMatchObject({ mode: 'bridge', status: 'completed' });
      expect(report.dtmf).toBe('5#9');
      await waitForIdle(bed.bridge);
    });
  });
});

describe('bridge transfer answered: the agent moves', () => {
  it("the agent's re-INVITE to a new RTP port is answered and the caller's audio follows it", async () => {
    await bed.noCalls();
    const agent = await bed.agent();
    const moved = await RtpPeer.open();
    const call = await answeredCall(bed.sipTcp, bed.bot, 'bridge-reinvite');
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      await agent.answer();
      await waitStatus(call, 'completed');
      const ok = await agent.reinvite(sdpOffer({ port: moved.port, formats: AGENT_FORMATS }));
      expect(Number(/^m=audio (\d+) /m.exec(ok.body.toString())![1])).toBe(agent.bridgeRtp.port);
      expect(ok.body.toString()).toMatch(/a=rtpmap:0 PCMU\/8000/);
      await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      await sleep(200);
      expect(moved.received.filter((p) => p.payloadType === 0).length).toBeGreaterThan(30);
      expect(relativeLevelDb(moved.audio('PCMU').slice(-6000, -1000), 8000, 1000, 440)).toBeGreaterThan(30);
      await callerHangsUp(call);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      await waitForIdle(bed.bridge);
    } finally {
      call.close();
      agent.close();
      moved.close();
    }
  });
});

describe('bridge transfer answered: the bot leaves', () => {
  it('a listening bot that closes its socket does not end the bridged call', async () => {
    await bed.withAgentCall('bridge-bot-leaves', async (call, agent) => {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge', bot: 'listen' }));
      await agent.invite();
      await agent.answer();
      await waitStatus(call, 'completed');
      call.conn.ws.close(1000, 'done listening');
      await call.conn.waitForClose();
      await sleep(300);
      await toneReachesAgent(call.caller, call.bridgeRtp, agent.rtp);
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      expect(agent.sip.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      await callerHangsUp(call);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      await waitForIdle(bed.bridge);
    });
  });
});

describe('bridge transfer not answered: the caller stays with the bot', () => {
  it('agent busy 486: failed 486, no BYE, the caller still reaches the bot; a second agent then answers', async () => {
    await bed.withAgentCall('bridge-busy', async (call, agent) => {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      agent.respond(486, 'Busy Here');
      await waitStatus(call, 'failed');
      expect(statusOf(call).at(-1)).toMatchObject({ status: 'failed', sip_status: 486 });
      await callerToneReachesBot(call, 'PCMA');
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      expect((await metrics(bed.bridge.httpPort)).get('bridge_transfers_total{mode="bridge",result="failed"}')).toBeGreaterThan(0);
      // The bed.bot tries another agent, who is free.
      const second = await bed.agent();
      try {
        call.conn.send(transferMessage(call, { to: second.uri('agent-2'), mode: 'bridge', bot: 'listen' }));
        await second.invite();
        await second.answer();
        await call.conn.until((ms) => statuses(ms).filter((x) => x.status === 'completed').length === 1, 5000, 'completed');
        const before = second.rtp.received.length;
        await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 4000));
        await sleep(200);
        expect(second.rtp.received.length - before).toBeGreaterThan(15);
        await callerHangsUp(call);
        second.sip.send(okTo(await second.sip.request('BYE')));
        await call.conn.waitForEvent('stop');
        expect((await bed.webhook.reportFor('bridge-busy')).transfer).toMatchObject({ mode: 'bridge', status: 'completed', to: expect.stringContaining('agent-2') });
      } finally {
        second.close();
      }
    });
  });

  it('no answer within transfer.ringTimeoutMs: CANCEL to the agent, failed 408, the caller still reaches the bot', async () => {
    await bed.withAgentCall('bridge-noanswer', async (call, agent) => {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      agent.respond(180, 'Ringing');
      await agent.takeCancel(5000);
      await waitStatus(call, 'failed');
      expect(statusOf(call).at(-1)).toMatchObject({ status: 'failed', sip_status: 408 });
      expect(statusOf(call).at(-1)!.reason).toMatch(/no answer/);
      await callerToneReachesBot(call, 'PCMA');
      await callerHangsUp(call);
      expect((await bed.webhook.reportFor('bridge-noanswer')).agent_media).toBeNull();
      await waitForIdle(bed.bridge);
    });
  });

  it('the caller hangs up while the agent rings: CANCEL to the agent (asked through the API: 202, then 409 for a second)', async () => {
    await bed.withAgentCall('bridge-cancel', async (call, agent) => {
      const asked = await bed.api('POST', '/v1/calls/call-sid-1/transfer', { to: agent.uri(), mode: 'bridge', bot: 'listen' });
      expect(asked.status).toBe(202);
      await agent.invite();
      agent.respond(180, 'Ringing');
      await waitStatus(call, 'ringing');
      const second = await bed.api('POST', '/v1/calls/call-sid-1/transfer', { to: agent.uri(), mode: 'bridge' });
      expect(second.status).toBe(409);
      await callerHangsUp(call);
      await agent.takeCancel();
      await call.conn.waitForEvent('stop');
      await waitForIdle(bed.bridge);
    });
  });
});

