// Outbound calls through drachtio-server: DrachtioBackend.dial() against a private drachtio-server, with SIPp as the
// trunk (test/sipp/drachtio-trunk-*.xml, UDP on loopback); what the events say is checked against SIPp's trace.
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DrachtioBackend } from '../../src/signaling/drachtio.js';
import { drachtioBinary, freeTcpPort, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { answered, expectPassed, header, lines, OFFER, request, trunk as sippTrunk, watch } from '../helpers/drachtio-trunk.js';

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

const trunk = (scenario: string, transport: 'udp' | 'tcp' = 'udp') => sippTrunk(scenario, server.sip, transport);

describe.skipIf(skip)('dialling out through drachtio-server', () => {
  it('rings, is answered with PCMA/101, and the trunk hangs up', async () => {
    const sipp = await trunk('drachtio-trunk-answer-bye.xml');
    const call = backend.dial(request(sipp.port));
    const { progress, outcome } = watch(call);
    let ringing: unknown;
    call.once('progress', () => (ringing = backend.stats()));
    const { dialog, sdp } = await answered(outcome);
    await new Promise<void>((resolve) => dialog.once('confirmed', resolve));
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

  it('dials a trunk over TCP when its URI says so, and hangs up', async () => {
    const sipp = await trunk('drachtio-trunk-answer.xml', 'tcp');
    const call = backend.dial(request(sipp.port, { proxy: `sip:127.0.0.1:${sipp.port};transport=tcp` }));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    const result = await sipp.done;
    expectPassed(result);
    const [invite] = lines(result, /^INVITE /);
    expect(header(invite!, 'Via')).toMatch(/^SIP\/2\.0\/TCP /);
    expect(lines(result, /^BYE /)).toHaveLength(1);
  });

  it('fails with 503 when the trunk cannot be reached', async () => {
    const closed = await freeTcpPort();
    const call = backend.dial(request(closed, { proxy: `sip:127.0.0.1:${closed};transport=tcp` }));
    const result = await watch(call).outcome;
    // drachtio-server (sofia-sip) makes the 503 itself when the connection is refused.
    expect(result).toEqual({ failed: { status: 503, reason: 'Service Unavailable' } });
    expect(backend.stats()).toMatchObject({ dialogs: 0, pendingInvites: 0 });
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
