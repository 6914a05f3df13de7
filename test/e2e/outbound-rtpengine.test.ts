// Outbound calls through a real rtpengine (Debian's daemon on loopback): the INVITE carries rtpengine's address,
// audio goes RtpPeer (the trunk's media) <-> rtpengine <-> bridge <-> bot, and rtpengine holds no session after any
// ending. Also: the trunk's re-INVITEs, SDES-SRTP toward a trunk, rtpengine's interfaces as in production, the
// drachtio backend, and rtpengine down or not answering.
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { BridgeConfigInput } from '../../src/config/index.js';
import { RtpengineRelay } from '../../src/media/rtpengine.js';
import { buildOffer } from '../../src/sdp/index.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, testLogger, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, recordWhen, type CallApiClient } from '../helpers/call-api.js';
import { botToneReachesCaller, bridgeRtpAddress, callerToneReachesBot, expectSippPassed } from '../helpers/carrier.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { startRtpengine, type RtpengineDaemon } from '../helpers/rtpengine.js';
import { SrtpContext } from '../helpers/srtp.js';
import { runSipp, tracedMessages, type SippResult } from '../helpers/sipp.js';
import { calledParty, freeUdpPort, runTrunk, untilListening } from '../helpers/sipp-trunk.js';
import { CAPTURE_FROM_TO, TRUNK_BYE, trunkResponse, trunkSdp, type TrunkFlow } from '../helpers/sipp-trunk-scenario.js';

const root = process.getuid?.() === 0;
if (!root) console.warn('skipping outbound rtpengine tests: the rtpengine daemon needs root');

const TOKEN = 'outbound-rtpengine-token';
const CALL = { to: '+919876543210', from: '+912261234567' };

let rtpengine: RtpengineDaemon;
let bot: TestBot;

beforeAll(async () => {
  if (!root) return;
  rtpengine = await startRtpengine();
  bot = await TestBot.start();
});

afterAll(async () => {
  await bot?.close();
  await rtpengine?.stop();
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const relayConfig = (port: number, extra: Record<string, unknown> = {}): BridgeConfigInput['media'] => ({
  relay: 'rtpengine',
  rtpengine: { host: '127.0.0.1', port, localAddress: '127.0.0.1', ...extra },
});

async function bridgeWith(trunkUri: string, media: BridgeConfigInput['media']): Promise<{ bridge: Bridge; api: CallApiClient }> {
  const bridge = await startTestBridge({
    api: { token: TOKEN },
    trunks: [{ name: 'sipp', uri: trunkUri }],
    bot: { defaultUrl: bot.url },
    media,
  });
  cleanup.push(() => bridge.stop());
  return { bridge, api: callApiClient(bridge.httpPort, TOKEN) };
}

async function setup(flow: (rtpPort: number) => TrunkFlow) {
  const { peer, sipPort, trunk } = await calledParty(cleanup, flow);
  const { bridge, api } = await bridgeWith(`sip:127.0.0.1:${sipPort};transport=udp`, relayConfig(rtpengine.ngPort));
  return { peer, trunk, bridge, api };
}

const finalRecord = (api: CallApiClient, sid: string, timeoutMs = 10_000) => recordWhen(api, sid, (r) => r.ended_at !== null, 'end', timeoutMs);
const sdpPort = (sdp: string) => Number(/^m=audio (\d+) /m.exec(sdp)![1]);
const sdpAddress = (sdp: string) => /^c=IN IP4 (\S+)/m.exec(sdp)![1];
const inRelayRange = (port: number) => port >= rtpengine.portMin && port <= rtpengine.portMax;

async function noSessionLeft(): Promise<void> {
  // The delete goes out as the call ends; the record may be read a moment before rtpengine has done it.
  const deadline = Date.now() + 3000;
  while ((await rtpengine.calls()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(await rtpengine.calls()).toEqual([]);
}

describe.skipIf(!root)('outbound calls through rtpengine', () => {
  it("offers rtpengine's address to the trunk, carries audio both ways through it, and deletes its session on the trunk BYE", async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs: 4000 }));
    const index = bot.connections.length;
    const placed = await s.api('POST', '/v1/calls', CALL);
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const conn = await bot.connection(index);
    await conn.waitForEvent('start');
    expect(await rtpengine.calls()).toEqual([`bridge-out-${sid}`]);

    // The trunk's media hears from rtpengine's carrier side, not from the bridge's port range.
    const relayRtp = await bridgeRtpAddress(s.peer);
    expect(inRelayRange(relayRtp.port)).toBe(true);
    const call = { conn, caller: s.peer, bridgeRtp: relayRtp };
    await callerToneReachesBot(call, 'PCMA');
    await botToneReachesCaller(call, 'PCMA');
    expect(s.peer.received.every((p) => p.from === `127.0.0.1:${relayRtp.port}`)).toBe(true);

    await conn.waitForEvent('stop', 8000);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', sip_status: 200, disconnected_by: 'caller', end_reason: 'bye' });
    const result = await s.trunk;
    expectSippPassed(result);
    const invite = tracedMessages(result).find((m) => m.startsWith('INVITE '))!;
    expect(sdpPort(invite)).toBe(relayRtp.port);
    expect(sdpAddress(invite)).toBe('127.0.0.1');
    expect(invite).toMatch(/^m=audio \d+ RTP\/AVP 8 0 101/m);
    await waitForIdle(s.bridge);
    await noSessionLeft();
  }, 30_000);

  it('places 10 calls at once through rtpengine: all answered and completed, one session each, none left', async () => {
    const sipPort = await freeUdpPort();
    const trunk = runTrunk(sipPort, { kind: 'answer-hangup', rtpPort: 9, afterMs: 3000 }, 20_000, 10);
    const { bridge, api } = await bridgeWith(`sip:127.0.0.1:${sipPort};transport=udp`, relayConfig(rtpengine.ngPort));
    const answers = await Promise.all(Array.from({ length: 10 }, () => api('POST', '/v1/calls', CALL)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    const sids = answers.map((a) => a.body.call_sid as string);
    for (const sid of sids) await recordWhen(api, sid, (r) => r.status === 'in-progress' || r.ended_at !== null, 'answer');
    expect((await rtpengine.calls()).sort()).toEqual(sids.map((sid) => `bridge-out-${sid}`).sort());
    expectSippPassed(await trunk);
    for (const sid of sids) expect(await finalRecord(api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
    await waitForIdle(bridge);
    await noSessionLeft();
  }, 30_000);

  it('hangs up with BYE on DELETE and deletes the session', async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-await-bye', rtpPort, timeoutMs: 10_000 }));
    const index = bot.connections.length;
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await bot.connection(index);
    await conn.waitForEvent('start');
    expect(await rtpengine.calls()).toHaveLength(1);
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
    expectSippPassed(await s.trunk);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'system' });
    await waitForIdle(s.bridge);
    await noSessionLeft();
  }, 30_000);

  it('leaves no rtpengine session after a busy trunk (486)', async () => {
    const s = await setup(() => ({ kind: 'reject', status: 486, phrase: 'Busy Here' }));
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'busy', sip_status: 486, answered_at: null });
    expectSippPassed(await s.trunk);
    await waitForIdle(s.bridge);
    await noSessionLeft();
  }, 30_000);

  it('leaves no rtpengine session after no answer (CANCEL)', async () => {
    const s = await setup(() => ({ kind: 'ring-until-cancel', timeoutMs: 10_000 }));
    const sid = (await s.api('POST', '/v1/calls', { ...CALL, ring_timeout_s: 1 })).body.call_sid as string;
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'no-answer', sip_status: 487 });
    expectSippPassed(await s.trunk);
    await waitForIdle(s.bridge);
    await noSessionLeft();
  }, 30_000);

  it('deletes the session when the call is given up while ringing: DELETE (canceled), or the bot closing', async () => {
    for (const giveUp of ['delete', 'bot'] as const) {
      const s = await setup(() => ({ kind: 'ring-until-cancel', timeoutMs: 10_000 }));
      const index = bot.connections.length;
      const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
      const conn = await bot.connection(index);
      await recordWhen(s.api, sid, (r) => r.status === 'ringing', 'ringing');
      expect(await rtpengine.calls()).toEqual([`bridge-out-${sid}`]);
      // The scenario pauses 200 ms after its 180 before it expects a CANCEL.
      await new Promise((r) => setTimeout(r, 400));
      if (giveUp === 'delete') expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
      else conn.ws.close(1000, 'changed my mind');
      const record = await finalRecord(s.api, sid);
      expect(record).toMatchObject(giveUp === 'delete' ? { status: 'canceled', disconnected_by: 'system' } : { status: 'failed', disconnected_by: 'bot' });
      expectSippPassed(await s.trunk);
      await waitForIdle(s.bridge);
      await noSessionLeft();
      for (const fn of cleanup.splice(0).reverse()) await fn();
    }
  }, 40_000);

  it("answers the trunk's re-INVITE (hold) through rtpengine: the 200 keeps rtpengine's port, the bridge stops sending", async () => {
    const peer = await RtpPeer.open();
    cleanup.push(() => peer.close());
    const sipPort = await freeUdpPort();
    const trunk = holdingTrunk(sipPort, peer.port);
    const { bridge, api } = await bridgeWith(`sip:127.0.0.1:${sipPort};transport=udp`, relayConfig(rtpengine.ngPort));
    const index = bot.connections.length;
    const sid = (await api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await bot.connection(index);
    await conn.waitForEvent('start');
    const relayRtp = await bridgeRtpAddress(peer);
    await callerToneReachesBot({ conn, caller: peer, bridgeRtp: relayRtp }, 'PCMA');
    // Held from 1.5 s after the answer: the bot's audio no longer reaches the trunk's media.
    await new Promise((r) => setTimeout(r, 1600));
    const whileHeld = peer.received.length;
    conn.sendAudio(Buffer.alloc(16_000 * 2 * 0.4));
    await new Promise((r) => setTimeout(r, 500));
    expect(peer.received.length - whileHeld).toBeLessThanOrEqual(2);
    expect(await finalRecord(api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
    const result = await trunk;
    expectSippPassed(result);
    const messages = tracedMessages(result);
    const ok = messages.filter((m) => m.startsWith('SIP/2.0 200') && /^CSeq:\s*1 INVITE/m.test(m)).find((m) => m.includes('a=recvonly'));
    expect(ok).toBeDefined();
    expect(sdpPort(ok!)).toBe(relayRtp.port);
    expect(sdpAddress(ok!)).toBe('127.0.0.1');
    await waitForIdle(bridge);
    await noSessionLeft();
  }, 30_000);

  it('offers SDES-SRTP to a trunk with `srtp: true`: RTP/SAVP with rtpengine\'s key, audio both ways encrypted, the bridge leg plain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srtp-trunk-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'key');
    const trunkKey = 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR';
    const toRtpengine = new SrtpContext(trunkKey);
    let fromRtpengine: SrtpContext | undefined;
    const peer = await RtpPeer.open({ protect: (p) => toRtpengine.protect(p), unprotect: (p) => fromRtpengine?.unprotect(p) });
    cleanup.push(() => peer.close());
    const sipPort = await freeUdpPort();
    const trunk = srtpTrunk(sipPort, peer.port, trunkKey, keyFile, 4000);
    const bridge = await startTestBridge({
      api: { token: TOKEN },
      trunks: [{ name: 'sipp', uri: `sip:127.0.0.1:${sipPort};transport=udp`, srtp: true }],
      bot: { defaultUrl: bot.url },
      media: relayConfig(rtpengine.ngPort),
    });
    cleanup.push(() => bridge.stop());
    const api = callApiClient(bridge.httpPort, TOKEN);
    const index = bot.connections.length;
    const sid = (await api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await bot.connection(index);
    await conn.waitForEvent('start');
    // SIPp runs its <exec> in a child process of its own: the file comes a moment after the INVITE.
    const deadline = Date.now() + 3000;
    while (!existsSync(keyFile) || !readFileSync(keyFile, 'utf8').includes('\n')) {
      if (Date.now() > deadline) throw new Error("SIPp did not write rtpengine's key");
      await new Promise((r) => setTimeout(r, 20));
    }
    fromRtpengine = new SrtpContext(readFileSync(keyFile, 'utf8').split(' ')[0]!);

    const relayRtp = await bridgeRtpAddress(peer);
    expect(inRelayRange(relayRtp.port)).toBe(true);
    await callerToneReachesBot({ conn, caller: peer, bridgeRtp: relayRtp }, 'PCMA');
    await botToneReachesCaller({ conn, caller: peer }, 'PCMA');
    expect(peer.rejected).toBe(0);

    expect(await finalRecord(api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
    const result = await trunk;
    expectSippPassed(result);
    const invite = tracedMessages(result).find((m) => m.startsWith('INVITE '))!;
    expect(invite).toMatch(/^m=audio \d+ RTP\/SAVP 8 0 101\r?$/m);
    expect(invite.match(/^a=crypto:\d+ (\S+) /gm)).toEqual([expect.stringMatching(/AES_CM_128_HMAC_SHA1_80 $/), expect.stringMatching(/AES_CM_128_HMAC_SHA1_32 $/)]);
    expect(invite).not.toMatch(/^a=(fingerprint|setup):/m);
    expect(sdpPort(invite)).toBe(relayRtp.port);
    await waitForIdle(bridge);
    await noSessionLeft();
  }, 30_000);

  it("passes the trunk's re-offers through the call's session: from-tag the trunk's, answered on rtpengine's ports", async () => {
    // The ng exchanges an outbound call and a trunk's re-INVITE make, without SIP around them.
    const relay = new RtpengineRelay({ host: '127.0.0.1', port: rtpengine.ngPort, localAddress: '127.0.0.1', timeoutMs: 1000, retries: 0, log: testLogger() });
    cleanup.push(() => relay.close());
    const session = relay.outboundSession('reoffer-test', 'bridge-tag', 'trunk-tag');
    try {
      const toTrunk = await session.offer(buildOffer({ address: '127.0.0.1', port: 20_002, sessionId: 1 }));
      const carrierPort = sdpPort(toTrunk);
      expect(inRelayRange(carrierPort)).toBe(true);
      const trunkAnswer = toTrunk.replace(/^m=audio \d+ RTP\/AVP .*$/m, 'm=audio 40000 RTP/AVP 8 101').replace(/^o=.*$/m, 'o=- 7 1 IN IP4 127.0.0.1');
      const toBridge = await session.answer(trunkAnswer);
      const bridgePort = sdpPort(toBridge);
      expect(inRelayRange(bridgePort)).toBe(true);
      expect(bridgePort).not.toBe(carrierPort);

      // The trunk puts us on hold: rtpengine offers it to the bridge from the same bridge-side port...
      const reoffer = trunkAnswer.replace('a=sendrecv', 'a=sendonly');
      const toBridgeAgain = await session.reoffers.offer(reoffer);
      expect(sdpPort(toBridgeAgain)).toBe(bridgePort);
      expect(toBridgeAgain).toMatch(/^a=sendonly\r?$/m);
      // ...and our answer goes back to the trunk on the same carrier-side port.
      const ours = buildOffer({ address: '127.0.0.1', port: 20_002, sessionId: 1, sessionVersion: 2 }).replace('a=sendrecv', 'a=recvonly');
      const toTrunkAgain = await session.reoffers.answer(session.bridgeTag, ours);
      expect(sdpPort(toTrunkAgain)).toBe(carrierPort);
      expect(toTrunkAgain).toMatch(/^a=recvonly\r?$/m);
      expect(await rtpengine.calls()).toEqual(['reoffer-test']);
    } finally {
      await session.delete();
    }
    expect(await rtpengine.calls()).toEqual([]);
  });
});

/** A trunk that answers, puts the call on hold with a re-INVITE (answer and re-offer pointing at `rtpPort`), then hangs up. */
function holdingTrunk(sipPort: number, rtpPort: number): Promise<SippResult> {
  const sdp = (version: number, direction: string) => trunkSdp(rtpPort, { version, direction });
  const request = (method: string, cseq: number, body?: string) => `
  <send${method === 'ACK' ? '' : ' retrans="500"'}>
    <![CDATA[
${method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$bridge_to];tag=[pid]trunk[call_number]
To: [$bridge_from]
Call-ID: [call_id]
CSeq: ${cseq} ${method}
Contact: <sip:trunk@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
${body === undefined ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${body}`}
    ]]>
  </send>`;
  const xml = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="trunk hold">
  <recv request="INVITE" rrs="true">
    <action>${CAPTURE_FROM_TO}
    </action>
  </recv>${trunkResponse('200 OK', '', sdp(1, 'sendrecv'))}
  <recv request="ACK"/>
  <pause milliseconds="1500"/>${request('INVITE', 1, sdp(2, 'sendonly'))}
  <recv response="100" optional="true"/>
  <recv response="200"/>${request('ACK', 1)}
  <pause milliseconds="1000"/>${request('BYE', 2)}
  <recv response="200"/>
</scenario>
`;
  return runSipp({ scenario: { xml }, transport: 'u1', target: { host: '127.0.0.1', port: 9 }, timeoutMs: 20_000, extraArgs: ['-p', String(sipPort), '-m', '1'] });
}

/**
 * An SRTP trunk: answers RTP/SAVP with its own key (`key`) at `rtpPort`, writes the key rtpengine offered to
 * `keyFile` (for the test's SRTP context), then hangs up after `afterMs`.
 */
function srtpTrunk(sipPort: number, rtpPort: number, key: string, keyFile: string, afterMs: number): Promise<SippResult> {
  const xml = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="srtp trunk">
  <recv request="INVITE" rrs="true">
    <action>${CAPTURE_FROM_TO}
      <ereg regexp="a=crypto:([0-9]+) AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/]{40})" search_in="msg" check_it="true" assign_to="crypto_line,crypto_tag,offered_key"/>
      <exec command="echo [$offered_key] [$crypto_line] > ${keyFile}"/>
    </action>
  </recv>${trunkResponse('200 OK', '', trunkSdp(rtpPort, { profile: 'RTP/SAVP', lines: [`a=crypto:[$crypto_tag] AES_CM_128_HMAC_SHA1_80 inline:${key}`] }))}
  <recv request="ACK"/>
  <pause milliseconds="${afterMs}"/>${TRUNK_BYE}
</scenario>
`;
  return runSipp({ scenario: { xml }, transport: 'u1', target: { host: '127.0.0.1', port: 9 }, timeoutMs: 20_000, extraArgs: ['-p', String(sipPort), '-m', '1'] });
}

describe.skipIf(!root)('outbound calls through rtpengine with interfaces (as in production)', () => {
  let twoSided: RtpengineDaemon;
  beforeAll(async () => {
    twoSided = await startRtpengine(['external/127.0.0.2', 'internal/127.0.0.1']);
  });
  afterAll(async () => {
    await twoSided?.stop();
  });

  it("offers the trunk rtpengine's external address, and sends the bridge's media to its internal one", async () => {
    const peer = await RtpPeer.open();
    cleanup.push(() => peer.close());
    const sipPort = await freeUdpPort();
    const trunk = runTrunk(sipPort, { kind: 'answer-hangup', rtpPort: peer.port, afterMs: 3000 }, 20_000);
    const { bridge, api } = await bridgeWith(
      `sip:127.0.0.1:${sipPort};transport=udp`,
      relayConfig(twoSided.ngPort, { interfaces: { carrier: 'external', bridge: 'internal' } }),
    );
    const index = bot.connections.length;
    const sid = (await api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await bot.connection(index);
    await conn.waitForEvent('start');
    const relayRtp = await bridgeRtpAddress(peer);
    expect(relayRtp.address).toBe('127.0.0.2');
    const call = { conn, caller: peer, bridgeRtp: relayRtp };
    await callerToneReachesBot(call, 'PCMA');
    await botToneReachesCaller(call, 'PCMA');
    expect(await finalRecord(api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
    const result = await trunk;
    expectSippPassed(result);
    const invite = tracedMessages(result).find((m) => m.startsWith('INVITE '))!;
    expect(sdpAddress(invite)).toBe('127.0.0.2');
    expect(sdpPort(invite)).toBe(relayRtp.port);
    await waitForIdle(bridge);
    const deadline = Date.now() + 3000;
    while ((await twoSided.calls()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await twoSided.calls()).toEqual([]);
  }, 30_000);
});

const drachtio = drachtioBinary();
const noDrachtio = 'missing' in drachtio ? `skipping the drachtio + rtpengine outbound test: ${drachtio.missing}` : undefined;
if (noDrachtio) console.warn(noDrachtio);

describe.skipIf(!root || noDrachtio)('outbound calls through drachtio-server and rtpengine (the production stack)', () => {
  let server: DrachtioServer;
  beforeAll(async () => {
    server = await startDrachtioServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("sends the INVITE through drachtio-server with rtpengine's address; audio both ways; no session after the BYE", async () => {
    const peer = await RtpPeer.open();
    cleanup.push(() => peer.close());
    const sipPort = await freeUdpPort();
    const trunk = runTrunk(sipPort, { kind: 'answer-hangup', rtpPort: peer.port, afterMs: 3000 }, 20_000);
    await untilListening(sipPort);
    const bridge = await startTestBridge({
      sip: { backend: 'drachtio', drachtio: { host: server.host, port: server.adminPort, secret: server.secret }, udp: false, tcp: false },
      api: { token: TOKEN },
      trunks: [{ name: 'sipp', uri: `sip:127.0.0.1:${sipPort}` }],
      bot: { defaultUrl: bot.url },
      media: relayConfig(rtpengine.ngPort),
    });
    cleanup.push(() => bridge.stop());
    const up = Date.now() + 5000;
    while ((await fetch(`http://127.0.0.1:${bridge.httpPort}/health`)).status !== 200 && Date.now() < up) await new Promise((r) => setTimeout(r, 20));
    const api = callApiClient(bridge.httpPort, TOKEN);
    const index = bot.connections.length;
    const placed = await api('POST', '/v1/calls', CALL);
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const conn = await bot.connection(index);
    await conn.waitForEvent('start');
    const relayRtp = await bridgeRtpAddress(peer);
    expect(inRelayRange(relayRtp.port)).toBe(true);
    const call = { conn, caller: peer, bridgeRtp: relayRtp };
    await callerToneReachesBot(call, 'PCMA');
    await botToneReachesCaller(call, 'PCMA');
    expect(await finalRecord(api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
    const result = await trunk;
    expectSippPassed(result);
    expect(sdpPort(tracedMessages(result).find((m) => m.startsWith('INVITE '))!)).toBe(relayRtp.port);
    await waitForIdle(bridge);
    await noSessionLeft();
  }, 30_000);
});

/** An ng endpoint that answers `ping` (so the health watch says up) and nothing else: rtpengine stuck. */
async function deafRtpengine(): Promise<{ port: number; commands: string[]; socket: Socket }> {
  const socket = createSocket('udp4');
  const commands: string[] = [];
  socket.on('message', (msg, from) => {
    const text = msg.toString('latin1');
    const space = text.indexOf(' ');
    const command = /7:command(\d+):/.exec(text);
    const name = command ? text.substr(command.index + command[0].length, Number(command[1])) : '?';
    commands.push(name);
    if (name === 'ping') socket.send(`${text.slice(0, space)} d6:result4:ponge`, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, commands, socket };
}

describe.skipIf(!root)('outbound calls when rtpengine does not answer', () => {
  it('ends the call failed with the reason when rtpengine does not answer the offer; no INVITE is sent', async () => {
    const deaf = await deafRtpengine();
    cleanup.push(() => deaf.socket.close());
    // The trunk: a bare socket that counts what reaches it.
    const trunk = createSocket('udp4');
    let toTrunk = 0;
    trunk.on('message', () => toTrunk++);
    await new Promise<void>((resolve) => trunk.bind(0, '127.0.0.1', () => resolve()));
    cleanup.push(() => trunk.close());
    const { bridge, api } = await bridgeWith(`sip:127.0.0.1:${trunk.address().port};transport=udp`, relayConfig(deaf.port, { timeoutMs: 200, retries: 0, pingIntervalMs: 60_000 }));
    const placed = await api('POST', '/v1/calls', CALL);
    expect(placed.status).toBe(201);
    const record = await finalRecord(api, placed.body.call_sid);
    expect(record).toMatchObject({ status: 'failed', sip_status: null, answered_at: null, disconnected_by: 'system' });
    expect(record.end_reason).toMatch(/^media relay: rtpengine at 127\.0\.0\.1:\d+ did not answer offer/);
    await waitForIdle(bridge);
    // The offer may have reached rtpengine with its reply lost: the delete is sent all the same.
    await new Promise((r) => setTimeout(r, 300));
    expect(deaf.commands).toEqual(expect.arrayContaining(['ping', 'offer', 'delete']));
    expect(toTrunk).toBe(0);
  }, 20_000);

  it('refuses POST /v1/calls with 503 and the reason while the health watch knows rtpengine is down', async () => {
    const silent = await freeUdpPort();
    const { api } = await bridgeWith('sip:127.0.0.1:5999;transport=udp', relayConfig(silent, { timeoutMs: 100, retries: 0, pingIntervalMs: 60_000 }));
    const placed = await api('POST', '/v1/calls', CALL);
    expect(placed.status).toBe(503);
    expect(placed.headers.get('retry-after')).toBe('5');
    expect(placed.body.error).toMatch(/media relay: rtpengine at 127\.0\.0\.1:\d+ did not answer ping/);
  }, 20_000);
});
