// What an operator sees of calls: Prometheus metrics (setups by status, durations, RTP counts and loss, latency, bot
// connect time, queue depth, DTMF) and the post-call webhook (its JSON, retries, and that it never holds a call up).
import { afterEach, describe, expect, it } from 'vitest';
import type { BridgeConfigInput } from '../../src/config/index.js';
import { tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { metrics } from '../helpers/bridge-http.js';
import { answeredCall } from '../helpers/carrier.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, okTo } from '../helpers/sip-messages.js';
import { WebhookServer } from '../helpers/webhook-server.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(overrides: BridgeConfigInput = {}) {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const bridge = await startTestBridge({ ...overrides, bot: { defaultUrl: bot.url, ...overrides.bot } });
  cleanup.push(() => bridge.stop());
  return { bot, bridge };
}

function infoDtmf(client: SipTestClient, ok: Parameters<typeof inDialogRequest>[2], cseq: number, digit: string): string {
  return inDialogRequest('INFO', client, ok, cseq, `Signal=${digit}\r\nDuration=160\r\n`).replace('application/sdp', 'application/dtmf-relay');
}

describe('metrics', () => {
  it('count setups by status, RTP in, out and lost, latency both ways, bot connect time, queue depth and DTMF', async () => {
    const { bot, bridge } = await setup();
    const port = bridge.httpPort;
    const call = await answeredCall(bridge.sip.tcp!, bot, 'metrics-1');
    cleanup.push(() => call.close());
    call.conn.sendAudio(toneBytesPcm16le(600, 8000, 2000));
    // 60 packets, of which the carrier "loses" two, while the bot's audio plays.
    await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 60 * 160), { drop: (i) => i === 20 || i === 21 });
    call.conn.send({ event: 'dtmf', stream_sid: call.conn.streamSid, dtmf: { digit: '4' } });
    call.client.send(infoDtmf(call.client, call.ok, 2, '7'));
    await call.client.response(200, 'INFO');
    await call.conn.until((m) => m.some((x) => x.event === 'dtmf'), 3000, 'dtmf');

    const live = await metrics(port);
    expect(live.get('bridge_active_calls')).toBe(1);
    expect(live.get('bridge_call_setups_total{status="200"}')).toBe(1);
    expect(live.get('bridge_rtp_packets_total{direction="in"}')).toBe(58);
    expect(live.get('bridge_rtp_lost_packets_total')).toBe(2);
    // One a frame for the 1.2 s the caller sent, give or take a loaded machine's stalls.
    expect(live.get('bridge_rtp_packets_total{direction="out"}')).toBeGreaterThan(40);
    expect(live.get('bridge_bot_queue_seconds')).toBeGreaterThan(0.5);
    expect(live.get('bridge_bot_queue_max_seconds')).toBe(live.get('bridge_bot_queue_seconds'));
    expect(live.get('bridge_dtmf_total{direction="caller_to_bot"}')).toBe(1);
    expect(live.get('bridge_dtmf_total{direction="bot_to_caller"}')).toBe(1);
    expect(live.get('bridge_bot_connect_seconds_count')).toBe(1);
    // 58 packets and 2 lost ones filled with silence make 12 chunks of 100 ms, each measured from the packet that
    // completed it.
    expect(live.get('bridge_latency_seconds_count{path="caller_to_bot"}')).toBe(12);
    // The bot's messages of 200 ms, each measured when its first sample went out: 6 or 7 of them in 1.2 s.
    expect(live.get('bridge_latency_seconds_count{path="bot_to_caller"}')).toBeGreaterThanOrEqual(6);
    expect(live.get('bridge_latency_seconds_count{path="bot_to_caller"}')).toBeLessThanOrEqual(7);
    expect(live.get('bridge_latency_seconds_bucket{le="0.02",path="caller_to_bot"}')).toBe(12);

    call.client.send(inDialogRequest('BYE', call.client, call.ok, 3));
    await call.client.response(200, 'BYE');
    await waitForIdle(bridge);
    const refused = await SipTestClient.open('tcp', bridge.sip.tcp!);
    cleanup.push(() => refused.close());
    refused.send(exotelInvite({ callId: 'metrics-2', port: bridge.sip.tcp!.port, localPort: refused.localPort, headers: [['X-UUI', 'x'.repeat(46)]] }));
    await refused.response(400, 'INVITE');
    await waitForIdle(bridge);

    const after = await metrics(port);
    expect(after.get('bridge_active_calls')).toBe(0);
    expect(after.get('bridge_call_setups_total{status="400"}')).toBe(1);
    expect(after.get('bridge_calls_ended_total{by="caller"}')).toBe(1);
    expect(after.get('bridge_call_duration_seconds_count')).toBe(1);
    expect(after.get('bridge_call_duration_seconds_sum')).toBeGreaterThan(1);
    // The counts of the ended call carry on after it is gone.
    expect(after.get('bridge_rtp_packets_total{direction="in"}')).toBe(58);
    expect(after.get('bridge_rtp_packets_total{direction="out"}')).toBeGreaterThanOrEqual(live.get('bridge_rtp_packets_total{direction="out"}')!);
    expect(after.get('bridge_rtp_lost_packets_total')).toBe(2);
    expect(after.get('bridge_rtp_inbound_jitter_seconds_count')).toBe(1);
    expect(after.get('bridge_bot_queue_seconds')).toBe(0);
  });
});

describe('post-call webhook', () => {
  it('posts the call record once the call is over', async () => {
    const webhook = await WebhookServer.start();
    cleanup.push(() => webhook.close());
    const { bot, bridge } = await setup({ webhook: { url: `${webhook.url}/calls` } });
    const call = await answeredCall(bridge.sip.tcp!, bot, 'report-1', [['X-Customer-Header', 'salesbot']]);
    cleanup.push(() => call.close());
    await call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 30 * 160), { drop: (i) => i === 5 });
    call.client.send(infoDtmf(call.client, call.ok, 2, '5'));
    call.client.send(infoDtmf(call.client, call.ok, 3, '11'));
    await call.conn.until((m) => m.filter((x) => x.event === 'dtmf').length === 2, 3000, 'two key presses');
    call.client.send(inDialogRequest('BYE', call.client, call.ok, 4));
    await call.client.response(200, 'BYE');
    await webhook.until(1);

    const { path, headers, body } = webhook.posts[0]!;
    expect(path).toBe('/calls');
    expect(headers['content-type']).toBe('application/json');
    expect(body).toMatchObject({
      call_sid: 'call-sid-1',
      stream_sid: call.conn.streamSid,
      account_sid: 'account-sid-1',
      sip_call_id: 'report-1',
      from: '+918888888888',
      to: '+911234567890',
      custom_parameters: { 'Customer-Header': 'salesbot', 'Test-Call': 'report-1' },
      disconnected_by: 'caller',
      end_reason: 'bye',
      sip_status: 200,
      dtmf: '5#',
      media: { packets_in: 29, packets_lost: 1 },
    });
    const started = Date.parse(body.started_at);
    const answered = Date.parse(body.answered_at!);
    const ended = Date.parse(body.ended_at);
    expect(started).toBeLessThanOrEqual(answered);
    expect(answered).toBeLessThan(ended);
    expect(body.duration_s).toBeCloseTo((ended - answered) / 1000, 2);
    expect(body.duration_s).toBeGreaterThan(0.5);
    expect(body.bot_connect_ms).toBeGreaterThan(0);
    expect(body.media!.packets_out).toBeGreaterThan(25);
    expect(body.media!.jitter_ms).toBeGreaterThanOrEqual(0);
    expect(body.media!.latency_ms.caller_to_bot.mean).toBeGreaterThan(0);
    expect(body.media!.latency_ms.caller_to_bot.p99).toBeGreaterThanOrEqual(body.media!.latency_ms.caller_to_bot.mean * 0.8);
  });

  it("sends a route's calls to the route's webhook, and reports calls that were refused", async () => {
    const global = await WebhookServer.start();
    const sales = await WebhookServer.start();
    cleanup.push(() => global.close(), () => sales.close());
    const { bot, bridge } = await setup({
      webhook: { url: global.url },
      routes: [{ header: 'X-Customer-Header', equals: 'salesbot', url: 'ws://127.0.0.1:9/unused', webhook: `${sales.url}/sales` }],
    });
    const client = await SipTestClient.open('tcp', bridge.sip.tcp!);
    cleanup.push(() => client.close());
    // The route's bot is down: the call is refused, and its report goes to the route's webhook.
    client.send(exotelInvite({ callId: 'routed', port: bridge.sip.tcp!.port, localPort: client.localPort, headers: [['X-Customer-Header', 'salesbot']] }));
    await client.response(480, 'INVITE', 8000);
    await sales.until(1);
    expect(sales.posts[0]!.body).toMatchObject({ sip_call_id: 'routed', sip_status: 480, answered_at: null, duration_s: 0, disconnected_by: 'system' });
    expect(sales.posts[0]!.body.end_reason).toMatch(/^bot unreachable: .*ECONNREFUSED/);

    const call = await answeredCall(bridge.sip.tcp!, bot, 'default-route');
    cleanup.push(() => call.close());
    call.conn.ws.close();
    call.client.send(okTo(await call.client.request('BYE')));
    await global.until(1);
    expect(global.posts[0]!.body).toMatchObject({ sip_call_id: 'default-route', disconnected_by: 'bot', end_reason: 'bot closed the stream', sip_status: 200 });
    expect(sales.posts).toHaveLength(1);
  });

  it('retries a failing webhook with backoff and sends credentials in the URL as Basic auth', async () => {
    const webhook = await WebhookServer.start([503, 500]);
    cleanup.push(() => webhook.close());
    const url = new URL(webhook.url);
    url.username = 'ops';
    url.password = 's3cret';
    const { bot, bridge } = await setup({ webhook: { url: url.href, backoffMs: 100, retries: 3 } });
    const call = await answeredCall(bridge.sip.tcp!, bot, 'retried');
    cleanup.push(() => call.close());
    call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
    await call.client.response(200, 'BYE');
    await webhook.until(3);
    expect(webhook.posts.map((p) => p.body.sip_call_id)).toEqual(['retried', 'retried', 'retried']);
    expect(webhook.posts[0]!.headers.authorization).toBe(`Basic ${Buffer.from('ops:s3cret').toString('base64')}`);
    await new Promise((r) => setTimeout(r, 500));
    expect(webhook.posts).toHaveLength(3);
    const m = await metrics(bridge.httpPort);
    expect(m.get('bridge_webhooks_total{result="delivered"}')).toBe(1);
  });

  it('never holds up a call: a webhook that does not answer is given up after its attempts, and stop() is bounded', async () => {
    const webhook = await WebhookServer.start([], true);
    cleanup.push(() => webhook.close());
    const { bot, bridge } = await setup({ webhook: { url: webhook.url, timeoutMs: 300, retries: 1, backoffMs: 100 } });
    const call = await answeredCall(bridge.sip.tcp!, bot, 'hanging-webhook');
    cleanup.push(() => call.close());
    call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
    await call.client.response(200, 'BYE');
    // Torn down while the webhook is still waiting for an answer.
    await waitForIdle(bridge, 1000);
    await webhook.until(1);
    expect(bridge.stats().activeCalls).toBe(0);
    await webhook.until(2, 3000);
    await new Promise((r) => setTimeout(r, 400));
    const m = await metrics(bridge.httpPort);
    expect(m.get('bridge_webhooks_total{result="failed"}')).toBe(1);
    const stopping = Date.now();
    await bridge.stop();
    expect(Date.now() - stopping).toBeLessThan(1000);
  });
});
