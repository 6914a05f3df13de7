// Call transfer: the REFER the bridge sends (RFC 3515, NOTIFY sipfrag), its outcome for the bot, and REFERs sent to
// the bridge, which is never a transfer target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { metrics } from '../helpers/bridge-http.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge } from '../helpers/bridge.js';
import { answeredCall } from '../helpers/carrier.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { inDialogRequest, okTo } from '../helpers/sip-messages.js';
import { callerToneReachesBot } from '../helpers/carrier.js';
import type { SipRequest } from '../../src/signaling/message.js';
import net from 'node:net';
import { callApiClient, type CallApiClient } from '../helpers/call-api.js';
import { exotelInvite, sdpOffer } from '../helpers/sip-messages.js';
import { freeUdpPort } from '../helpers/sipp-trunk.js';
import { WebhookServer } from '../helpers/webhook-server.js';
import { acceptReferTransfer, refuseReferTransfer, answer, notify, notifyCseq, statuses, transferMessage } from '../helpers/transfer.js';

let bot: TestBot;
let bridge: Bridge;
let api: CallApiClient;
/** Takes TCP connections and never answers the WebSocket handshake: a call routed to it stays unanswered a while. */
let silent: net.Server;
/** The trunk of outbound calls: a bare UDP client that answers the bridge's INVITE itself. */
let trunk: SipTestClient;
/** Receives the post-call reports. */
let webhook: WebhookServer;
const TOKEN = 'transfer-test-token';

beforeAll(async () => {
  bot = await TestBot.start();
  webhook = await WebhookServer.start();
  const sipUdp = await freeUdpPort();
  trunk = await SipTestClient.open('udp', { host: '127.0.0.1', port: sipUdp });
  silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  bridge = await startTestBridge({
    api: { token: TOKEN },
    webhook: { url: webhook.url },
    sip: { udp: { host: '127.0.0.1', port: sipUdp }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 } },
    routes: [{ header: 'X-Customer-Header', equals: 'silent', url: `ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}/` }],
    bot: { defaultUrl: bot.url, connectTimeoutMs: 1500, connectRetries: 0 },
    trunks: [
      { name: 'pstn', uri: 'sip:pstn.example.com:5070;transport=tcp' },
      { name: 'loop', uri: `sip:127.0.0.1:${trunk.localPort}` },
    ],
    transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@agents\\.example\\.com$'] },
  });
  api = callApiClient(bridge.httpPort, TOKEN);
});

afterAll(async () => {
  await bridge?.stop();
  silent?.close();
  trunk?.close();
  await webhook?.close();
  await bot?.close();
});

const sipTcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });

describe('REFER sent to the bridge', () => {
  it('answers an out-of-dialog REFER 403 with a Warning', async () => {
    const client = await SipTestClient.open('tcp', sipTcp());
    try {
      client.send(
        [
          `REFER sip:bridge@127.0.0.1:${bridge.sip.tcp!.port};transport=tcp SIP/2.0`,
          `Via: SIP/2.0/TCP 127.0.0.1:${client.localPort};branch=z9hG4bK-refer-ood;rport`,
          'Max-Forwards: 70',
          'From: <sip:carrier@127.0.0.1>;tag=c1',
          'To: <sip:bridge@127.0.0.1>',
          'Call-ID: refer-ood-1',
          'CSeq: 1 REFER',
          `Contact: <sip:carrier@127.0.0.1:${client.localPort};transport=tcp>`,
          'Refer-To: <sip:agent@127.0.0.1>',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
      const refused = await client.response(403, 'REFER');
      expect(refused.headers.get('warning')).toMatch(/not a transfer target/);
    } finally {
      client.close();
    }
  });

  it('answers a REFER in a call 403 and the call goes on', async () => {
    const call = await answeredCall(sipTcp(), bot, 'refer-in-1');
    try {
      const refer = inDialogRequest('REFER', call.client, call.ok, 2).replace('Content-Length', 'Refer-To: <sip:agent@127.0.0.1>\r\nContent-Length');
      call.client.send(refer);
      const refused: SipResponse = await call.client.response(403, 'REFER');
      expect(refused.headers.get('warning')).toMatch(/not a transfer target/);
      call.client.send(inDialogRequest('BYE', call.client, call.ok, 3));
      await call.client.response(200, 'BYE');
      await call.conn.waitForEvent('stop');
    } finally {
      call.close();
    }
  });
});

describe('NOTIFY without our REFER', () => {
  it('is answered 481 and the call goes on', async () => {
    const call = await answeredCall(sipTcp(), bot, 'notify-stray');
    try {
      call.client.send(
        inDialogRequest('NOTIFY', call.client, call.ok, 2).replace('Content-Length', 'Event: refer;id=9\r\nSubscription-State: active\r\nContent-Length'),
      );
      await call.client.response(481, 'NOTIFY');
      call.client.send(inDialogRequest('BYE', call.client, call.ok, 3));
      await call.client.response(200, 'BYE');
    } finally {
      call.close();
    }
  });
});

describe('transfer by REFER (the bot asks)', () => {
  it('REFER accepted, NOTIFY 100 then 200: NOTIFYs answered 200, BYE from the bridge, the bot hears completed then stop transferred', async () => {
    const call = await answeredCall(sipTcp(), bot, 'xfer-ok');
    try {
      const refer = await acceptReferTransfer(call, { to: '+918041234567', trunk: 'pstn', headers: { 'X-UUI': 'ticket-991' } });
      expect(refer.headers.get('refer-to')).toBe('<sip:+918041234567@pstn.example.com>');
      expect(refer.headers.get('referred-by')).toMatch(/^<sip:/);
      expect(refer.headers.get('x-uui')).toBe('ticket-991');
      expect(refer.cseq.seq).toBeGreaterThan(0);
      const ts = call.conn.messages.find((m) => m.event === 'transfer_status') as unknown as { sequence_number: string; stream_sid: string };
      expect(Number(ts.sequence_number)).toBeGreaterThan(1);
      expect(ts.stream_sid).toMatch(/^[0-9a-f]{32}$/);
      expect((await metrics(bridge.httpPort)).get('bridge_transfers_total{mode="refer",result="completed"}')).toBe(1);
      const report = await webhook.reportFor('xfer-ok');
      expect(report.transfer).toMatchObject({ to: '+918041234567', mode: 'refer', status: 'completed', sip_status: 200 });
      expect(report.end_reason).toBe('transferred');
    } finally {
      call.close();
    }
  });

  it('REFER refused 405: transfer_status failed with sip_status 405, the call goes on and the caller still reaches the bot', async () => {
    const call = await answeredCall(sipTcp(), bot, 'xfer-405');
    try {
      await refuseReferTransfer(call);
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
      await call.client.response(200, 'BYE');
      await call.conn.waitForEvent('stop');
      const stop = call.conn.messages.find((m) => m.event === 'stop') as unknown as { stop: { reason: string } };
      expect(stop.stop.reason).toBe('callended');
    } finally {
      call.close();
    }
  });

  it('NOTIFY with a 486 sipfrag: failed with sip_status 486, the call goes on', async () => {
    const call = await answeredCall(sipTcp(), bot, 'xfer-486');
    try {
      call.conn.send(transferMessage(call, { to: '+918041234567', trunk: 'pstn' }));
      const refer = await call.client.request('REFER');
      call.client.send(answer(refer, 202, 'Accepted'));
      call.client.send(notify(call, refer, 'SIP/2.0 100 Trying', 'active;expires=60'));
      call.client.send(notify(call, refer, 'SIP/2.0 486 Busy Here', 'terminated;reason=noresource'));
      await call.conn.until((ms) => statuses(ms).some((s) => s.status === 'failed'), 5000, 'transfer_status failed');
      expect(statuses(call.conn.messages).at(-1)).toMatchObject({ status: 'failed', sip_status: 486 });
      await call.client.waitFor(
        (m) => m.kind === 'response' && m.cseq.method === 'NOTIFY' && m.status === 200 && m.cseq.seq === notifyCseq(),
        '200 to the last NOTIFY',
      );
      await callerToneReachesBot(call, 'PCMA');
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
      expect((await metrics(bridge.httpPort)).get('bridge_transfers_total{mode="refer",result="failed"}')).toBeGreaterThan(0);
    } finally {
      call.close();
    }
  });

  it('a target outside transfer.allowedTargets: transfer_status failed with the reason, no REFER', async () => {
    const call = await answeredCall(sipTcp(), bot, 'xfer-denied');
    try {
      call.conn.send(transferMessage(call, { to: 'sip:someone@evil.example.com' }));
      await call.conn.until((ms) => statuses(ms).length > 0, 5000, 'transfer_status');
      expect(statuses(call.conn.messages)[0]).toMatchObject({ status: 'failed' });
      expect(statuses(call.conn.messages)[0]!.reason).toMatch(/allowedTargets/);
      call.conn.send(transferMessage(call, { to: 'sip:someone@evil.example.com', mode: 'bridge' }));
      await call.conn.until((ms) => statuses(ms).length > 1, 5000, 'second transfer_status');
      expect(statuses(call.conn.messages)[1]).toMatchObject({ status: 'failed' });
      expect(statuses(call.conn.messages)[1]!.reason).toMatch(/allowedTargets/);
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'REFER')).toBe(0);
      expect((await metrics(bridge.httpPort)).get('bridge_transfers_total{mode="refer",result="refused"}')).toBeGreaterThan(0);
      expect((await metrics(bridge.httpPort)).get('bridge_transfers_total{mode="bridge",result="refused"}')).toBeGreaterThan(0);
    } finally {
      call.close();
    }
  });
});

describe('POST /v1/calls/{call_sid}/transfer', () => {
  it('404 for an unknown call, 400 for a bad body, 403 for a target outside allowedTargets (bridge mode too)', async () => {
    expect((await api('POST', '/v1/calls/nosuchcall/transfer', { to: '+918041234567', trunk: 'pstn' })).status).toBe(404);
    const call = await answeredCall(sipTcp(), bot, 'xfer-api-refusals');
    try {
      const sid = 'call-sid-1';
      const bad = await api('POST', `/v1/calls/${sid}/transfer`, { to: 12 });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/transfer\.to/);
      const denied = await api('POST', `/v1/calls/${sid}/transfer`, { to: 'sip:boss@elsewhere.example.com' });
      expect(denied.status).toBe(403);
      expect(denied.body.error).toMatch(/allowedTargets/);
      const bridged = await api('POST', `/v1/calls/${sid}/transfer`, { to: 'sip:boss@elsewhere.example.com', mode: 'bridge' });
      expect(bridged.status).toBe(403);
      expect(bridged.body.error).toMatch(/allowedTargets/);
      expect(call.client.count((m) => m.kind === 'request' && m.method === 'REFER')).toBe(0);
      // Refusals from the API are answered to the API, not told to the bot.
      expect(statuses(call.conn.messages)).toEqual([]);
    } finally {
      call.close();
    }
  });

  it('202 and a REFER; 409 for a second transfer while the first runs', async () => {
    const call = await answeredCall(sipTcp(), bot, 'xfer-api-409');
    try {
      const first = await api('POST', '/v1/calls/call-sid-1/transfer', { transfer: { to: 'sip:agent-9@agents.example.com', mode: 'refer' } });
      expect(first.status).toBe(202);
      const refer = await call.client.request('REFER');
      const second = await api('POST', '/v1/calls/call-sid-1/transfer', { to: '+918041234567', trunk: 'pstn' });
      expect(second.status).toBe(409);
      expect(second.body.error).toMatch(/already in progress/);
      call.client.send(answer(refer, 603, 'Decline'));
      await call.conn.until((ms) => statuses(ms).some((s) => s.status === 'failed'), 5000, 'transfer_status failed');
      expect(statuses(call.conn.messages).at(-1)).toMatchObject({ status: 'failed', sip_status: 603 });
    } finally {
      call.close();
    }
  });

  it('409 while the call is not answered yet', async () => {
    // Every test call has the same call_sid (the INVITE's X-Exotel-CallSid): the earlier ones must be gone.
    for (let i = 0; i < 100 && (await api('GET', '/v1/calls')).body.calls.length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const client = await SipTestClient.open('tcp', sipTcp());
    try {
      client.send(exotelInvite({ callId: 'xfer-unanswered', port: sipTcp().port, localPort: client.localPort, sdp: sdpOffer(), headers: [['X-Customer-Header', 'silent']] }));
      await client.response(100, 'INVITE');
      const early = await api('POST', '/v1/calls/call-sid-1/transfer', { to: '+918041234567', trunk: 'pstn' });
      expect(early.status).toBe(409);
      expect(early.body.error).toMatch(/not answered/);
    } finally {
      client.close();
    }
  });
});

describe('transfer of an outbound call', () => {
  it('REFERs the called party through its dialog: completed, BYE, stop transferred, the record says so', async () => {
    const botIndex = bot.connections.length;
    const placed = await api('POST', '/v1/calls', { to: '+919876543210', from: '+911234567890', trunk: 'loop' });
    expect(placed.status).toBe(201);
    const sid = placed.body.call_sid as string;
    const invite = (await trunk.waitFor((m) => m.kind === 'request' && m.method === 'INVITE' && m.callId !== undefined, 'INVITE', 10_000)) as SipRequest;
    const sdp = sdpOffer({ port: 40_000 });
    const to = `${invite.headers.get('to')};tag=trunk-1`;
    trunk.send(
      [
        'SIP/2.0 200 OK',
        ...invite.headers.getAll('via').map((v) => `Via: ${v}`),
        `From: ${invite.headers.get('from')}`,
        `To: ${to}`,
        `Call-ID: ${invite.callId}`,
        `CSeq: ${invite.headers.get('cseq')}`,
        `Contact: <sip:agent@127.0.0.1:${trunk.localPort}>`,
        'Content-Type: application/sdp',
        `Content-Length: ${Buffer.byteLength(sdp)}`,
        '',
        sdp,
      ].join('\r\n'),
    );
    await trunk.request('ACK');
    const conn = await bot.connection(botIndex);
    await conn.waitForEvent('start');
    const start = conn.messages.find((m) => m.event === 'start') as unknown as { stream_sid: string };
    conn.send({ event: 'transfer', stream_sid: start.stream_sid, transfer: { to: '+918041234567', trunk: 'pstn' } });
    const refer = (await trunk.waitFor((m) => m.kind === 'request' && m.method === 'REFER', 'REFER')) as SipRequest;
    expect(refer.headers.get('refer-to')).toBe('<sip:+918041234567@pstn.example.com>');
    trunk.send(answer(refer, 202, 'Accepted'));
    const body = 'SIP/2.0 200 OK\r\n';
    trunk.send(
      [
        `NOTIFY sip:bridge@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${trunk.localPort};branch=z9hG4bK-out-notify;rport`,
        'Max-Forwards: 70',
        `From: ${to}`,
        `To: ${invite.headers.get('from')}`,
        `Call-ID: ${invite.callId}`,
        'CSeq: 1 NOTIFY',
        `Contact: <sip:agent@127.0.0.1:${trunk.localPort}>`,
        `Event: refer;id=${refer.cseq.seq}`,
        'Subscription-State: terminated;reason=noresource',
        'Content-Type: message/sipfrag',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
    await trunk.waitFor((m) => m.kind === 'response' && m.cseq.method === 'NOTIFY' && m.status === 200, '200 to NOTIFY');
    const bye = (await trunk.waitFor((m) => m.kind === 'request' && m.method === 'BYE', 'BYE')) as SipRequest;
    trunk.send(okTo(bye));
    await conn.waitForEvent('stop');
    expect((conn.messages.find((m) => m.event === 'stop') as unknown as { stop: { reason: string } }).stop.reason).toBe('transferred');
    expect(statuses(conn.messages).at(-1)).toMatchObject({ status: 'completed', sip_status: 200 });
    const record = (await api('GET', `/v1/calls/${sid}`)).body;
    expect(record.transfer).toMatchObject({ to: '+918041234567', mode: 'refer', status: 'completed', sip_status: 200 });
    expect(record.transfer.answered_at).toMatch(/^\d{4}-/);
  });
});
