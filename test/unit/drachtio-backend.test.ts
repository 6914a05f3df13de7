// The drachtio adapter at its interface: drachtio-srf's requests, responses and dialogs (stand-ins shaped like
// drachtio-srf 5's) become the IncomingCall and Dialog the call layer knows, and a whole call runs through it.
import { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BotAddressPolicy } from '../../src/bot/index.js';
import { CallManager } from '../../src/call/index.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { DrachtioBackend, type SrfLike } from '../../src/signaling/drachtio.js';
import { createLocalHost } from '../../src/stream/index.js';
import type { SrfConnectOptions } from '../../src/signaling/drachtio-link.js';
import type { Dialog, IncomingCall, Reoffer } from '../../src/signaling/index.js';
import { TestBot } from '../helpers/bot.js';
import { exotelInvite, sdpOffer } from '../helpers/sip-messages.js';

const log = pino({ level: 'silent' });

/** A request as drachtio-srf presents one, built from real message text. */
class FakeRequest extends EventEmitter {
  readonly msg: { raw: string };
  readonly body: string;
  readonly uri: string;
  readonly protocol = 'tcp';
  source_address = '182.76.143.61';
  readonly source_port = '40123';
  meta: { source: string } = { source: 'network' };
  readonly #parsed;

  constructor(raw: string) {
    super();
    const parsed = parseMessage(Buffer.from(raw));
    if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad test request');
    this.#parsed = parsed.message;
    this.msg = { raw };
    this.body = parsed.message.body.toString();
    this.uri = parsed.message.uri;
  }

  get(name: string): string {
    return this.#parsed.headers.get(name) ?? '';
  }

  has(name: string): boolean {
    return this.#parsed.headers.has(name);
  }

  getParsedHeader(name: string): { name?: string; uri: string; params: Record<string, string> } {
    const addr = name.toLowerCase() === 'from' ? this.#parsed.from : this.#parsed.to;
    return {
      ...(addr.displayName !== undefined && { name: `"${addr.displayName}"` }),
      uri: addr.uri,
      params: Object.fromEntries([...addr.params].map(([k, v]) => [k, v ?? ''])),
    };
  }
}

class FakeResponse {
  readonly sent: unknown[][] = [];
  send(...args: unknown[]): void {
    this.sent.push(args);
  }
}

class FakeDialog extends EventEmitter {
  destroyed = 0;
  readonly local = { sdp: '', uri: 'sip:bridge@10.0.0.1' };
  readonly requests: Array<{ method: string; headers: Record<string, string> }> = [];
  /** The answer to the next in-dialog request. */
  answer: { status: number; reason: string } = { status: 202, reason: 'Accepted' };
  async request(opts: { method: string; headers: Record<string, string> }): Promise<{ status: number; reason: string }> {
    this.requests.push(opts);
    return this.answer;
  }
  async destroy(): Promise<void> {
    this.destroyed++;
  }
}

class FakeSrf extends EventEmitter implements SrfLike {
  config: SrfConnectOptions | undefined;
  disconnected = false;
  readonly unregistered: string[] = [];
  inviteHandler: ((req: Srf.SrfRequest, res: Srf.SrfResponse) => void) | undefined;
  optionsHandler: ((req: Srf.SrfRequest, res: Srf.SrfResponse) => void) | undefined;
  referHandler: ((req: Srf.SrfRequest, res: Srf.SrfResponse) => void) | undefined;
  readonly uas: Array<{ req: FakeRequest; localSdp: string; dialog: FakeDialog }> = [];
  failUas = false;

  /** What the next connection attempts find. */
  drachtio: 'up' | 'refusing-secret' | 'gone' = 'up';
  connects = 0;

  connect(config: SrfConnectOptions): void {
    this.config = config;
    this.connects++;
    const drachtio = this.drachtio;
    setImmediate(() => {
      if (drachtio === 'up') return this.emit('connect', null, 'udp/127.0.0.1:5060');
      if (drachtio === 'refusing-secret') this.emit('connect', new Error('failed to authenticate to server'));
      else this.emit('error', new Error('connect ECONNREFUSED 10.0.0.5:9022'));
      this.emit('close');
    });
  }
  disconnect(): void {
    this.disconnected = true;
    setImmediate(() => this.emit('close'));
  }
  unregisterForMessages(method: string): void {
    this.unregistered.push(method);
  }
  invite(handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void {
    this.inviteHandler = handler;
  }
  options(handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void {
    this.optionsHandler = handler;
  }
  refer(handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void {
    this.referHandler = handler;
  }
  createUAS(req: Srf.SrfRequest, _res: Srf.SrfResponse, opts: Srf.CreateUASOptions): Promise<Srf.Dialog> {
    if (this.failUas) return Promise.reject(new Error('487 Request Terminated'));
    const dialog = new FakeDialog();
    this.uas.push({ req: req as unknown as FakeRequest, localSdp: opts.localSdp, dialog });
    return Promise.resolve(dialog as unknown as Srf.Dialog);
  }
  createUAC(): Promise<Srf.Dialog> {
    return Promise.reject(new Error('outbound calls are tested in drachtio-dial.test.ts'));
  }

  /** drachtio-server delivering an INVITE; returns the call the backend emitted and the response object. */
  deliver(backend: DrachtioBackend, raw: string, source?: string): { call: IncomingCall; req: FakeRequest; res: FakeResponse } {
    const req = new FakeRequest(raw);
    if (source) req.source_address = source;
    const res = new FakeResponse();
    let call: IncomingCall | undefined;
    backend.once('invite', (c) => (call = c));
    this.inviteHandler!(req as unknown as Srf.SrfRequest, res as unknown as Srf.SrfResponse);
    return { call: call!, req, res };
  }
}

async function started(): Promise<{ srf: FakeSrf; backend: DrachtioBackend }> {
  const srf = new FakeSrf();
  const backend = new DrachtioBackend({ host: '10.0.0.5', port: 9022, secret: 'cymru', allowSource: (a) => a.startsWith('182.76.'), log }, srf);
  await backend.start();
  return { srf, backend };
}

const invite = (headers: Array<[string, string]> = []) => exotelInvite({ callId: 'drachtio-1@182.76.143.61', transport: 'TCP', headers }).toString();

describe('drachtio backend: requests', () => {
  it('connects to drachtio-server with the configured host, port and secret, and answers OPTIONS', async () => {
    const { srf } = await started();
    expect(srf.config).toMatchObject({ host: '10.0.0.5', port: 9022, secret: 'cymru' });
    const res = new FakeResponse();
    srf.optionsHandler!({ source_address: '182.76.143.61' } as Srf.SrfRequest, res as unknown as Srf.SrfResponse);
    expect(res.sent).toEqual([[200, { headers: { Allow: 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE' } }]]);
  });

  it('presents an INVITE as the same IncomingCall the embedded stack does', async () => {
    const { srf, backend } = await started();
    const { call } = srf.deliver(backend, invite([['X-Customer-Header', 'salesbot']]));
    expect(call.callId).toBe('drachtio-1@182.76.143.61');
    expect(call.from).toEqual({ uri: 'sip:+918888888888@exotelt.pstn.exotel.com', user: '+918888888888', displayName: '+918888888888', tag: 'exo-1' });
    expect(call.to).toEqual({ uri: 'sip:+911234567890@127.0.0.1', user: '+911234567890' });
    expect(call.protocol).toBe('tcp');
    expect(call.source).toEqual({ address: '182.76.143.61', port: 40123 });
    expect(call.headers.filter(([n]) => n.startsWith('X-'))).toEqual([
      ['X-Exotel-CallSid', 'call-sid-1'],
      ['X-Exotel-AccountSid', 'account-sid-1'],
      ['X-Customer-Header', 'salesbot'],
    ]);
    expect(call.sdp).toContain('m=audio 37456 RTP/AVP 8 0 96');
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 1 });
  });

  it('answers 403 to a source that may not send SIP, and reports the refusal', async () => {
    const { srf, backend } = await started();
    const refusals: unknown[] = [];
    backend.on('refused', (r) => refusals.push(r));
    const { call, res } = srf.deliver(backend, invite(), '198.51.100.66');
    expect(call).toBeUndefined();
    expect(res.sent).toEqual([[403, 'Forbidden', { headers: { Warning: '399 sip-ws-bridge "source address 198.51.100.66 is not allowed"' } }]]);
    expect(refusals).toEqual([{ reason: 'source-not-allowed', source: '198.51.100.66' }]);
    expect(backend.stats().pendingInvites).toBe(0);
  });

  it('rejects with the status, phrase, Warning and Retry-After, once', async () => {
    const { srf, backend } = await started();
    const { call, res } = srf.deliver(backend, invite());
    call.reject(503, 'Service Unavailable', { warning: { code: 399, text: 'no free RTP port' }, retryAfter: 5 });
    call.reject(500, 'Server Internal Error');
    expect(res.sent).toEqual([[503, 'Service Unavailable', { headers: { Warning: '399 sip-ws-bridge "no free RTP port"', 'Retry-After': '5' } }]]);
    expect(backend.stats().pendingInvites).toBe(0);
  });

  it('reports a CANCEL (drachtio-server answers it) and ignores the rejection that follows', async () => {
    const { srf, backend } = await started();
    const { call, req, res } = srf.deliver(backend, invite());
    let cancelled = 0;
    call.on('cancel', () => cancelled++);
    req.emit('cancel');
    req.emit('cancel');
    expect(cancelled).toBe(1);
    expect(call.cancelled).toBe(true);
    call.reject(480, 'Temporarily Unavailable');
    expect(res.sent).toEqual([]);
    expect(() => call.answer('v=0\r\n')).toThrow(/already/);
  });
});

describe('drachtio backend: connection', () => {
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('withdraws its INVITE route for a drain, once', async () => {
    const { srf, backend } = await started();
    backend.withdraw();
    expect(srf.unregistered).toEqual(['invite']);
    backend.withdraw();
    expect(srf.unregistered).toEqual(['invite']);
    await backend.stop();
  });

  it('does not reconnect once withdrawn, and stops without waiting for a retry', async () => {
    const { srf, backend } = await started();
    srf.drachtio = 'gone';
    srf.emit('close');
    await tick(5);
    expect(backend.status.up).toBe(false);
    await tick(300);
    expect(srf.connects).toBe(2);
    backend.withdraw();
    await tick(600);
    expect(srf.connects).toBe(2);
    const before = Date.now();
    await backend.stop();
    expect(Date.now() - before).toBeLessThan(100);
  });

  it('comes up down on a refused secret, and up once drachtio-server takes it', async () => {
    const srf = new FakeSrf();
    srf.drachtio = 'refusing-secret';
    const backend = new DrachtioBackend({ host: '10.0.0.5', port: 9022, secret: 'wrong', allowSource: () => true, log }, srf);
    await backend.start();
    expect(backend.status).toMatchObject({ up: false, reason: expect.stringMatching(/refused the secret/) });
    srf.drachtio = 'up';
    await tick(400);
    expect(backend.status).toEqual({ up: true });
    await backend.stop();
    expect(srf.disconnected).toBe(true);
  });
});

describe('drachtio backend: dialogs', () => {
  async function answered(): Promise<{ srf: FakeSrf; backend: DrachtioBackend; dialog: Dialog; fake: FakeDialog; events: string[] }> {
    const { srf, backend } = await started();
    const { call } = srf.deliver(backend, invite());
    const dialog = call.answer('v=0\r\nour-sdp\r\n');
    const events: string[] = [];
    dialog.on('confirmed', () => events.push('confirmed'));
    dialog.on('bye', () => events.push('bye'));
    dialog.on('ackTimeout', () => events.push('ackTimeout'));
    dialog.on('reoffer', (offer) => {
      events.push(`reoffer ${offer.sdp.length}`);
      // Answered later, as the call layer does after asking rtpengine; refused when the offer says so.
      setImmediate(() => (offer.sdp.includes('a=inactive') ? offer.reject(488, 'not today') : offer.accept('v=0\r\nnew-sdp\r\n')));
    });
    dialog.on('dtmf', (digit, ms) => events.push(`dtmf ${digit} ${ms}`));
    await new Promise((r) => setImmediate(r));
    return { srf, backend, dialog, fake: srf.uas[0]!.dialog, events };
  }

  it('answers through createUAS with our SDP and maps ACK, re-INVITE, UPDATE and INFO', async () => {
    const { srf, fake, events, backend } = await answered();
    expect(srf.uas[0]!.localSdp).toBe('v=0\r\nour-sdp\r\n');
    expect(backend.stats()).toEqual({ dialogs: 1, pendingInvites: 0 });
    fake.emit('ack', {});
    for (const method of ['modify', 'update']) {
      const res = new FakeResponse();
      fake.emit(method, { body: sdpOffer({ port: 4000 }) }, res);
      // The 200 waits for the application's answer, and carries it.
      expect(res.sent).toEqual([]);
      await new Promise((r) => setImmediate(r));
      expect(res.sent).toEqual([[200, { body: 'v=0\r\nnew-sdp\r\n', headers: { 'Content-Type': 'application/sdp' } }]]);
      expect(fake.local.sdp).toBe('v=0\r\nnew-sdp\r\n');
    }
    const refused = new FakeResponse();
    fake.emit('modify', { body: sdpOffer({ port: 4000 }).replace('a=sendrecv', 'a=inactive') }, refused);
    await new Promise((r) => setImmediate(r));
    expect(refused.sent).toEqual([[488, 'Not Acceptable Here', { headers: { Warning: '399 sip-ws-bridge "not today"' } }]]);
    const info = (type: string, body: string) => {
      const res = new FakeResponse();
      fake.emit('info', { has: () => true, get: () => type, body }, res);
      return res.sent;
    };
    expect(info('application/dtmf-relay', 'Signal=5\r\nDuration=160')).toEqual([[200]]);
    expect(info('application/json', '{}')).toEqual([[415, { headers: { Accept: 'application/dtmf-relay, application/dtmf' } }]]);
    const length = sdpOffer({ port: 4000 }).length;
    expect(events).toEqual(['confirmed', `reoffer ${length}`, `reoffer ${length}`, `reoffer ${length}`, 'dtmf 5 160']);
  });

  it('answers a re-INVITE still waiting for its answer with 487 when the dialog ends, and ignores the late answer', async () => {
    const { fake, dialog } = await answered();
    let offer: Reoffer | undefined;
    dialog.removeAllListeners('reoffer');
    dialog.on('reoffer', (o) => (offer = o));
    const res = new FakeResponse();
    fake.emit('modify', { body: sdpOffer({ port: 4000 }) }, res);
    fake.emit('destroy', { meta: { source: 'network' } });
    offer!.accept('v=0\r\nlate\r\n');
    expect(res.sent).toEqual([[487, 'Request Terminated', { headers: {} }]]);
  });

  it("reports the caller's BYE, and then does not send one of its own", async () => {
    const { fake, dialog, events, backend } = await answered();
    fake.emit('destroy', { meta: { source: 'network' } });
    await dialog.bye();
    expect(events).toEqual(['bye']);
    expect(fake.destroyed).toBe(0);
    expect(backend.stats().dialogs).toBe(0);
  });

  it("reports drachtio-server's own BYE after a missing ACK as an ACK timeout", async () => {
    const { fake, dialog, events } = await answered();
    fake.emit('destroy', { meta: { source: 'application' } });
    await dialog.bye();
    expect(events).toEqual(['ackTimeout']);
    expect(fake.destroyed).toBe(0);
  });

  it('hangs up with one BYE however often bye() is called', async () => {
    const { fake, dialog, backend } = await answered();
    await Promise.all([dialog.bye(), dialog.bye()]);
    await dialog.bye();
    expect(fake.destroyed).toBe(1);
    expect(backend.stats().dialogs).toBe(0);
  });

  it('ends the dialog when the 200 OK could not be sent', async () => {
    const { srf, backend } = await started();
    srf.failUas = true;
    const { call } = srf.deliver(backend, invite());
    const dialog = call.answer('v=0\r\n');
    const ended = new Promise<void>((resolve) => dialog.once('bye', () => resolve()));
    await ended;
    await dialog.bye();
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
  });
});

describe('a whole call through the drachtio backend', () => {
  let bot: TestBot | undefined;
  afterEach(async () => bot?.close());

  it('reaches the bot, answers with our SDP, and stops the bot when the caller hangs up', async () => {
    bot = await TestBot.start();
    const { srf, backend } = await started();
    const calls = new CallManager(
      backend,
      {
      log,
      routing: { routes: [], defaultUrl: new URL(bot.url), defaultSampleRate: 8000 },
      media: {
        host: createLocalHost(
          {
            address: '127.0.0.1',
            rtpPorts: { min: 20000, max: 29999 },
            maxQueueMs: 60_000,
            latch: 'sdp-ip',
            rtpTimeoutMs: 0,
            chunkMs: 100,
            bot: { connectTimeoutMs: 2000, maxMessageBytes: 1 << 20, drainTimeoutMs: 1000, pingIntervalMs: 0, dtmfDurationMs: 100, onDrop: 'hangup', allowedNetworks: [] },
            logLevel: 'silent',
          },
          { botConnected() {}, dtmf() {}, latency() {} },
          log,
        ),
        advertisedAddress: '127.0.0.1',
      },
      bot: { connectRetries: 0, addressPolicy: new BotAddressPolicy(() => false) },
      headerLimits: { customHeaderBytes: 200, uuiHeader: 'X-UUI', uuiBytes: 45 },
      maxDurationMs: 60_000,
      },
      { maxConcurrentCalls: 10, invitesPerSecondPerSource: 10, maxClockLagMs: 0, maxEventLoopUtilization: 1 },
    );
    srf.deliver(backend, invite([['X-UUI', 'abc']]));
    const conn = await bot.connection(0);
    await conn.waitForEvent('start');
    expect(conn.start!.start).toMatchObject({ call_sid: 'call-sid-1', account_sid: 'account-sid-1', from: '+918888888888', custom_parameters: { UUI: 'abc' } });
    while (srf.uas.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(srf.uas[0]!.localSdp).toMatch(/^m=audio \d+ RTP\/AVP 8 96\r$/m);
    srf.uas[0]!.dialog.emit('destroy', { meta: { source: 'network' } });
    await conn.waitForEvent('stop');
    expect(conn.stop!.stop.reason).toBe('callended');
    await calls.endAll('test over');
    expect(calls.activeCalls).toBe(0);
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
  });
});

describe('drachtio backend: transfer', () => {
  const headerReq = (headers: Record<string, string>, body = '') =>
    ({
      has: (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase()),
      get: (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
      body,
    }) as unknown as Srf.SrfRequest;

  it('answers REFER 403 outside and inside a dialog', async () => {
    const { srf, backend } = await started();
    const outside = new FakeResponse();
    srf.referHandler!({ source_address: '182.76.143.61' } as Srf.SrfRequest, outside as unknown as Srf.SrfResponse);
    expect(outside.sent).toEqual([[403, 'Forbidden', { headers: { Warning: '399 sip-ws-bridge "the bridge is not a transfer target"' } }]]);
    const { call } = srf.deliver(backend, invite());
    call.answer('v=0\r\nour-sdp\r\n');
    await new Promise((r) => setImmediate(r));
    const inside = new FakeResponse();
    srf.uas[0]!.dialog.emit('refer', headerReq({}), inside);
    expect(inside.sent[0]![0]).toBe(403);
  });

  it('sends REFER through dialog.request and reads the NOTIFYs: 100 then 200 is a success, each NOTIFY answered 200', async () => {
    const { srf, backend } = await started();
    const { call } = srf.deliver(backend, invite());
    const dialog = call.answer('v=0\r\nour-sdp\r\n');
    await new Promise((r) => setImmediate(r));
    const fake = srf.uas[0]!.dialog;
    const stray = new FakeResponse();
    fake.emit('notify', headerReq({ Event: 'refer' }, 'SIP/2.0 200 OK\r\n'), stray);
    expect(stray.sent[0]![0]).toBe(481);
    const refer = dialog.refer({ target: 'sip:+918041234567@pstn.example.com', headers: [['X-UUI', 'ticket-991']] });
    const events: string[] = [];
    refer.on('accepted', (s) => events.push(`accepted ${s}`));
    refer.on('progress', (s) => events.push(`progress ${s}`));
    await new Promise((r) => setTimeout(r, 10));
    expect(fake.requests).toEqual([
      { method: 'REFER', headers: { 'Refer-To': '<sip:+918041234567@pstn.example.com>', 'Referred-By': '<sip:bridge@10.0.0.1>', 'X-UUI': 'ticket-991' } },
    ]);
    const answers = [new FakeResponse(), new FakeResponse()];
    fake.emit('notify', headerReq({ Event: 'refer;id=2', 'Subscription-State': 'active' }, 'SIP/2.0 100 Trying\r\n'), answers[0]);
    fake.emit('notify', headerReq({ Event: 'refer;id=2', 'Subscription-State': 'terminated;reason=noresource' }, 'SIP/2.0 200 OK\r\n'), answers[1]);
    expect(await refer.result).toEqual({ ok: true, sipStatus: 200, reason: 'OK' });
    expect(answers.map((a) => a.sent)).toEqual([[[200]], [[200]]]);
    expect(events).toEqual(['accepted 202', 'progress 100']);
  });

  it('a REFER answered 405 fails and a second one may follow', async () => {
    const { srf, backend } = await started();
    const { call } = srf.deliver(backend, invite());
    const dialog = call.answer('v=0\r\nour-sdp\r\n');
    await new Promise((r) => setImmediate(r));
    srf.uas[0]!.dialog.answer = { status: 405, reason: 'Method Not Allowed' };
    expect(await dialog.refer({ target: 'sip:agent@example.com' }).result).toMatchObject({ ok: false, sipStatus: 405, stage: 'refer' });
    srf.uas[0]!.dialog.answer = { status: 603, reason: 'Decline' };
    expect(await dialog.refer({ target: 'sip:agent@example.com' }).result).toMatchObject({ ok: false, sipStatus: 603 });
  });
});
