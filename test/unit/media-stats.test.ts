// The per-call media measurements that reach metrics and the post-call report: RTP loss and jitter (RFC 3550),
// latency summaries, and when queued bot audio starts playing.
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/media/latency.js';
import { PlayoutQueue } from '../../src/media/playout.js';
import { RtpReception } from '../../src/media/reception.js';

describe('RtpReception', () => {
  const SSRC = 0x1234;

  it('counts the packets missing from the sequence as lost, across a sequence wrap', () => {
    const r = new RtpReception();
    const sent = Array.from({ length: 100 }, (_, i) => (65500 + i) & 0xffff);
    for (const [i, seq] of sent.entries()) if (i !== 10 && i !== 50 && i !== 51) r.packet(SSRC, seq, i * 20, i * 160);
    expect(r.lost).toBe(3);
  });

  it('does not count reordered or duplicated packets as lost, nor a late one as a wrap', () => {
    const r = new RtpReception();
    for (const seq of [65534, 0, 65535, 1, 1, 2]) r.packet(SSRC, seq, 0);
    expect(r.lost).toBe(0);
    expect(r.outOfOrder).toBe(1);
  });

  it('keeps what a stream lost when the sender restarts with a new SSRC', () => {
    const r = new RtpReception();
    for (const seq of [10, 11, 13]) r.packet(SSRC, seq, 0);
    for (const seq of [500, 501, 502, 505]) r.packet(SSRC + 1, seq, 0);
    expect(r.lost).toBe(1 + 2);
  });

  it('has no jitter for packets arriving exactly every 20 ms, and about the mean deviation for ones that wobble', () => {
    const steady = new RtpReception();
    for (let i = 0; i < 200; i++) steady.packet(SSRC, i, 1000 + i * 20, 160 * i);
    expect(steady.jitterMs).toBe(0);

    // Arrivals alternately 2 ms early and 2 ms late: |D| is 4 ms every time, so J converges to 4 ms.
    const wobbly = new RtpReception();
    for (let i = 0; i < 500; i++) wobbly.packet(SSRC, i, 1000 + i * 20 + (i % 2 ? 2 : -2), 160 * i);
    expect(Math.abs(wobbly.jitterMs - 4)).toBeLessThan(0.1);
  });

  it('counts telephone-events for loss but leaves them out of jitter', () => {
    const r = new RtpReception();
    for (let i = 0; i < 10; i++) r.packet(SSRC, i, 1000 + i * 20, 160 * i);
    // Events keep their start timestamp while time goes on: counted into jitter they would add 20 ms per packet.
    for (let i = 10; i < 20; i++) r.packet(SSRC, i, 1000 + i * 20);
    expect(r.lost).toBe(0);
    expect(r.jitterMs).toBe(0);
  });
});

describe('LatencyHistogram', () => {
  it('gives the exact mean and a p99 within one bucket (25%) of the true value', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 990; i++) h.observe(1);
    for (let i = 0; i < 10; i++) h.observe(40);
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.meanMs).toBeCloseTo((990 + 400) / 1000, 3);
    expect(s.p99Ms).toBeGreaterThanOrEqual(1);
    expect(s.p99Ms).toBeLessThanOrEqual(1.25);
    h.observe(40);
    expect(h.quantileMs(0.995)).toBeGreaterThanOrEqual(40);
    expect(h.quantileMs(0.995)).toBeLessThanOrEqual(50);
  });

  it('reports zeros before any observation', () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, meanMs: 0, p99Ms: 0 });
  });
});

describe('PlayoutQueue start times', () => {
  it('reports each timed push when its first sample is pulled, not before', () => {
    const started: number[] = [];
    const q = new PlayoutQueue(8000, (at) => started.push(at));
    const frame = new Int16Array(160);
    q.push(new Int16Array(200).fill(1), 1);
    q.push(new Int16Array(100).fill(2), 2);
    q.pull(frame);
    expect(started).toEqual([1]);
    q.pull(frame);
    expect(started).toEqual([1, 2]);
  });

  it('forgets audio that is cleared or dropped before it plays', () => {
    const started: number[] = [];
    const q = new PlayoutQueue(400, (at) => started.push(at));
    const frame = new Int16Array(160);
    q.push(new Int16Array(300), 1);
    // Over the cap: the oldest 200 samples go, the start of push 1 among them.
    q.push(new Int16Array(300), 2);
    q.pull(frame);
    q.push(new Int16Array(100), 3);
    q.clear();
    q.push(new Int16Array(100), 4);
    q.pull(frame);
    expect(started).toEqual([2, 4]);
  });
});
