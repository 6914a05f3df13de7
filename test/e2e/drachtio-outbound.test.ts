// Outbound calls through the API with `sip.backend: drachtio`, end to end: POST /v1/calls -> the bot's `connected`
// -> INVITE through a private drachtio-server to SIPp as the trunk -> answer -> `start` (direction outbound) ->
// audio both ways through an RtpPeer in the trunk's SDP -> the trunk's BYE -> `stop`, record completed; and 486 ->
// busy. Skipped with the reason when drachtio-server is absent.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, recordWhen, type CallApiClient } from '../helpers/call-api.js';
import { botToneReachesCaller, bridgeRtpAddress, callerToneReachesBot, expectSippPassed } from '../helpers/carrier.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { header, lines } from '../helpers/drachtio-trunk.js';
import { calledParty, untilListening } from '../helpers/sipp-trunk.js';
import type { TrunkFlow } from '../helpers/sipp-trunk-scenario.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping drachtio outbound tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

const TOKEN = 'drachtio-outbound-token';
const CALL = { to: '+919876543210', from: '+912261234567', custom_parameters: { lead: '42' } };

let server: DrachtioServer;
beforeAll(async () => {
  if (skip) return;
  server = await startDrachtioServer();
});
afterAll(async () => {
  await server?.stop();
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(flow: (rtpPort: number) => TrunkFlow) {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const { peer, sipPort, trunk } = await calledParty(cleanup, flow);
  await untilListening(sipPort);
  const bridge = await startTestBridge({
    sip: { backend: 'drachtio', drachtio: { host: server.host, port: server.adminPort, secret: server.secret }, udp: false, tcp: false },
    api: { token: TOKEN },
    trunks: [{ name: 'sipp', uri: `sip:127.0.0.1:${sipPort}`, fromDomain: 'acme.pstn.example.com', headers: { 'X-Campaign': 'default' } }],
    bot: { defaultUrl: bot.url },
  });
  cleanup.push(() => bridge.stop());
  // The bridge comes up before its drachtio-server connection does: /health says when it is there.
  const up = Date.now() + 5000;
  while ((await fetch(`http://127.0.0.1:${bridge.httpPort}/health`)).status !== 200 && Date.now() < up) await new Promise((r) => setTimeout(r, 20));
  return { bot, peer, trunk, bridge, api: callApiClient(bridge.httpPort, TOKEN) };
}

const finalRecord = (api: CallApiClient, sid: string) => recordWhen(api, sid, (r) => r.ended_at !== null, 'end');

describe.skipIf(skip)('outbound calls through drachtio-server', () => {
  it('connects the bot, starts it at the answer, carries audio both ways and stops it on the trunk BYE', async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs: 3000 }));
    const placed = await s.api('POST', '/v1/calls', { ...CALL, headers: { 'X-UUI': 'lead-42' } });
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const conn = await s.bot.connection(0);
    await conn.waitForEvent('start');
    expect(conn.messages[0]!.event).toBe('connected');
    expect(conn.start!.start).toMatchObject({ call_sid: sid, from: CALL.from, to: CALL.to, direction: 'outbound', custom_parameters: CALL.custom_parameters });
    expect((await s.api('GET', `/v1/calls/${sid}`)).body).toMatchObject({ status: 'in-progress', sip_status: 200, direction: 'outbound', trunk: 'sipp' });

    const call = { conn, caller: s.peer, bridgeRtp: await bridgeRtpAddress(s.peer) };
    await callerToneReachesBot(call, 'PCMA');
    await botToneReachesCaller(call, 'PCMA');

    await conn.waitForEvent('stop', 8000);
    expect(conn.stop!.stop.reason).toBe('callended');
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', sip_status: 200, disconnected_by: 'caller', end_reason: 'bye' });
    const result = await s.trunk;
    expectSippPassed(result);
    const [invite] = lines(result, /^INVITE /);
    expect(invite).toMatch(/^INVITE sip:\+919876543210@127\.0\.0\.1 SIP\/2\.0/);
    expect(header(invite!, 'From')).toMatch(/^<sip:\+912261234567@acme\.pstn\.example\.com>;tag=\S+$/);
    expect(header(invite!, 'X-Campaign')).toBe('default');
    expect(header(invite!, 'X-UUI')).toBe('lead-42');
    await waitForIdle(s.bridge);
  }, 30_000);

  it('reports 486 as busy; the bot got `connected` and never `start`', async () => {
    const s = await setup(() => ({ kind: 'reject', status: 486, phrase: 'Busy Here' }));
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const record = await finalRecord(s.api, sid);
    expect(record).toMatchObject({ status: 'busy', sip_status: 486, answered_at: null });
    expectSippPassed(await s.trunk);
    const conn = await s.bot.connection(0);
    expect(conn.messages.map((m) => m.event)).not.toContain('start');
    await waitForIdle(s.bridge);
  }, 30_000);
});
