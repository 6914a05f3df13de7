import { describe, expect, it } from 'vitest';
import { destination, Pacer, pickTrunk, RecordStore, statusOfFailure, type CallRecord, type Trunk } from '../../src/call/index.js';
import { negotiate, buildOffer } from '../../src/sdp/index.js';

const trunk = (name: string, extra: Partial<Trunk> = {}): Trunk => ({ name, uri: `sip:${name}.example.com:5070;transport=tcp`, host: `${name}.example.com`, headers: {}, ...extra });

describe('trunk admission', () => {
  it('picks the only trunk when none is named, refuses an unknown one with 404 and a missing name among several with 400', () => {
    expect(pickTrunk([trunk('a')], undefined)).toMatchObject({ name: 'a' });
    expect(pickTrunk([trunk('a'), trunk('b')], undefined)).toMatchObject({ status: 400, error: expect.stringMatching(/^trunk: /) });
    expect(pickTrunk([trunk('a')], 'b')).toMatchObject({ status: 404, error: 'trunk: no trunk named "b"' });
  });

  it('dials numbers at the trunk host, holds them to allowedDestinations, and takes SIP URIs only on allowed targets', () => {
    const t = trunk('exotel', { allowedDestinations: [/^\+91[6-9]\d{9}$/] });
    expect(destination(t, '+919876543210', [])).toEqual({ uri: 'sip:+919876543210@exotel.example.com' });
    expect(destination(t, '+14155550100', [])).toMatchObject({ status: 403, error: expect.stringContaining('allowedDestinations') });
    expect(destination(t, '12ab', [])).toMatchObject({ status: 400 });
    expect(destination(t, 'sip:agent@pbx.example.com', [])).toMatchObject({ status: 403, error: expect.stringContaining('transfer.allowedTargets') });
    expect(destination(t, 'sip:agent@pbx.example.com', [/^sip:[^@]+@pbx\.example\.com$/])).toEqual({ uri: 'sip:agent@pbx.example.com' });
  });

  it('maps final SIP statuses to call statuses', () => {
    expect([486, 600, 408, 480, 487, 404, 503].map(statusOfFailure)).toEqual(['busy', 'busy', 'no-answer', 'no-answer', 'no-answer', 'failed', 'failed']);
  });
});

describe('Pacer', () => {
  it('lets calls go in order at least 1/cps apart, holds the queue behind a call that is not ready, and bounds the queue', async () => {
    const pacer = new Pacer(20, 3);
    const went: Array<{ n: number; at: number }> = [];
    const tickets = [0, 1, 2].map(() => pacer.enqueue()!);
    expect(pacer.enqueue()).toBeUndefined();
    expect(pacer.retryAfter).toBe(1);
    tickets[1]!.ready(() => went.push({ n: 1, at: performance.now() }));
    tickets[2]!.ready(() => went.push({ n: 2, at: performance.now() }));
    await new Promise((r) => setTimeout(r, 80));
    expect(went).toEqual([]);
    tickets[0]!.ready(() => went.push({ n: 0, at: performance.now() }));
    await new Promise((r) => setTimeout(r, 200));
    expect(went.map((w) => w.n)).toEqual([0, 1, 2]);
    for (let i = 1; i < went.length; i++) expect(went[i]!.at - went[i - 1]!.at).toBeGreaterThanOrEqual(49);
    // A cancelled place frees the queue.
    const t = pacer.enqueue()!;
    t.cancel();
    expect(pacer.waiting).toBe(0);
  });
});

describe('RecordStore', () => {
  const record = (sid: string): CallRecord => ({
    call_sid: sid, stream_sid: sid, direction: 'outbound', from: '1', to: '2', trunk: 't', status: 'completed', sip_status: 200,
    created_at: '', answered_at: null, ended_at: '', disconnected_by: 'caller', end_reason: 'bye', custom_parameters: {},
  });

  it('keeps ended calls for an hour and at most maxRecords of them', () => {
    const store = new RecordStore({ keepMs: 3_600_000, maxRecords: 2 });
    store.add(record('a'), 0);
    store.add(record('b'), 1000);
    store.add(record('c'), 2000);
    expect(store.get('a', 2000)).toBeUndefined();
    expect(store.get('b', 2000)?.call_sid).toBe('b');
    expect(store.get('b', 3_601_000)).toBeUndefined();
    expect(store.get('c', 3_601_000)?.call_sid).toBe('c');
    expect(store.get('c', 3_602_000)).toBeUndefined();
  });
});

describe('SDP offer', () => {
  it('offers PCMA, PCMU and telephone-event/8000 on 101 with 0-15 and ptime 20, and reads the answer', () => {
    const offer = buildOffer({ address: '127.0.0.1', port: 4000, sessionId: 1 });
    expect(offer).toContain('m=audio 4000 RTP/AVP 8 0 101');
    expect(offer).toContain('a=rtpmap:101 telephone-event/8000');
    expect(offer).toContain('a=fmtp:101 0-15');
    expect(offer).toContain('a=ptime:20');
    const answer = ['v=0', 'o=- 1 1 IN IP4 10.0.0.9', 's=-', 'c=IN IP4 10.0.0.9', 't=0 0', 'm=audio 30000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
    const read = negotiate(answer);
    expect(read.ok && read.audio).toMatchObject({ codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101, remote: { address: '10.0.0.9', port: 30000 }, direction: 'sendrecv' });
  });
});
