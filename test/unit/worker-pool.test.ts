// The media workers' pure parts: how the RTP ports are split between them, and the observer batch a worker sends once
// a second (capped, the rest counted in /metrics, and replayed on the main thread as one call per observation).
import { describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../src/http/metrics.js';
import type { LatencyPath } from '../../src/media/index.js';
import { applyBatch, MAX_LATENCY_SAMPLES, ObserverBatch } from '../../src/stream/observer-batch.js';
import { portSlices } from '../../src/stream/worker-pool.js';

describe('portSlices', () => {
  it('gives each worker a contiguous, even-sized slice and the last one the rest', () => {
    expect(portSlices({ min: 10000, max: 20000 }, 3)).toEqual([
      { min: 10000, max: 13331 },
      { min: 13332, max: 16663 },
      { min: 16664, max: 20000 },
    ]);
    expect(portSlices({ min: 20000, max: 20003 }, 2)).toEqual([
      { min: 20000, max: 20001 },
      { min: 20002, max: 20003 },
    ]);
  });

  it('refuses a range that cannot give each worker 2 ports', () => {
    expect(() => portSlices({ min: 20000, max: 20004 }, 3)).toThrow(/media.rtpPorts 20000-20004 is too small for 3 media workers/);
  });
});

describe('ObserverBatch', () => {
  it("hands over a second's observations once, and the main thread's observer hears each of them", () => {
    const batch = new ObserverBatch();
    batch.botConnected(12.5);
    batch.dtmf('caller_to_bot');
    batch.dtmf('caller_to_bot');
    batch.dtmf('bot_to_caller');
    batch.recordingError();
    for (let i = 0; i < 3000; i++) batch.latency('caller_to_bot', i / 100);
    batch.latency('bot_to_caller', 7.25);
    const { batch: taken, transfer } = batch.take();
    expect(transfer).toHaveLength(2);
    expect(taken.latency.caller_to_bot).toHaveLength(3000);

    const heard: string[] = [];
    const latency: Record<LatencyPath, number[]> = { caller_to_bot: [], bot_to_caller: [] };
    applyBatch(
      {
        botConnected: (ms) => heard.push(`bot ${ms}`),
        dtmf: (direction) => heard.push(`dtmf ${direction}`),
        latency: (path, ms) => latency[path].push(ms),
        recordingError: () => heard.push('recording error'),
      },
      taken,
    );
    expect(heard).toEqual(['bot 12.5', 'dtmf caller_to_bot', 'dtmf caller_to_bot', 'dtmf bot_to_caller', 'recording error']);
    expect(latency.bot_to_caller).toEqual([7.25]);
    expect(latency.caller_to_bot[2999]).toBeCloseTo(29.99, 4);

    const next = batch.take().batch;
    expect(next).toMatchObject({ botConnectMs: [], dtmf: { caller_to_bot: 0, bot_to_caller: 0 }, recordingErrors: 0, latencyDropped: 0 });
    expect(next.latency.caller_to_bot).toHaveLength(0);
  });

  it('keeps at most MAX_LATENCY_SAMPLES a path and second, and counts the rest in /metrics', async () => {
    const metrics = new BridgeMetrics();
    const dropped = async () => /^bridge_latency_samples_dropped_total (\d+)$/m.exec(await metrics.registry.metrics())?.[1];
    expect(await dropped()).toBe('0');
    const batch = new ObserverBatch();
    for (let i = 0; i < MAX_LATENCY_SAMPLES + 5; i++) batch.latency('bot_to_caller', 1);
    for (let i = 0; i < MAX_LATENCY_SAMPLES + 2; i++) batch.latency('caller_to_bot', 1);
    const { batch: taken } = batch.take();
    expect(taken.latency.bot_to_caller).toHaveLength(MAX_LATENCY_SAMPLES);
    expect(taken.latencyDropped).toBe(7);
    applyBatch(metrics, taken);
    expect(await dropped()).toBe('7');
    expect(await metrics.registry.metrics()).toMatch(new RegExp(`^bridge_latency_seconds_count\\{path="bot_to_caller"\\} ${MAX_LATENCY_SAMPLES}$`, 'm'));
    // A second within the cap adds none.
    batch.latency('bot_to_caller', 1);
    applyBatch(metrics, batch.take().batch);
    expect(await dropped()).toBe('7');
  });
});
