// The call API (/v1/calls) in API responses and on the wire to a trunk: auth, validation, trunk admission, limits,
// pacing, hang-up and the records of ended calls.
import { afterEach, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { BridgeConfigInput } from '../../src/config/index.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, recordWhen, type CallApiClient } from '../helpers/call-api.js';
import { answeredCall } from '../helpers/carrier.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, okTo } from '../helpers/sip-messages.js';
import { FakeTrunk, type TrunkBehaviour } from '../helpers/fake-trunk.js';

const TOKEN = 'test-token-0123456789';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Setup {
  bridge: Bridge;
  bot: TestBot;
  trunk: FakeTrunk;
  api: CallApiClient;
}

async function setup(behaviour: TrunkBehaviour = { kind: 'ring' }, trunkExtra: Record<string, unknown> = {}, overrides: BridgeConfigInput = {}): Promise<Setup> {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const trunk = await FakeTrunk.start(behaviour);
  cleanup.push(() => trunk.close());
  const bridge = await startTestBridge({
    api: { token: TOKEN },
    trunks: [{ name: 'exotel', uri: trunk.uri, ...trunkExtra }],
    bot: { defaultUrl: bot.url },
    ...overrides,
  });
  cleanup.push(() => bridge.stop());
  return { bridge, bot, trunk, api: callApiClient(bridge.httpPort, TOKEN) };
}

const CALL = { to: '+919876543210', from: '+912261234567' };

const statusIs = (s: Setup, sid: string, status: string) => recordWhen(s.api, sid, (r) => r.status === status, `status ${status}`, 5000);

async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('call API', () => {
  it('answers 401 with the same body without a token and with a wrong one, and WWW-Authenticate: Bearer', async () => {
    const s = await setup();
    const none = await s.api('GET', '/v1/calls', undefined, { token: null });
    const wrong = await s.api('GET', '/v1/calls', undefined, { token: 'nope' });
    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(none.body);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await s.api('GET', '/v1/calls')).body).toEqual({ calls: [] });
  });

  it('is open on loopback without api.token', async () => {
    const bridge = await startTestBridge({});
    cleanup.push(() => bridge.stop());
    expect(await callApiClient(bridge.httpPort, undefined)('GET', '/v1/calls')).toMatchObject({ status: 200, body: { calls: [] } });
  });

  it('keeps records of inbound calls: in-progress while answered, completed after DELETE (BYE), 409 on a second DELETE', async () => {
    const s = await setup();
    const call = await answeredCall(s.bridge.sip.tcp!, s.bot, 'inbound-record-1');
    cleanup.push(() => call.close());
    const { body } = await s.api('GET', '/v1/calls');
    expect(body.calls).toMatchObject([{ direction: 'inbound', status: 'in-progress', sip_status: 200, trunk: null, to: '+911234567890' }]);
    const sid = body.calls[0].call_sid as string;
    expect(sid).toBe(call.conn.start!.start.call_sid);
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
    call.client.send(okTo(await call.client.request('BYE')));
    const ended = await statusIs(s, sid, 'completed');
    expect(ended).toMatchObject({ direction: 'inbound', disconnected_by: 'system', end_reason: 'hung up through the API' });
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(409);
  });

  it('records an inbound call the bridge rejected as failed, with the rejection as sip_status', async () => {
    const s = await setup({ kind: 'ring' }, {}, { bot: { defaultUrl: 'ws://127.0.0.1:9/nobody' } });
    const client = await SipTestClient.open('tcp', s.bridge.sip.tcp!);
    cleanup.push(() => client.close());
    client.send(exotelInvite({ callId: 'inbound-rejected-1', port: s.bridge.sip.tcp!.port, localPort: client.localPort }));
    await client.response(480, 'INVITE');
    const record = await statusIs(s, 'call-sid-1', 'failed');
    expect(record).toMatchObject({ direction: 'inbound', sip_status: 480, answered_at: null, end_reason: expect.stringMatching(/^bot unreachable/) });
  });

  it('names the bad field, refuses non-JSON with 415 and big bodies with 413, and dials nothing', async () => {
    const s = await setup();
    expect((await s.api('POST', '/v1/calls', { from: '+912261234567' })).body).toEqual({ error: 'to: required' });
    expect((await s.api('POST', '/v1/calls', { ...CALL, ring_timeout_s: 'soon' })).body.error).toMatch(/^ring_timeout_s: /);
    expect((await s.api('POST', '/v1/calls', { ...CALL, headers: { Route: '<sip:evil>' } })).body.error).toMatch(/^headers\.Route: only X- headers/);
    expect((await s.api('POST', '/v1/calls', { ...CALL, bot_url: 'http://bot' })).body.error).toMatch(/^bot_url: must be a ws/);
    expect((await s.api('POST', '/v1/calls', { ...CALL, colour: 'blue' })).body.error).toBe('colour: unknown field');
    expect((await s.api('POST', '/v1/calls', { ...CALL, to: 'ab' })).status).toBe(400);
    const notJson = await s.api('POST', '/v1/calls', 'to=1', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(notJson.status).toBe(415);
    const big = await s.api('POST', '/v1/calls', { ...CALL, custom_parameters: { a: 'x'.repeat(100_000) } });
    expect(big.status).toBe(413);
    expect(s.trunk.count('INVITE')).toBe(0);
  });

  it('refuses an unknown trunk with 404 and a number outside allowedDestinations with 403', async () => {
    const s = await setup({ kind: 'ring' }, { allowedDestinations: ['^\\+91[6-9]\\d{9}$'] });
    expect(await s.api('POST', '/v1/calls', { ...CALL, trunk: 'twilio' })).toMatchObject({ status: 404, body: { error: 'trunk: no trunk named "twilio"' } });
    const foreign = await s.api('POST', '/v1/calls', { ...CALL, to: '+14155550100' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatch(/allowedDestinations/);
    expect((await s.api('POST', '/v1/calls', { ...CALL, to: 'sip:agent@pbx.example.com' })).status).toBe(403);
    expect(s.trunk.count('INVITE')).toBe(0);
  });

  it("refuses calls over the trunk's maxConcurrentCalls with 429 and Retry-After; DELETE cancels (202), a second DELETE is 409", async () => {
    const s = await setup({ kind: 'ring' }, { maxConcurrentCalls: 1 });
    const first = await s.api('POST', '/v1/calls', { ...CALL, custom_parameters: { lead: '42' } });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ call_sid: expect.any(String), stream_sid: expect.any(String), status: 'queued' });
    const sid = first.body.call_sid as string;
    const bot = await s.bot.connection(0);
    await bot.waitForEvent('connected');
    await statusIs(s, sid, 'ringing');
    expect(bot.messages.map((m) => m.event)).toEqual(['connected']);
    const second = await s.api('POST', '/v1/calls', CALL);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('5');
    expect(second.body.error).toMatch(/trunk exotel/);
    const list = await s.api('GET', '/v1/calls');
    expect(list.body.calls).toMatchObject([{ call_sid: sid, direction: 'outbound', trunk: 'exotel', status: 'ringing', custom_parameters: { lead: '42' } }]);

    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
    await until('CANCEL on the wire', () => s.trunk.count('CANCEL') > 0);
    const ended = await statusIs(s, sid, 'canceled');
    expect(ended).toMatchObject({ sip_status: 487, disconnected_by: 'system', end_reason: 'hung up through the API', answered_at: null });
    expect(ended.ended_at).toEqual(expect.any(String));
    expect((await s.api('DELETE', `/v1/calls/${sid}`)).status).toBe(409);
    expect((await s.api('DELETE', '/v1/calls/nosuchcall')).status).toBe(404);
    expect((await s.api('GET', '/v1/calls/nosuchcall')).status).toBe(404);
    await bot.waitForClose();
    await waitForIdle(s.bridge);
    expect((await s.api('GET', '/v1/calls')).body).toEqual({ calls: [] });
  });

  it("refuses calls over the bridge's limits.maxConcurrentCalls with 429, and 503 while draining", async () => {
    const s = await setup({ kind: 'ring' }, {}, { limits: { maxConcurrentCalls: 1 } });
    expect((await s.api('POST', '/v1/calls', CALL)).status).toBe(201);
    const over = await s.api('POST', '/v1/calls', CALL);
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('5');
    expect(over.body.error).toMatch(/bridge's limit is 1/);
    const stopping = s.bridge.stop(1000);
    const draining = await s.api('POST', '/v1/calls', CALL);
    expect(draining.status).toBe(503);
    await stopping;
  });

  it('maps a 486 to busy and an unreachable bot to failed without an INVITE; records stay after the end', async () => {
    const s = await setup({ kind: 'reject', status: 486, phrase: 'Busy Here' });
    const busy = (await s.api('POST', '/v1/calls', CALL)).body.call_sid as string;
    const record = await statusIs(s, busy, 'busy');
    expect(record).toMatchObject({ sip_status: 486, direction: 'outbound', from: CALL.from, to: CALL.to, end_reason: '486 Busy Here' });
    expect(s.trunk.count('ACK')).toBeGreaterThan(0);
    const invites = s.trunk.count('INVITE');
    const unreachable = (await s.api('POST', '/v1/calls', { ...CALL, bot_url: 'ws://127.0.0.1:9/nobody' })).body.call_sid as string;
    const failed = await statusIs(s, unreachable, 'failed');
    expect(failed.end_reason).toMatch(/^bot unreachable: /);
    expect(s.trunk.count('INVITE')).toBe(invites);
  });

  it("queues a flood of POSTs over the trunk's callsPerSecond (ten seconds' worth), refuses the rest with 429, loses none", async () => {
    const s = await setup({ kind: 'reject', status: 486, phrase: 'Busy Here' }, { callsPerSecond: 2 });
    // The queue holds 20 calls (a few may leave it while the POSTs arrive); 40 POSTs at once.
    const answers = await Promise.all(Array.from({ length: 40 }, () => s.api('POST', '/v1/calls', CALL)));
    const accepted = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted.length).toBeGreaterThanOrEqual(20);
    expect(accepted.length).toBeLessThanOrEqual(22);
    expect(refused.length).toBe(40 - accepted.length);
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(10);
    expect(refused[0]!.body.error).toMatch(/wait for trunk exotel \(2 per second\)/);
    const listed = (await s.api('GET', '/v1/calls')).body.calls as Array<{ status: string }>;
    expect(listed.length).toBeLessThanOrEqual(accepted.length);
    expect(listed.filter((c) => c.status === 'queued').length).toBeGreaterThanOrEqual(accepted.length - 2);
    // Those still waiting are hung up: canceled, never dialled.
    const before = s.trunk.invites().length;
    for (const a of accepted.slice(3)) expect((await s.api('DELETE', `/v1/calls/${a.body.call_sid}`)).status).toBe(202);
    for (const a of accepted.slice(3)) expect((await s.api('GET', `/v1/calls/${a.body.call_sid}`)).body.status).toBe('canceled');
    for (const a of accepted.slice(0, 3)) await statusIs(s, a.body.call_sid, 'busy');
    expect(s.trunk.invites().length).toBeLessThanOrEqual(Math.max(before, 3));
  }, 30_000);
});
