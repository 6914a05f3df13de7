// The bench's media.workers comparison as its user sees it: the options that ask for it, and the side-by-side table
// and issue 17's verdicts in the report, from made-up step results (the bench itself is not run here), once per N
// and over --repeat rounds.
import { describe, expect, it } from 'vitest';
import type { FloorResult } from '../../bench/floor-step.js';
import type { LoadResult } from '../../bench/load-step.js';
import { readOptions, type BenchOptions } from '../../bench/options.js';
import type { RampResult } from '../../bench/ramp-step.js';
import type { LoadRow } from '../../bench/load-rounds.js';
import { resultsMarkdown, type BenchRun } from '../../bench/report.js';

function options(argv: string[], env: NodeJS.ProcessEnv = {}): BenchOptions {
  const read = readOptions(argv, env);
  if (read === 'help') throw new Error('help');
  return read;
}

describe('bench options', () => {
  it('leave media.workers to the bridge unless --workers lists values', () => {
    expect(options([]).workers).toBeUndefined();
    expect(options(['--workers', '0,1,2,1']).workers).toEqual([0, 1, 2]);
    expect(options([], { BENCH_WORKERS: '0,4' }).workers).toEqual([0, 4]);
    expect(() => options(['--workers', '1.5'])).toThrow(/workers: 1.5/);
    expect(() => options(['--workers=-1'])).toThrow(/workers: -1/);
  });

  it('run the ramp only when asked, up to the largest --calls or --ramp-calls', () => {
    expect(options([]).steps.has('ramp')).toBe(false);
    const ramp = options(['--steps', 'ramp', '--calls', '200,500']);
    expect([...ramp.steps]).toEqual(['ramp']);
    expect(ramp.rampCalls).toBe(500);
    expect(ramp.capacity).toBeUndefined();
    expect(options(['--steps', 'ramp', '--ramp-calls', '1000', '--capacity', '800'])).toMatchObject({ rampCalls: 1000, capacity: 800 });
  });

  it("leave bot.chunkMs to the bridge unless --chunk-ms gives one of the bridge's values", () => {
    expect(options([]).chunkMs).toBeUndefined();
    expect(options(['--chunk-ms', '20']).chunkMs).toBe(20);
    expect(options([], { BENCH_CHUNK_MS: '40' }).chunkMs).toBe(40);
    expect(() => options(['--chunk-ms', '30'])).toThrow(/chunk-ms: 30/);
  });
});

function load(calls: number, workers: number | undefined, cpuPercent: number, lossPercent: number, p99: number): LoadResult {
  return {
    target: 'bridge',
    protocol: 'exotel',
    ...(workers !== undefined && { workers }),
    calls,
    callsUp: { start: calls, end: calls },
    cpuPercent,
    rss: { idleBytes: 100 << 20, loadedBytes: 200 << 20 },
    rtp: { streams: calls, expected: 1000, received: 1000, lossPercent, jitterMs: { p50: 0.5, p99, max: p99 } },
    captureDropped: 0,
    latency: {},
    kernelDrops: { ownSockets: 0, inErrors: 0, rcvbufErrors: 0 },
    otherCpu: { sipp: 5, helper: 10, dumpcap: 1, machine: 100 },
    sipp: { created: calls, successful: calls, failed: 0, creationRate: 100, setupMs: 2, errors: new Map() },
    problems: new Map(),
    threads: [['MainThread', cpuPercent]],
  };
}

function ramp(workers: number, firstRefusalAfter: number | undefined): RampResult {
  return {
    workers,
    calls: 1000,
    rate: 100,
    refused: firstRefusalAfter === undefined ? 0 : 1000 - firstRefusalAfter,
    ...(firstRefusalAfter !== undefined && { firstRefusalAfter }),
    peakCalls: firstRefusalAfter ?? 1000,
    sipp: { created: 1000, successful: 1000, failed: 0, creationRate: 100, setupMs: 2, errors: new Map() },
    bridgeCpuPercent: 80,
    machineCpuPercent: 150,
    hosts: [],
    problems: new Map(),
  };
}

function run(load: LoadRow[], rampRows: BenchRun['ramp'], more: string[] = []): string {
  return resultsMarkdown({
    startedAt: new Date('2026-11-30T05:00:00Z'),
    machine: { cores: 2, cpuModel: 'test', node: 'v24', kernel: '6' },
    options: options(['--steps', 'load,floor,ramp', '--calls', '200,500,1000', '--workers', '0,2', ...more]),
    load,
    ramp: rampRows,
    setupRates: [],
    outbounds: [],
    notes: [],
  });
}

const floor = (calls: number, cpuPercent: number): FloorResult => ({ calls, cpuPercent });
const targetLine = (markdown: string, start: string) => markdown.split('\n').find((line) => line.startsWith(`- ${start}`));

describe('bench report of media.workers', () => {
  const markdown = run(
    [
      { calls: 200, rounds: [{ bridges: [load(200, 0, 24, 0, 3), load(200, 2, 26, 0, 1)], twilio: [], floor: floor(200, 20) }] },
      { calls: 500, rounds: [{ bridges: [load(500, 0, 60, 0.5, 12), load(500, 2, 62, 0, 4)], twilio: [] }] },
      { calls: 1000, rounds: [{ bridges: [load(1000, 2, 130, 0, 6)], twilio: [] }] },
    ],
    [
      { result: ramp(0, 300), capacity: { calls: 500, source: 'given' } },
      { result: ramp(2, undefined), capacity: { calls: 1000, source: 'at least' } },
    ],
  );

  it('puts each N of every workers value side by side, with CPU per call against in-process', () => {
    const row = markdown.split('\n').find((line) => line.startsWith('| 500 | 500 / 500 |'));
    expect(row).toContain('| 0.500 / 0.000 |');
    expect(row).toContain('| 12.00 / 4.00 |');
    expect(row).toContain('| 0.120 / 0.124 |');
    expect(row).toContain('| 1.00× / 1.03× |');
    expect(markdown).toContain('| 1000 | - / 1000 |');
  });

  it("judges issue 17's four targets from the numbers", () => {
    expect(targetLine(markdown, '≥ 1000 concurrent calls with zero loss')).toContain('**met** (N=1000 (workers 2): loss 0.000 %)');
    expect(targetLine(markdown, 'p99 outbound jitter ≤ 5 ms at 500')).toContain('**met** (12.00 ms (workers 0), 4.00 ms (workers 2))');
    expect(targetLine(markdown, 'CPU per call with workers ≤ 1.1× in-process at 200')).toContain('**met** (1.08× (workers 2))');
    expect(targetLine(markdown, 'in-process CPU per call ≤ 1.3× the Node floor at 200')).toContain('**met** (1.20×');
    expect(targetLine(markdown, 'no 503 below 80 % of capacity in a 100 calls/s ramp (workers 0)')).toContain('**not met** (700 503s, the first after 300 calls; capacity 500 (--capacity))');
    expect(targetLine(markdown, 'no 503 below 80 % of capacity in a 100 calls/s ramp (workers 2)')).toContain('**met** (no 503 in 1000 calls; capacity ≥ 1000');
  });
});

describe('bench report of repeated load steps', () => {
  // Three rounds; at 200 calls the ratio of the medians (30 / 25 = 1.2) and the median of each round's ratio (1.1)
  // tell the split-cost target apart.
  const cpu200 = [[20, 22], [30, 30], [25, 30]] as const;
  const p99At500 = [[4.8, 6], [16.7, 7], [5.3, 5.5]] as const;
  const markdown = run(
    [
      { calls: 200, rounds: cpu200.map(([w0, w2]) => ({ bridges: [load(200, 0, w0, 0, 1), load(200, 2, w2, 0, 1)], twilio: [], floor: floor(200, 20) })) },
      { calls: 500, rounds: p99At500.map(([w0, w2]) => ({ bridges: [load(500, 0, 60, 0, w0), load(500, 2, 62, 0, w2)], twilio: [] })) },
    ],
    [],
    ['--repeat', '3'],
  );
  const lines = markdown.split('\n');

  it('shows each figure as the median of the rounds with its range', () => {
    const row = lines.find((line) => line.startsWith('| 500 | 500 (500-500) / 500 (500-500) |'));
    expect(row).toContain('| 5.30 (4.80-16.70) / 6.00 (5.50-7.00) |');
    expect(lines.find((line) => line.startsWith('| 0 | 500 | 60.0 (60.0-60.0) |'))).toContain('| 0.50 (0.50-0.50) / 5.30 (4.80-16.70) |');
  });

  it('takes a ratio to another target in each round, and shows their median', () => {
    const row = lines.find((line) => line.startsWith('| 200 | 200 (200-200) / 200 (200-200) |'));
    expect(row).toContain('| 1.00× (1.00-1.00) / 1.10× (1.00-1.20) |');
    expect(row).toContain('| 1.25× (1.00-1.50) / 1.50× (1.10-1.50) |');
  });

  it('judges the targets on the medians, and says so', () => {
    expect(markdown).toContain('each load step 3 times in turn');
    expect(targetLine(markdown, 'p99 outbound jitter ≤ 5 ms at 500')).toContain('**not met** (median of 3: 5.30 ms (4.80-16.70) (workers 0), 6.00 ms (5.50-7.00) (workers 2))');
    expect(targetLine(markdown, 'CPU per call with workers ≤ 1.1× in-process at 200')).toContain('**met** (median of 3: 1.10× (1.00-1.20) (workers 2))');
    expect(targetLine(markdown, 'in-process CPU per call ≤ 1.3× the Node floor at 200')).toContain('**met** (median of 3: 1.25× (1.00-1.50): 25.0 % (20.0-30.0) against 20.0 % (20.0-20.0))');
  });

  it('keeps every round of every step in the details', () => {
    expect(lines.filter((line) => line.startsWith('| 500 | bridge (workers 2), round '))).toHaveLength(3);
  });
});
