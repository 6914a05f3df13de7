// Transfer in bridge mode: the bridge dials the agent (through a trunk or straight to an allowed URI), keeps the caller
// with the bot while it rings, then joins caller and agent (audio both ways, transcoded, DTMF relayed) with the bot
// stopped or listening; busy, no answer and hang-ups on either side.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipRequest } from '../../src/signaling/message.js';
import { readWav } from '../../src/test-call/wav.js';
import { AGENT_FORMATS, rfc4733Digits, TestAgent } from '../helpers/agent.js';
import { dominantFrequency, goertzelPower, pcm16leToSamples, relativeLevelDb, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, type CallApiClient } from '../helpers/call-api.js';
import { answeredCall, callerToneReachesBot, type AnsweredCall } from '../helpers/carrier.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { inDialogRequest, okTo, sdpOffer } from '../helpers/sip-messages.js';
import { freeUdpPort } from '../helpers/sipp-trunk.js';
import { statuses, transferMessage } from '../helpers/transfer.js';
import { WebhookServer } from '../helpers/webhook-server.js';

let bot: TestBot;
let bridge: Bridge;
let api: CallApiClient;
let webhook: WebhookServer;
/** The trunk's far end: calls through the `agents` trunk reach it. */
let trunkAgent: TestAgent;
let sipUdp: number;
/** The far end of outbound calls (trunk `callee`). */
let callee: TestAgent;
const TOKEN = 'bridge-transfer-token';
const recordings = mkdtempSync(join(tmpdir(), 'bridge-transfer-rec-'));

beforeAll(async () => {
  bot = await TestBot.start();
  webhook = await WebhookServer.start();
  sipUdp = await freeUdpPort();
  trunkAgent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
  callee = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
  bridge = await startTestBridge({
    api: { token: TOKEN },
    webhook: { url: webhook.url },
    sip: { udp: { host: '127.0.0.1', port: sipUdp }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 } },
    bot: { defaultUrl: bot.url, connectTimeoutMs: 1500, connectRetries: 0 },
    routes: [{ header: 'X-Rec', equals: 'yes', url: bot.url, recording: { dir: recordings, flushMs: 200 } }],
    trunks: [
      { name: 'agents', uri: `sip:127.0.0.1:${trunkAgent.sip.localPort}`, headers: { 'X-Trunk': 'agents' }, maxConcurrentCalls: 1 },
      { name: 'callee', uri: `sip:127.0.0.1:${callee.sip.localPort}` },
    ],
    transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@127\\.0\\.0\\.1:\\d+$'], ringTimeoutMs: 1500 },
  });
  api = callApiClient(bridge.httpPort, TOKEN);
});

afterAll(async () => {
  await bridge?.stop();
  trunkAgent?.close();
  callee?.close();
  rmSync(recordings, { recursive: true, force: true });
  await webhook?.close();
  await bot?.close();
});

const sipTcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusOf = (call: AnsweredCall) => statuses(call.conn.messages);
const waitStatus = (call: AnsweredCall, status: string) => call.conn.until((ms) => statuses(ms).some((s) => s.status === status), 10_000, `transfer_status ${status}`);

async function reportFor(sipCallId: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const post = webhook.posts.find((p) => (p.body as { sip_call_id?: string }).sip_call_id === sipCallId);
    if (post) return post.body;
    await sleep(50);
  }
  throw new Error(`no report for ${sipCallId}`);
}

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${bridge.httpPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).join('\n');
}

/** Every earlier call gone: the test calls share one call_sid (the INVITE's X-Exotel-CallSid). */
async function noCalls(): Promise<void> {
  for (let i = 0; i < 200 && (await api('GET', '/v1/calls')).body.calls.length > 0; i++) await sleep(50);
}

/** The caller's BYE, answered. */
async function callerHangsUp(call: AnsweredCall, cseq = 2): Promise<void> {
  call.client.send(inDialogRequest('BYE', call.client, call.ok, cseq));
  await call.client.response(200, 'BYE');
}

describe('bridge transfer answered', () => {
  it('through the trunk, bot listening: ringing, answered, completed; PCMA caller and PCMU agent hear each other, the bot hears both, the caller nothing of the bot; the agent hangs up', async () => {
    await noCalls();
    const call = await answeredCall(sipTcp(), bot, 'bridge-listen');
    try {
      call.conn.send(transferMessage(call, { to: '+918041234567', trunk: 'agents', mode: 'bridge', bot: 'listen', headers: { 'X-UUI': 'ticket-991' } }));
      const invite = await trunkAgent.invite();
      expect(invite.uri).toBe(`sip:+918041234567@127.0.0.1`);
      expect(invite.headers.get('from')).toMatch(/^<sip:\+918888888888@127\.0\.0\.1>/);
      expect(invite.headers.get('x-uui')).toBe('ticket-991');
      expect(invite.headers.get('x-trunk')).toBe('agents');
      await waitStatus(call, 'trying');
      trunkAgent.respond(180, 'Ringing');
      await waitStatus(call, 'ringing');
      // While it rings the caller keeps the bot.
      await callerToneReachesBot(call, 'PCMA');
      await trunkAgent.answer();
      await waitStatus(call, 'completed');
      expect(statusOf(call).map((s) => s.status)).toEqual(['trying', 'ringing', 'answered', 'completed']);
      expect(statusOf(call)[2]).toMatchObject({ sip_status: 200 });

      // Both talk at once (caller 1000 Hz in PCMA, agent 440 Hz in PCMU) while the bot plays 600 Hz, ignored.
      const botBefore = call.conn.callerAudio().length;
      const callerBefore = call.caller.received.length;
      const agentBefore = trunkAgent.rtp.received.length;
      call.conn.sendAudio(toneBytesPcm16le(600, 8000, 1500));
      await Promise.all([call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 12_000)), trunkAgent.rtp.send(trunkAgent.bridgeRtp, 'PCMU', tone(440, 8000, 12_000))]);
      await sleep(200);

      const atAgent = trunkAgent.rtp.received.slice(agentBefore);
      expect(atAgent.length).toBeGreaterThan(50);
      expect(atAgent.every((p) => p.payloadType === 0)).toBe(true);
      const agentHeard = trunkAgent.rtp.audio('PCMU').slice(-9000, -1000);
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
      const placed = await api('POST', '/v1/calls', { to: '+919876543210', from: '+912261234567', trunk: 'agents' });
      expect(placed.status).toBe(429);
      expect(placed.body.error).toMatch(/its limit is 1/);

      trunkAgent.bye();
      await trunkAgent.sip.response(200, 'BYE');
      call.client.send(okTo(await call.client.request('BYE')));
      await call.conn.waitForEvent('stop');
      const report = await reportFor('bridge-listen');
      expect(report.transfer).toMatchObject({ to: '+918041234567', mode: 'bridge', status: 'completed', sip_status: 200 });
      expect(report.transfer.answered_at).toMatch(/^\d{4}-/);
      expect(await metric('bridge_transfers_total{mode="bridge",result="completed"}')).toMatch(/ [1-9]\d*$/);
    } finally {
      call.close();
    }
  });

  it('straight to an allowed URI, bot stopped: the bot hears stop transferred while the call goes on; DTMF both ways on each side\'s payload type; the caller hangs up and the agent gets BYE', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-stop');
    try {
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
      // Audio still flows after the bot left: the caller's tone reaches the agent.
      const before = agent.rtp.received.length;
      await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      await sleep(200);
      expect(agent.rtp.received.length - before).toBeGreaterThan(30);
      expect(relativeLevelDb(agent.rtp.audio('PCMU').slice(-6000, -1000), 8000, 1000, 440)).toBeGreaterThan(30);

      await callerHangsUp(call, 3);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      const report = await reportFor('bridge-stop');
      expect(report.transfer).toMatchObject({ mode: 'bridge', status: 'completed' });
      expect(report.dtmf).toBe('5#9');
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });
});

describe('bridge transfer answered: the agent moves', () => {
  it("the agent's re-INVITE to a new RTP port is answered and the caller's audio follows it", async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const moved = await RtpPeer.open();
    const call = await answeredCall(sipTcp(), bot, 'bridge-reinvite');
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
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
      moved.close();
    }
  });
});

describe('bridge transfer answered: the bot leaves', () => {
  it('a listening bot that closes its socket does not end the bridged call', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-bot-leaves');
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge', bot: 'listen' }));
      await agent.invite();
      await agent.answer();
      await waitStatus(call, 'completed');
      call.conn.ws.close(1000, 'done listening');
      await call.conn.waitForClose();
      await sleep(300);
      const before = agent.rtp.received.length;
      await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 8000));
      await sleep(200);
      expect(agent.rtp.received.length - before).toBeGreaterThan(30);
      expect(relativeLevelDb(agent.rtp.audio('PCMU').slice(-6000, -1000), 8000, 1000, 440)).toBeGreaterThan(30);
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      expect(agent.sip.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      await callerHangsUp(call);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });
});

describe('bridge transfer not answered: the caller stays with the bot', () => {
  it('agent busy 486: failed 486, no BYE, the caller still reaches the bot; a second agent then answers', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-busy');
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      agent.respond(486, 'Busy Here');
      await waitStatus(call, 'failed');
      expect(statusOf(call).at(-1)).toMatchObject({ status: 'failed', sip_status: 486 });
      await callerToneReachesBot(call, 'PCMA');
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      expect(await metric('bridge_transfers_total{mode="bridge",result="failed"}')).toMatch(/ [1-9]\d*$/);
      // The bot tries another agent, who is free.
      const second = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
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
        expect((await reportFor('bridge-busy')).transfer).toMatchObject({ mode: 'bridge', status: 'completed', to: expect.stringContaining('agent-2') });
      } finally {
        second.close();
      }
    } finally {
      call.close();
      agent.close();
    }
  });

  it('no answer within transfer.ringTimeoutMs: CANCEL to the agent, failed 408, the caller still reaches the bot', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-noanswer');
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      agent.respond(180, 'Ringing');
      await agent.takeCancel(5000);
      await waitStatus(call, 'failed');
      expect(statusOf(call).at(-1)).toMatchObject({ status: 'failed', sip_status: 408 });
      expect(statusOf(call).at(-1)!.reason).toMatch(/no answer/);
      await callerToneReachesBot(call, 'PCMA');
      await callerHangsUp(call);
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });

  it('the caller hangs up while the agent rings: CANCEL to the agent (asked through the API: 202, then 409 for a second)', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-cancel');
    try {
      const asked = await api('POST', '/v1/calls/call-sid-1/transfer', { to: agent.uri(), mode: 'bridge', bot: 'listen' });
      expect(asked.status).toBe(202);
      await agent.invite();
      agent.respond(180, 'Ringing');
      await waitStatus(call, 'ringing');
      const second = await api('POST', '/v1/calls/call-sid-1/transfer', { to: agent.uri(), mode: 'bridge' });
      expect(second.status).toBe(409);
      await callerHangsUp(call);
      await agent.takeCancel();
      await call.conn.waitForEvent('stop');
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });
});

describe('bridge transfer limits', () => {
  it('an INVITE the agent cannot be offered (an agent answering without a common codec): failed, the caller stays with the bot', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-badsdp');
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge' }));
      await agent.invite();
      agent.respond(200, 'OK', `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${agent.rtp.port} RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n`);
      await agent.sip.request('ACK');
      await waitStatus(call, 'failed');
      expect(statusOf(call).at(-1)!.reason).toMatch(/SDP/);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      await callerToneReachesBot(call, 'PCMA');
      await callerHangsUp(call);
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });
});

describe('bridge transfer of other calls', () => {
  it('a second call\'s agent leg through a trunk with no channel left: failed with the reason, no INVITE', async () => {
    await noCalls();
    const call = await answeredCall(sipTcp(), bot, 'bridge-full');
    const before = trunkAgent.sip.received.length;
    try {
      call.conn.send(transferMessage(call, { to: '+918041234567', trunk: 'agents', mode: 'bridge' }));
      const invite = (await trunkAgent.sip.waitFor((m) => m.kind === 'request' && m.method === 'INVITE', 'INVITE', 5000, before)) as SipRequest;
      trunkAgent.respond(180, 'Ringing', undefined, invite);
      // A second call's agent leg finds the trunk's one channel taken.
      const other = await answeredCall(sipTcp(), bot, 'bridge-full-2');
      try {
        other.conn.send(transferMessage(other, { to: '+918041234568', trunk: 'agents', mode: 'bridge' }));
        await other.conn.until((ms) => statuses(ms).length > 0, 5000, 'transfer_status');
        expect(statuses(other.conn.messages)[0]).toMatchObject({ status: 'failed' });
        expect(statuses(other.conn.messages)[0]!.reason).toMatch(/its limit is 1/);
        await callerHangsUp(other);
      } finally {
        other.close();
      }
      expect(trunkAgent.sip.count((m) => m.kind === 'request' && m.method === 'INVITE' && m.callId !== invite.callId && trunkAgent.sip.received.indexOf(m) >= before)).toBe(0);
      await callerHangsUp(call);
      const cancel = (await trunkAgent.sip.waitFor((m) => m.kind === 'request' && m.method === 'CANCEL', 'CANCEL', 5000, before)) as SipRequest;
      trunkAgent.sip.send(okTo(cancel));
      trunkAgent.respond(487, 'Request Terminated', undefined, invite);
      await waitForIdle(bridge);
    } finally {
      call.close();
    }
  });

  it('an outbound call: the called party is bridged to the agent; the agent hangs up and the called party gets BYE', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const phone = await RtpPeer.open();
    const botIndex = bot.connections.length;
    try {
      const placed = await api('POST', '/v1/calls', { to: '+919876543210', from: '+912261234567', trunk: 'callee' });
      expect(placed.status).toBe(201);
      const sid = placed.body.call_sid as string;
      const invite = await callee.invite();
      callee.respond(200, 'OK', sdpOffer({ port: phone.port, formats: [{ pt: 8, rtpmap: 'PCMA/8000' }, { pt: 96, rtpmap: 'telephone-event/8000' }] }));
      await callee.sip.request('ACK');
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.send({ event: 'transfer', stream_sid: conn.streamSid, transfer: { to: agent.uri('agent-out'), mode: 'bridge', bot: 'listen' } });
      const agentInvite = await agent.invite();
      // From: the called party, the phone side of this call.
      expect(agentInvite.headers.get('from')).toMatch(/^<sip:\+919876543210@/);
      await agent.answer();
      await conn.until((ms) => statuses(ms).some((x) => x.status === 'completed'), 5000, 'completed');
      const phoneRtp = callee.bridgeRtp;
      const before = agent.rtp.received.length;
      await phone.send(phoneRtp, 'PCMA', tone(1000, 8000, 8000));
      await sleep(200);
      expect(agent.rtp.received.length - before).toBeGreaterThan(30);
      expect(relativeLevelDb(agent.rtp.audio('PCMU').slice(-6000, -1000), 8000, 1000, 440)).toBeGreaterThan(30);
      agent.bye();
      await agent.sip.response(200, 'BYE');
      const bye = (await callee.sip.waitFor((m) => m.kind === 'request' && m.method === 'BYE' && m.callId === invite.callId, 'BYE')) as SipRequest;
      callee.sip.send(okTo(bye));
      await conn.waitForEvent('stop');
      for (let i = 0; i < 100 && (await api('GET', `/v1/calls/${sid}`)).body.status === 'in-progress'; i++) await sleep(50);
      const record = (await api('GET', `/v1/calls/${sid}`)).body;
      expect(record.transfer).toMatchObject({ to: agent.uri('agent-out'), mode: 'bridge', status: 'completed', sip_status: 200 });
      await waitForIdle(bridge);
    } finally {
      agent.close();
      phone.close();
    }
  });

  it('a recorded call records the caller left and the agent (what the caller heard) right', async () => {
    await noCalls();
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'bridge-rec', [['X-Rec', 'yes']]);
    try {
      call.conn.send(transferMessage(call, { to: agent.uri(), mode: 'bridge', bot: 'stop' }));
      await agent.invite();
      await agent.answer();
      await call.conn.waitForEvent('stop');
      await Promise.all([call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 12_000)), agent.rtp.send(agent.bridgeRtp, 'PCMU', tone(440, 8000, 12_000))]);
      await callerHangsUp(call);
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      const report = await reportFor('bridge-rec');
      const wav = readWav(readFileSync(report.recording.path));
      if (!wav.ok) throw new Error(wav.reason);
      const { samples, channels } = wav.value;
      expect(channels).toBe(2);
      const frames = samples.length / 2;
      const channel = (which: number) => Int16Array.from({ length: 8000 }, (_, i) => samples[(frames - 12_000 + i) * 2 + which] ?? 0);
      expect(Math.abs(dominantFrequency(channel(0), 8000) - 1000)).toBeLessThanOrEqual(20);
      expect(Math.abs(dominantFrequency(channel(1), 8000) - 440)).toBeLessThanOrEqual(20);
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });
});
