// Outbound calls end to end with SIPp as the trunk: POST /v1/calls -> bot `connected`, INVITE, answer, `start` with
// direction outbound, audio both ways, hang-ups either way, busy, no answer with CANCEL, and the status webhooks.
import { afterEach, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { BridgeConfigInput } from '../../src/config/index.js';
import { dominantFrequency, tone } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, recordWhen, type CallApiClient } from '../helpers/call-api.js';
import { botToneReachesCaller, bridgeRtpAddress, callerToneReachesBot, expectSippPassed } from '../helpers/carrier.js';
import { tracedMessages } from '../helpers/sipp.js';
import { calledParty, receivedAt } from '../helpers/sipp-trunk.js';
import type { TrunkFlow } from '../helpers/sipp-trunk-scenario.js';
import { startWireBot } from '../helpers/twilio-bot.js';
import { WebhookServer } from '../helpers/webhook-server.js';

const TOKEN = 'outbound-test-token';
const CALL = { to: '+919876543210', from: '+912261234567', custom_parameters: { campaign: 'diwali', lead: '42' } };

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(
  flow: (rtpPort: number) => TrunkFlow | { readonly file: string },
  overrides: BridgeConfigInput = {},
  trunkExtra: Record<string, unknown> = {},
  calls = 1,
  transport: 'udp' | 'tcp' = 'udp',
) {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const webhook = await WebhookServer.start();
  cleanup.push(() => webhook.close());
  const { peer, sipPort, trunk } = await calledParty(cleanup, flow, calls, transport);
  const bridge = await startTestBridge({
    api: { token: TOKEN },
    trunks: [{ name: 'sipp', uri: `sip:127.0.0.1:${sipPort};transport=${transport}`, fromDomain: 'acme.pstn.example.com', headers: { 'X-Campaign': 'default' }, ...trunkExtra }],
    bot: { defaultUrl: bot.url },
    webhook: { url: `${webhook.url}/status` },
    ...overrides,
  });
  cleanup.push(() => bridge.stop());
  const api = callApiClient(bridge.httpPort, TOKEN);
  return { bot, peer, webhook, trunk, bridge, api };
}

const finalRecord = (api: CallApiClient, sid: string) => recordWhen(api, sid, (r) => r.ended_at !== null, 'end');

async function idle(bridge: Bridge) {
  await waitForIdle(bridge);
}

describe('outbound calls through SIPp as the trunk', () => {
  it.each(['udp', 'tcp'] as const)('connects the bot before the INVITE, starts it at the answer, carries audio both ways and stops it on the trunk BYE, over %s', async (transport) => {
    const s = await setup((rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs: 4000 }), {}, {}, 1, transport);
    const placed = await s.api('POST', '/v1/calls', { ...CALL, headers: { 'X-UUI': 'lead-42' } });
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const conn = await s.bot.connection(0);
    await conn.waitForEvent('start');
    expect(conn.messages[0]!.event).toBe('connected');
    const start = conn.start!;
    expect(start.stream_sid).toBe(placed.body.stream_sid);
    expect(start.start).toMatchObject({ call_sid: sid, stream_sid: placed.body.stream_sid, account_sid: 'self-hosted', from: CALL.from, to: CALL.to, direction: 'outbound', custom_parameters: CALL.custom_parameters });
    expect((await s.api('GET', `/v1/calls/${sid}`)).body).toMatchObject({ status: 'in-progress', sip_status: 200, direction: 'outbound', trunk: 'sipp' });

    const bridgeRtp = await bridgeRtpAddress(s.peer);
    const call = { conn, caller: s.peer, bridgeRtp };
    await callerToneReachesBot(call, 'PCMA');
    await botToneReachesCaller(call, 'PCMA');

    await conn.waitForEvent('stop', 8000);
    expect(conn.stop!.stop.reason).toBe('callended');
    const record = await finalRecord(s.api, sid);
    expect(record).toMatchObject({ status: 'completed', sip_status: 200, disconnected_by: 'caller', end_reason: 'bye', custom_parameters: CALL.custom_parameters });
    const result = await s.trunk;
    expectSippPassed(result);
    const invite = tracedMessages(result).find((m) => m.startsWith('INVITE '))!;
    expect(invite).toMatch(/^INVITE sip:\+919876543210@127\.0\.0\.1 SIP\/2\.0/);
    expect(invite).toMatch(/^From: <sip:\+912261234567@acme\.pstn\.example\.com>;tag=/m);
    expect(invite).toMatch(/^X-Campaign: default$/m);
    expect(invite).toMatch(/^X-UUI: lead-42$/m);
    expect(invite).toMatch(/^m=audio \d+ RTP\/AVP 8 0 101/m);

    await s.webhook.until(3);
    expect(s.webhook.posts.map((p) => p.body.event)).toEqual(['ringing', 'answered', 'completed']);
    const final = s.webhook.posts[2]!.body;
    expect(final).toMatchObject({ call_sid: sid, status: 'completed', direction: 'outbound', trunk: 'sipp', sip_status: 200, dtmf: '' });
    expect(final.media?.packets_in).toBeGreaterThan(0);
    await idle(s.bridge);
  }, 30_000);

  it('rings on a 183 with early media, which the bot never hears, and starts the bot at the 200', async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs: 1500, earlyMedia: true }));
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await s.bot.connection(0);
    await recordWhen(s.api, sid, (r) => r.status === 'ringing', 'ringing');
    // The trunk's early media, to the bridge's port from the offer: no bot stream may carry it.
    const early = s.peer.send(await bridgeRtpAddress(s.peer), 'PCMA', tone(1000, 8000, 2400));
    await conn.waitForEvent('start');
    const beforeStart = conn.messages.findIndex((m) => m.event === 'start');
    expect(conn.messages.slice(0, beforeStart).map((m) => m.event)).toEqual(['connected']);
    await early;
    await conn.waitForEvent('stop', 8000);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', sip_status: 200 });
    const result = await s.trunk;
    expectSippPassed(result);
    expect(tracedMessages(result).some((m) => m.startsWith('SIP/2.0 183'))).toBe(true);
    await s.webhook.until(3);
    expect(s.webhook.posts.map((p) => p.body.event)).toEqual(['ringing', 'answered', 'completed']);
    await idle(s.bridge);
  }, 30_000);

  it.each(['bot.protocol with bot_url', "a route's protocol, routed by custom_parameters"] as const)(
    "speaks the bot's protocol and sends its headers: a Twilio bot gets connected, then start with the call's callSid, and hears the trunk (%s)",
    async (how) => {
      const twilio = await startWireBot();
      cleanup.push(() => twilio.close());
      const bot =
        how === 'bot.protocol with bot_url'
          ? { bot: { protocol: 'twilio', headers: { Authorization: 'Bearer out-twilio' } } }
          : { routes: [{ header: 'X-campaign', equals: 'diwali', url: twilio.url, protocol: 'twilio', headers: { Authorization: 'Bearer out-twilio' } }] };
      const s = await setup((rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs: 2500 }), bot as BridgeConfigInput);
      const placed = await s.api('POST', '/v1/calls', { ...CALL, ...(how === 'bot.protocol with bot_url' && { bot_url: twilio.url }) });
      expect(placed.status).toBe(201);
      const sid = placed.body.call_sid as string;
      const conn = await twilio.connection(0);
      expect(conn.request.headers.authorization).toBe('Bearer out-twilio');
      expect(conn.url.searchParams.get('sample-rate')).toBe('8000');
      await conn.waitForEvent('start');
      expect(conn.messages[0]).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      expect(conn.messages[1]).toMatchObject({ event: 'start', sequenceNumber: '1', start: { callSid: sid, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } });
      expect(s.bot.connections).toHaveLength(0);

      await s.peer.send(await bridgeRtpAddress(s.peer), 'PCMA', tone(1000, 8000, 8000));
      await conn.until(() => conn.mulawPayloads().length >= 7200, 'the trunk\'s audio');
      expect(Math.abs(dominantFrequency(conn.twilioAudio().subarray(1600, 6400), 8000) - 1000)).toBeLessThanOrEqual(15);
      await conn.waitForEvent('stop', 8000);
      expectSippPassed(await s.trunk);
      expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
      await idle(s.bridge);
    },
    30_000,
  );

  it('hangs up an answered call with BYE on DELETE', async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-await-bye', rtpPort, timeoutMs: 10_000 }));
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await s.bot.connection(0);
    await conn.waitForEvent('start');
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
    await conn.waitForEvent('stop');
    expect(conn.stop!.stop.reason).toBe('stopped');
    expectSippPassed(await s.trunk);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'system', end_reason: 'hung up through the API' });
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(409);
    await idle(s.bridge);
  }, 30_000);

  it('carries DTMF both ways on telephone-event 101, and hangs up with BYE when the bot closes', async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-await-bye', rtpPort, timeoutMs: 10_000 }));
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await s.bot.connection(0);
    await conn.waitForEvent('start');
    const bridgeRtp = await bridgeRtpAddress(s.peer);
    await s.peer.sendDtmf(bridgeRtp, 101, ['5'], 100);
    await conn.until((m) => m.some((x) => x.event === 'dtmf'), 5000, 'dtmf');
    expect(conn.messages.find((m) => m.event === 'dtmf')).toMatchObject({ dtmf: { digit: '5' } });
    conn.send({ event: 'dtmf', stream_sid: conn.streamSid, dtmf: { digit: '9' } });
    const deadline = Date.now() + 3000;
    while (!s.peer.received.some((p) => p.payloadType === 101) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const events = s.peer.received.filter((p) => p.payloadType === 101);
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!.payload[0]).toBe(9);
    conn.ws.close(1000, 'done');
    expectSippPassed(await s.trunk);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', disconnected_by: 'bot', end_reason: 'bot closed the stream' });
    await s.webhook.until(3);
    expect(s.webhook.posts[2]!.body.dtmf).toBe('5');
    await idle(s.bridge);
  }, 30_000);

  it("answers the trunk's digest challenge with the trunk's credentials (test/sipp/trunk-auth.xml)", async () => {
    const s = await setup(() => ({ file: 'test/sipp/trunk-auth.xml' }), {}, { username: 'alice', password: 'wonderland' });
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await s.bot.connection(0);
    await conn.waitForEvent('start');
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
    const result = await s.trunk;
    expectSippPassed(result);
    expect(tracedMessages(result).filter((m) => m.startsWith('INVITE ')).at(-1)).toMatch(/^Authorization: Digest username="alice"/m);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'completed', sip_status: 200 });
    await idle(s.bridge);
  }, 30_000);

  it('reports 486 as busy; the bot got `connected` and never `start`', async () => {
    const s = await setup(() => ({ kind: 'reject', status: 486, phrase: 'Busy Here' }));
    const sid = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const conn = await s.bot.connection(0);
    expect(await finalRecord(s.api, sid)).toMatchObject({ status: 'busy', sip_status: 486, answered_at: null });
    await conn.waitForClose();
    expect(conn.messages.map((m) => m.event)).toEqual(['connected']);
    expectSippPassed(await s.trunk);
    await s.webhook.until(2);
    expect(s.webhook.posts.map((p) => p.body.event)).toEqual(['ringing', 'busy']);
    await idle(s.bridge);
  }, 30_000);

  it('sends CANCEL when nobody answers within ring_timeout_s: no-answer', async () => {
    const s = await setup(() => ({ kind: 'ring-until-cancel', timeoutMs: 10_000 }));
    const sid = (await s.api('POST', '/v1/calls', { ...CALL, ring_timeout_s: 2 })).body.call_sid as string;
    const record = await finalRecord(s.api, sid);
    expect(record).toMatchObject({ status: 'no-answer', sip_status: 487, end_reason: 'no answer within 2 s' });
    const result = await s.trunk;
    expectSippPassed(result);
    expect(tracedMessages(result).some((m) => m.startsWith('CANCEL '))).toBe(true);
    await idle(s.bridge);
  }, 30_000);

  it("paces INVITEs to the trunk's callsPerSecond: a flood of POSTs reaches SIPp at least 1/cps apart, none lost", async () => {
    const s = await setup(() => ({ kind: 'reject', status: 486, phrase: 'Busy Here' }), {}, { callsPerSecond: 10 }, 20);
    const answers = await Promise.all(Array.from({ length: 20 }, () => s.api('POST', '/v1/calls', CALL)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
    const result = await s.trunk;
    expectSippPassed(result);
    const times = receivedAt(result, 'INVITE');
    expect(times).toHaveLength(20);
    // The pacer lets calls go >= 100 ms apart (test/unit/trunks.test.ts pins that to the ms). SIPp stamps an INVITE
    // when it reads it, which on a loaded machine is up to some ms late: a single gap may look short by that much, the
    // flood as a whole may not.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(80);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(19 * 100 - 5);
    for (const a of answers) expect((await finalRecord(s.api, a.body.call_sid)).status).toBe('busy');
    await idle(s.bridge);
  }, 30_000);

  it('places 30 calls at once: all answered, all completed on the trunk BYE, nothing left behind', async () => {
    const s = await setup((rtpPort) => ({ kind: 'answer-hangup', rtpPort, afterMs: 1500 }), {}, {}, 30);
    const answers = await Promise.all(Array.from({ length: 30 }, () => s.api('POST', '/v1/calls', CALL)));
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(201));
    expectSippPassed(await s.trunk);
    for (const a of answers) expect(await finalRecord(s.api, a.body.call_sid)).toMatchObject({ status: 'completed', disconnected_by: 'caller' });
    expect(s.bot.connections.length).toBe(30);
    for (const conn of s.bot.connections) expect(conn.messages.map((m) => m.event).filter((e) => e !== 'media')).toEqual(['connected', 'start', 'stop']);
    await idle(s.bridge);
  }, 30_000);
});
