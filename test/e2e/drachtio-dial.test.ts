// Outbound calls through drachtio-server: DrachtioBackend.dial() against a private drachtio-server, with SIPp as the
// trunk (test/sipp/drachtio-trunk-*.xml, UDP on loopback); what the events say is checked against SIPp's trace.
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DrachtioBackend } from '../../src/signaling/drachtio.js';
import type { DialFailure, DialRequest, Dialog, OutgoingCall } from '../../src/signaling/index.js';
import { drachtioBinary, freeTcpPort, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { runSipp, tracedMessages, type SippResult } from '../helpers/sipp.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping drachtio-server dial tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

const log = pino({ level: 'silent' });
let server: DrachtioServer;
let backend: DrachtioBackend;
const extraBackends: DrachtioBackend[] = [];

beforeAll(async () => {
  if (skip) return;
  server = await startDrachtioServer();
  backend = newBackend();
  await backend.start();
  if (!backend.status.up) throw new Error(backend.status.reason);
});

afterEach(async () => {
  await Promise.all(extraBackends.splice(0).map((b) => b.stop()));
});

afterAll(async () => {
  await backend?.stop();
  await server?.stop();
});

function newBackend(): DrachtioBackend {
  return new DrachtioBackend({ host: server.host, port: server.adminPort, secret: server.secret, allowSource: () => true, log });
}

const OFFER = [
  'v=0',
  'o=bridge 1 1 IN IP4 127.0.0.1',
  's=sip-ws-bridge',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 8 0 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

function request(trunkPort: number, extra: Partial<DialRequest> = {}): DialRequest {
  return {
    uri: 'sip:+919876543210@pstn.example.com',
    proxy: `sip:127.0.0.1:${trunkPort}`,
    from: { user: '+918041234567', host: 'bridge.example.com', displayName: 'Sales "Bot"' },
    headers: [
      ['X-UUI', 'ticket-991'],
      ['X-Call-Sid', 'CA0001'],
    ],
    sdp: OFFER,
    ...extra,
  };
}

async function udpBound(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const free = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise<void>((resolve) => socket.close(() => resolve()));
  return !free;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIPp as the trunk, listening on a free UDP port once this resolves. */
async function trunk(scenario: string): Promise<{ port: number; done: Promise<SippResult> }> {
  const port = await freeTcpPort();
  const done = runSipp({
    scenario: { file: `test/sipp/${scenario}` },
    transport: 'u1',
    target: server.sip,
    timeoutMs: 15_000,
    extraArgs: ['-p', String(port)],
  });
  await until(`SIPp listening on ${port}`, () => udpBound(port));
  return { port, done };
}

type Outcome = { answered: { dialog: Dialog; sdp: string } } | { failed: DialFailure };

function watch(call: OutgoingCall): { progress: Array<[number, string, string | undefined]>; outcome: Promise<Outcome> } {
  const progress: Array<[number, string, string | undefined]> = [];
  call.on('progress', (status, reason, sdp) => progress.push([status, reason, sdp]));
  const outcome = new Promise<Outcome>((resolve, reject) => {
    call.once('answered', (dialog, sdp) => resolve({ answered: { dialog, sdp } }));
    call.once('failed', (failed) => resolve({ failed }));
    setTimeout(() => reject(new Error('no outcome within 10 s')), 10_000).unref();
  });
  return { progress, outcome };
}

async function answered(outcome: Promise<Outcome>): Promise<{ dialog: Dialog; sdp: string }> {
  const result = await outcome;
  if (!('answered' in result)) throw new Error(`failed: ${JSON.stringify(result.failed)}`);
  return result.answered;
}

function expectPassed(result: SippResult): void {
  expect(result.code, `SIPp failed:\n${result.stderr}\n${result.errors}\n${result.messages}`).toBe(0);
}

/** The traced messages whose first line matches. */
function lines(result: SippResult, firstLine: RegExp): string[] {
  return tracedMessages(result).filter((m) => firstLine.test(m.split(/\r?\n/)[0]!));
}

function header(message: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(message)?.[1]?.trim();
}

describe.skipIf(skip)('dialling out through drachtio-server', () => {
  it('rings, is answered with PCMA/101, and the trunk hangs up', async () => {
    const sipp = await trunk('drachtio-trunk-answer-bye.xml');
    const call = backend.dial(request(sipp.port));
    const { progress, outcome } = watch(call);
    let ringing: unknown;
    call.once('progress', () => (ringing = backend.stats()));
    const { dialog, sdp } = await answered(outcome);
    expect(ringing).toMatchObject({ dialogs: 0, pendingInvites: 1 });
    expect(progress).toEqual([[180, 'Ringing', undefined]]);
    expect(sdp).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r?$/m);
    expect(sdp).toMatch(/^a=rtpmap:101 telephone-event\/8000\r?$/m);
    expect(dialog.callId).toBe(call.callId);
    expect(backend.stats()).toMatchObject({ dialogs: 1, pendingInvites: 0 });
    await new Promise<void>((resolve) => dialog.once('bye', resolve));
    expect(backend.stats().dialogs).toBe(0);
    const result = await sipp.done;
    expectPassed(result);

    const [invite] = lines(result, /^INVITE /);
    expect(invite).toMatch(/^INVITE sip:\+919876543210@pstn\.example\.com SIP\/2\.0/);
    expect(header(invite!, 'From')).toMatch(/^"Sales \\"Bot\\"" <sip:\+918041234567@bridge\.example\.com>;tag=\S+$/);
    expect(header(invite!, 'To')).toBe('<sip:+919876543210@pstn.example.com>');
    expect(header(invite!, 'Call-ID')).toBe(call.callId);
    expect(header(invite!, 'X-UUI')).toBe('ticket-991');
    expect(header(invite!, 'X-Call-Sid')).toBe('CA0001');
    expect(header(invite!, 'Content-Type')).toBe('application/sdp');
    expect(invite).toContain('a=rtpmap:101 telephone-event/8000');
    expect(lines(result, /^ACK /)).toHaveLength(1);
    expect(lines(result, /^SIP\/2\.0 200 /).map((m) => header(m, 'CSeq'))).toEqual([expect.stringMatching(/^\d+ INVITE$/), '1 BYE']);
  });

  it('hangs up with BYE, which the trunk answers 200', async () => {
    const sipp = await trunk('drachtio-trunk-answer.xml');
    const call = backend.dial(request(sipp.port));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    await dialog.bye();
    expect(backend.stats().dialogs).toBe(0);
    const result = await sipp.done;
    expectPassed(result);
    const [bye] = lines(result, /^BYE /);
    expect(header(bye!, 'Call-ID')).toBe(call.callId);
    expect(header(bye!, 'To')).toMatch(/;tag=\S+trunk/);
    expect(bye).toMatch(/^BYE sip:trunk@127\.0\.0\.1:\d+;transport=UDP SIP\/2\.0/i);
  });

  it("takes the trunk's key press and re-INVITE inside the dialog, as in an inbound one", async () => {
    const sipp = await trunk('drachtio-trunk-in-dialog.xml');
    const { dialog } = await answered(watch(backend.dial(request(sipp.port))).outcome);
    const digits: Array<[string, number | undefined]> = [];
    dialog.on('dtmf', (digit, ms) => digits.push([digit, ms]));
    const offers: string[] = [];
    dialog.on('reoffer', (offer) => {
      offers.push(offer.sdp);
      offer.accept(OFFER.replace('m=audio 40000 RTP/AVP 8 0 101', 'm=audio 40002 RTP/AVP 8 101'));
    });
    await new Promise<void>((resolve) => dialog.once('bye', resolve));
    expect(digits).toEqual([['5', 160]]);
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatch(/^m=audio 41000 /m);
    const result = await sipp.done;
    expectPassed(result);
    const reanswer = lines(result, /^SIP\/2\.0 200 /).find((m) => header(m, 'CSeq') === '3 INVITE');
    expect(reanswer).toMatch(/^m=audio 40002 RTP\/AVP 8 101\r?$/m);
    expect(backend.stats().dialogs).toBe(0);
  });

  it('fails with the status, reason and Warning text of a 486', async () => {
    const sipp = await trunk('drachtio-trunk-busy.xml');
    const call = backend.dial(request(sipp.port));
    const result = await watch(call).outcome;
    expect(result).toEqual({ failed: { status: 486, reason: 'Busy Here', detail: 'callee is on another call' } });
    expect(backend.stats()).toMatchObject({ dialogs: 0, pendingInvites: 0 });
    expectPassed(await sipp.done);
  });

  it('answers a 401 challenge with MD5 digest credentials, which the trunk verifies', async () => {
    const sipp = await trunk('drachtio-trunk-auth.xml');
    const call = backend.dial(request(sipp.port, { credentials: { username: 'bridge', password: 's3cret' } }));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    const result = await sipp.done;
    expectPassed(result);
    const [first, second] = lines(result, /^INVITE /);
    expect(header(first!, 'Authorization')).toBeUndefined();
    expect(header(second!, 'Authorization')).toMatch(/^Digest .*username="bridge"/);
    expect(header(second!, 'Call-ID')).toBe(call.callId);
    expect(header(second!, 'From')).toBe(header(first!, 'From'));
    expect(Number(header(second!, 'CSeq')!.split(' ')[0])).toBe(Number(header(first!, 'CSeq')!.split(' ')[0]) + 1);
    expect(header(second!, 'X-UUI')).toBe('ticket-991');
    expect(lines(result, /^ACK /)).toHaveLength(2);
  });

  it('answers a 407 challenge with qop=auth: the digest checks out (RFC 2617 3.2.2)', async () => {
    const sipp = await trunk('drachtio-trunk-auth-407.xml');
    const call = backend.dial(request(sipp.port, { credentials: { username: 'bridge', password: 's3cret' } }));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    const result = await sipp.done;
    expectPassed(result);
    const [challenge] = lines(result, /^SIP\/2\.0 407 /);
    const nonce = /nonce="([^"]+)"/.exec(header(challenge!, 'Proxy-Authenticate')!)![1]!;
    const [, second] = lines(result, /^INVITE /);
    const auth = header(second!, 'Proxy-Authorization')!;
    const param = (name: string) => new RegExp(`\\b${name}="?([^",]+)"?`).exec(auth)?.[1];
    expect({ username: param('username'), realm: param('realm'), nonce: param('nonce'), uri: param('uri'), qop: param('qop'), opaque: param('opaque'), algorithm: param('algorithm') }).toEqual({
      username: 'bridge',
      realm: 'trunk.example',
      nonce,
      uri: 'sip:+919876543210@pstn.example.com',
      qop: 'auth',
      opaque: 'trunk-opaque',
      algorithm: 'MD5',
    });
    expect(param('nc')).toBe('00000001');
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    const ha1 = md5('bridge:trunk.example:s3cret');
    const ha2 = md5('INVITE:sip:+919876543210@pstn.example.com');
    expect(param('response')).toBe(md5(`${ha1}:${nonce}:${param('nc')}:${param('cnonce')}:auth:${ha2}`));
  });

  it('cannot answer a SHA-256 challenge (drachtio-srf digests with MD5 only): fails with the second 401', async () => {
    const sipp = await trunk('drachtio-trunk-auth-sha256.xml');
    const call = backend.dial(request(sipp.port, { credentials: { username: 'bridge', password: 's3cret' } }));
    expect(await watch(call).outcome).toEqual({ failed: { status: 401, reason: 'Unauthorized' } });
    const result = await sipp.done;
    expectPassed(result);
    const invites = lines(result, /^INVITE /);
    expect(invites).toHaveLength(2);
    expect(header(invites[1]!, 'Authorization')).toMatch(/algorithm=MD5/);
  });

  it('cancels a ringing call: CANCEL on the wire, failed 487', async () => {
    const sipp = await trunk('drachtio-trunk-cancel.xml');
    const call = backend.dial(request(sipp.port));
    call.on('progress', () => call.cancel());
    const { progress, outcome } = watch(call);
    expect(await outcome).toEqual({ failed: expect.objectContaining({ status: 487 }) });
    expect(progress).toEqual([[180, 'Ringing', undefined]]);
    call.cancel();
    expect(backend.stats()).toMatchObject({ dialogs: 0, pendingInvites: 0 });
    const result = await sipp.done;
    expectPassed(result);
    const [cancel] = lines(result, /^CANCEL /);
    expect(cancel).toMatch(/^CANCEL sip:\+919876543210@pstn\.example\.com SIP\/2\.0/);
    expect(header(cancel!, 'Call-ID')).toBe(call.callId);
    expect(lines(result, /^ACK /)).toHaveLength(1);
  });

  it('cancels once the INVITE is out when cancel() comes at once', async () => {
    const sipp = await trunk('drachtio-trunk-cancel.xml');
    const call = backend.dial(request(sipp.port));
    call.cancel();
    expect(await watch(call).outcome).toEqual({ failed: expect.objectContaining({ status: 487 }) });
    const result = await sipp.done;
    expectPassed(result);
    expect(lines(result, /^CANCEL /)).toHaveLength(1);
  });

  it('fails with 503 when it is not connected to drachtio-server', async () => {
    const idle = newBackend();
    const call = idle.dial(request(5060));
    const result = await watch(call).outcome;
    expect(result).toEqual({ failed: { status: 503, reason: 'Service Unavailable', detail: expect.any(String) } });
    expect(idle.stats()).toMatchObject({ dialogs: 0, pendingInvites: 0 });
  });

  it('ends its dialogs with BYE when it stops', async () => {
    const own = newBackend();
    extraBackends.push(own);
    await own.start();
    const sipp = await trunk('drachtio-trunk-answer.xml');
    const { dialog } = await answered(watch(own.dial(request(sipp.port))).outcome);
    expect(own.stats().dialogs).toBe(1);
    await own.stop();
    expect(own.stats().dialogs).toBe(0);
    const result = await sipp.done;
    expectPassed(result);
    expect(lines(result, /^BYE /).map((m) => header(m, 'Call-ID'))).toEqual([dialog.callId]);
  });
});
