// The embedded stack as a UAC against SIPp playing the trunk: answer, early media, busy, CANCEL, BYE both ways, digest.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddedSipBackend } from '../../src/signaling/index.js';
import { tracedMessages, type SippResult } from '../helpers/sipp.js';
import { startSippUas } from '../helpers/sipp-uas.js';
import { answered, dialRequest, expectIdle, outcome, startBackend } from '../helpers/uac.js';

/** The messages SIPp received whose start line begins so. */
function received(result: SippResult, start: string): string[] {
  return tracedMessages(result).filter((m) => m.startsWith(start));
}

function header(message: string, name: string): string[] {
  return [...message.matchAll(new RegExp(`^${name}:\\s*(.*?)\\r?$`, 'gim'))].map((m) => m[1]!);
}

function branchOf(message: string): string {
  return /branch=([^;\s]+)/.exec(header(message, 'Via')[0] ?? '')?.[1] ?? '';
}

let backend: EmbeddedSipBackend | undefined;

afterEach(async () => {
  if (backend) await expectIdle(backend);
  await backend?.stop();
  backend = undefined;
});

describe.each(['udp', 'tcp'] as const)('dialing a trunk over %s', (transport) => {
  it('rings, answers with PCMA and telephone-event, ACKs the 200, and hangs up with BYE over the route set', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-answer', transport);
    const call = backend.dial(dialRequest(trunk.proxy));
    const progress: number[] = [];
    call.on('progress', (status) => progress.push(status));
    const [dialog, sdp] = await answered(call);
    expect(progress).toEqual([180]);
    expect(sdp).toContain('a=rtpmap:8 PCMA/8000');
    expect(sdp).toContain('telephone-event/8000');
    expect(dialog.callId).toBe(call.callId);
    await dialog.bye();
    const result = await trunk.result;
    expect(result.code, result.errors).toBe(0);

    const [invite] = received(result, 'INVITE ');
    expect(invite).toMatch(new RegExp(`^INVITE sip:\\+919876543210@127\\.0\\.0\\.1:${trunk.port} SIP/2\\.0`));
    expect(header(invite!, 'Via')[0]).toMatch(new RegExp(`^SIP/2\\.0/${transport.toUpperCase()} 127\\.0\\.0\\.1:\\d+;branch=z9hG4bK\\w+;rport`));
    expect(header(invite!, 'From')[0]).toMatch(/^<sip:\+918041234567@bridge\.example\.com>;tag=\w+$/);
    expect(header(invite!, 'To')[0]).toBe(`<sip:+919876543210@127.0.0.1:${trunk.port}>`);
    expect(header(invite!, 'CSeq')[0]).toBe('1 INVITE');
    expect(header(invite!, 'Max-Forwards')[0]).toBe('70');
    expect(header(invite!, 'X-UUI')[0]).toBe('ticket-991');
    expect(header(invite!, 'Content-Type')[0]).toBe('application/sdp');
    expect(header(invite!, 'Contact')[0]).toMatch(transport === 'udp' ? /^<sip:127\.0\.0\.1:\d+>$/ : /^<sip:127\.0\.0\.1:\d+;transport=tcp>$/);

    const acks = received(result, 'ACK ');
    expect(acks).toHaveLength(1);
    const sippRoute = `<sip:127.0.0.1:${trunk.port};transport=${transport.toUpperCase()};lr>`; // SIPp writes [transport] upper-case
    for (const ack of acks) {
      expect(header(ack, 'CSeq')[0]).toBe('1 ACK');
      expect(branchOf(ack)).not.toBe(branchOf(invite!));
      expect(header(ack, 'Route')).toEqual([sippRoute, '<sip:far-proxy.invalid;lr>']);
    }
    const [bye] = received(result, 'BYE ');
    expect(bye).toMatch(new RegExp(`^BYE sip:trunk@127\\.0\\.0\\.1:${trunk.port};transport=${transport.toUpperCase()} SIP/2\\.0`));
    expect(header(bye!, 'Route')).toEqual([sippRoute, '<sip:far-proxy.invalid;lr>']);
    expect(header(bye!, 'CSeq')[0]).toBe('2 BYE');
  });

  it('reports 183 with its SDP, then the answer', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-early-media', transport);
    const call = backend.dial(dialRequest(trunk.proxy));
    const progress: Array<[number, string | undefined]> = [];
    call.on('progress', (status, _reason, sdp) => progress.push([status, sdp]));
    const [dialog] = await answered(call);
    expect(progress).toHaveLength(1);
    expect(progress[0]![0]).toBe(183);
    expect(progress[0]![1]).toContain('m=audio');
    await dialog.bye();
    expect((await trunk.result).code).toBe(0);
  });

  it('fails a busy call with 486 and the Warning, the ACK on the INVITE branch', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-busy', transport);
    const result = await outcome(backend.dial(dialRequest(trunk.proxy)));
    expect(result).toEqual({ failed: { status: 486, reason: 'Busy Here', detail: 'all lines busy' } });
    const sipp = await trunk.result;
    expect(sipp.code, sipp.errors).toBe(0);
    const [invite] = received(sipp, 'INVITE ');
    const [ack] = received(sipp, 'ACK ');
    expect(branchOf(ack!)).toBe(branchOf(invite!));
    expect(header(ack!, 'CSeq')[0]).toBe('1 ACK');
    expect(header(ack!, 'To')[0]).toMatch(/;tag=/);
  });

  it('sends CANCEL when asked to give up while it rings, and fails with 487', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-noanswer', transport);
    const call = backend.dial(dialRequest(trunk.proxy));
    call.on('progress', () => call.cancel());
    const result = await outcome(call);
    expect(result).toMatchObject({ failed: { status: 487 } });
    const sipp = await trunk.result;
    expect(sipp.code, sipp.errors).toBe(0);
    const [invite] = received(sipp, 'INVITE ');
    const [cancel] = received(sipp, 'CANCEL ');
    expect(cancel!.split('\n')[0]).toBe(invite!.split('\n')[0]!.replace('INVITE', 'CANCEL'));
    expect(branchOf(cancel!)).toBe(branchOf(invite!));
    expect(header(cancel!, 'CSeq')[0]).toBe('1 CANCEL');
    expect(header(cancel!, 'To')[0]).toBe(header(invite!, 'To')[0]);
  });

  it('holds a CANCEL asked for before any response until the first provisional', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-noanswer', transport);
    const call = backend.dial(dialRequest(trunk.proxy));
    setImmediate(() => call.cancel());
    const result = await outcome(call);
    expect(result).toMatchObject({ failed: { status: 487 } });
    const sipp = await trunk.result;
    expect(sipp.code, sipp.errors).toBe(0);
    expect(received(sipp, 'CANCEL ')).toHaveLength(1);
  });

  it("reports the trunk's BYE as the dialog's bye", async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-bye', transport);
    const [dialog] = await answered(backend.dial(dialRequest(trunk.proxy)));
    await once(dialog, 'bye');
    const sipp = await trunk.result;
    expect(sipp.code, sipp.errors).toBe(0);
  });

  it('answers a 401 challenge once with Authorization, a new branch and CSeq 2', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-auth', transport);
    const call = backend.dial(dialRequest(trunk.proxy, { credentials: { username: 'alice', password: 'wonderland' } }));
    const [dialog] = await answered(call);
    await dialog.bye();
    const sipp = await trunk.result;
    expect(sipp.code, sipp.errors).toBe(0);
    const [first, second] = received(sipp, 'INVITE ');
    expect(header(second!, 'CSeq')[0]).toBe('2 INVITE');
    expect(branchOf(second!)).not.toBe(branchOf(first!));
    expect(header(second!, 'Call-ID')).toEqual(header(first!, 'Call-ID'));
    expect(header(second!, 'From')).toEqual(header(first!, 'From'));
    const credentials = header(second!, 'Authorization')[0]!;
    expect(credentials).toMatch(/^Digest username="alice", realm="trunk\.example", nonce="8b4f0c2e9d1a"/);
    expect(credentials).toContain('qop=auth, nc=00000001');
    expect(credentials).toContain('opaque="op-1"');
  });

  it('fails with the trunk status when the password is wrong, and with 401 when there are no credentials', async () => {
    backend = await startBackend();
    const trunk = await startSippUas('trunk-auth', transport);
    const wrong = await outcome(backend.dial(dialRequest(trunk.proxy, { credentials: { username: 'alice', password: 'looking-glass' } })));
    expect(wrong).toMatchObject({ failed: { status: 403 } });
    expect((await trunk.result).code).toBe(0);

    const silent = await startSippUas('trunk-auth', transport, 2000);
    const none = await outcome(backend.dial(dialRequest(silent.proxy)));
    expect(none).toMatchObject({ failed: { status: 401, detail: expect.stringContaining('no credentials are configured') } });
    await silent.result;
  });
});
