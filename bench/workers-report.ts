// The media.workers comparison of a run (issue 17): each N's figures for every workers value side by side, the
// admission ramp, and issue 17's targets checked against them.
import type { FloorResult } from './floor-step.js';
import { callsTaken, type LoadResult } from './load-step.js';
import { fixed, mb, table, withWorkers, workersLabel } from './markdown.js';
import type { BenchOptions } from './options.js';
import { EARLY_REFUSAL_SHARE, refusedEarly } from './ramp-step.js';
import type { BenchRun, LoadRow, RampRow } from './report.js';

const TARGET_CALLS = 1000;
const TARGET_JITTER_CALLS = 500;
const TARGET_JITTER_P99_MS = 5;
const TARGET_SPLIT_CALLS = 200;
/** CPU per call with workers ÷ in-process, and in-process ÷ the Node floor, at TARGET_SPLIT_CALLS. */
const TARGET_SPLIT_COST = 1.1;
const TARGET_FLOOR_RATIO = 1.3;

/** CPU per call, % of one core. */
const perCall = (r: LoadResult) => r.cpuPercent / callsTaken(r);
const floorPerCall = (floor: FloorResult) => floor.cpuPercent / floor.calls;
const allUp = (r: LoadResult) => r.callsUp.start >= r.calls && r.callsUp.end >= r.calls;

/** Rows N, each cell "a / b / c" for the workers values in the run's order; `-` where a value was not run. */
export function sideBySideTable(workers: readonly number[], rows: LoadRow[]): string {
  const inProcess = (row: LoadRow) => row.bridges.find((r) => r.workers === 0);
  const metrics: Array<[string, (r: LoadResult, row: LoadRow) => string]> = [
    ['calls up', (r) => String(Math.min(r.callsUp.start, r.callsUp.end))],
    ['RTP loss %', (r) => fixed(r.rtp.lossPercent, 3)],
    ['jitter p99 ms', (r) => fixed(r.rtp.jitterMs.p99, 2)],
    ['bridge CPU % (all threads)', (r) => fixed(r.cpuPercent, 1)],
    ['CPU/call, % of a core', (r) => fixed(perCall(r), 3)],
    ['RSS MB', (r) => (r.rss ? fixed(mb(r.rss.loadedBytes), 0) : 'n/a')],
    ['CPU/call ÷ Node floor', (r, row) => (row.floor ? `${fixed(perCall(r) / floorPerCall(row.floor), 2)}×` : 'n/a')],
    ['CPU/call ÷ rtpengine', (r, row) => (row.rtpengine ? `${fixed(perCall(r) / perCall(row.rtpengine), 2)}×` : 'n/a')],
  ];
  if (workers.includes(0)) {
    metrics.push(['CPU/call ÷ in-process', (r, row) => {
      const base = inProcess(row);
      return base ? `${fixed(perCall(r) / perCall(base), 2)}×` : 'n/a';
    }]);
  }
  return table(
    ['N', ...metrics.map(([name]) => name)],
    rows
      .filter((row) => row.bridges.length)
      .map((row) => [
        String(row.calls),
        ...metrics.map(([, cell]) => workers.map((w) => {
          const result = row.bridges.find((r) => r.workers === w);
          return result ? cell(result, row) : '-';
        }).join(' / ')),
      ]),
  );
}

const capacityText = ({ calls, source }: NonNullable<RampRow['capacity']>) =>
  source === 'given' ? `${calls} (--capacity)` : source === 'measured' ? `${calls} (highest N without loss)` : `≥ ${calls} (no step lost frames)`;

export function rampTable(options: BenchOptions, ramp: RampRow[]): string {
  return withWorkers(
    options.workers,
    ['calls offered', '503s', 'calls placed before the first 503', 'capacity', `first 503 below ${EARLY_REFUSAL_SHARE * 100} % of capacity`, 'peak calls up', 'other failed calls', 'CPU % bridge / machine', 'media hosts at their busiest: legs / busy / clock lag ms'],
    ramp.map(({ result, capacity }) => {
      const early = refusedEarly(result, capacity?.calls);
      return {
        workers: result.workers,
        cells: [
          String(result.calls),
          String(result.refused),
          result.firstRefusalAfter === undefined ? 'no 503' : String(result.firstRefusalAfter),
          capacity ? capacityText(capacity) : 'unknown',
          early === undefined ? 'n/a' : early ? '**yes**' : 'no',
          String(result.peakCalls),
          `${result.sipp.failed} of ${result.sipp.created}`,
          `${fixed(result.bridgeCpuPercent, 0)} / ${fixed(result.machineCpuPercent, 0)}`,
          result.hosts.map((h) => `${h.name}: ${h.legs} / ${fixed(h.busy, 2)} / ${fixed(h.clockLagMs, 0)}`).join('; ') || '-',
        ],
      };
    }),
  );
}

const verdict = (met: boolean) => `**${met ? 'met' : 'not met'}**`;

/** Issue 17's targets, each where this run measured what it needs. */
export function issue17Targets(run: BenchRun): string[] {
  const lines: string[] = [];
  const bridges = run.load.flatMap((row) => row.bridges);
  const big = bridges.filter((r) => r.calls >= TARGET_CALLS);
  if (big.length) {
    const lossless = big.filter((r) => allUp(r) && r.rtp.lossPercent === 0);
    const detail = big.map((r) => `N=${r.calls}${workersLabel(r.workers)}: ${allUp(r) ? '' : `${Math.min(r.callsUp.start, r.callsUp.end)} up, `}loss ${fixed(r.rtp.lossPercent, 3)} %`).join('; ');
    lines.push(`- ≥ ${TARGET_CALLS} concurrent calls with zero loss: ${verdict(lossless.length > 0)} (${detail})`);
  } else if (run.options.steps.has('load')) {
    const lossless = bridges.filter((r) => allUp(r) && r.rtp.lossPercent === 0).map((r) => r.calls);
    lines.push(`- ≥ ${TARGET_CALLS} concurrent calls with zero loss: **not measured** (largest N without loss: ${lossless.length ? Math.max(...lossless) : 'none'})`);
  }
  const at500 = bridges.filter((r) => r.calls === TARGET_JITTER_CALLS);
  if (at500.length) {
    const detail = at500.map((r) => `${fixed(r.rtp.jitterMs.p99, 2)} ms${workersLabel(r.workers)}`).join(', ');
    lines.push(`- p99 outbound jitter ≤ ${TARGET_JITTER_P99_MS} ms at ${TARGET_JITTER_CALLS} calls: ${verdict(at500.some((r) => r.rtp.jitterMs.p99 <= TARGET_JITTER_P99_MS))} (${detail})`);
  }
  const at200 = run.load.find((row) => row.calls === TARGET_SPLIT_CALLS);
  const inProcess = at200?.bridges.find((r) => r.workers === 0);
  const withWorkerThreads = at200?.bridges.filter((r) => r.workers !== undefined && r.workers > 0) ?? [];
  if (inProcess && withWorkerThreads.length) {
    const ratios = withWorkerThreads.map((r) => ({ r, ratio: perCall(r) / perCall(inProcess) }));
    const detail = ratios.map(({ r, ratio }) => `${fixed(ratio, 2)}×${workersLabel(r.workers)}`).join(', ');
    lines.push(`- CPU per call with workers ≤ ${TARGET_SPLIT_COST}× in-process at ${TARGET_SPLIT_CALLS} calls: ${verdict(ratios.every(({ ratio }) => ratio <= TARGET_SPLIT_COST))} (${detail})`);
  }
  if (inProcess && at200?.floor) {
    const ratio = perCall(inProcess) / floorPerCall(at200.floor);
    lines.push(`- in-process CPU per call ≤ ${TARGET_FLOOR_RATIO}× the Node floor at ${TARGET_SPLIT_CALLS} calls: ${verdict(ratio <= TARGET_FLOOR_RATIO)} (${fixed(ratio, 2)}×: ${fixed(inProcess.cpuPercent, 1)} % against ${fixed(at200.floor.cpuPercent, 1)} %)`);
  }
  for (const { result, capacity } of run.ramp) {
    const early = refusedEarly(result, capacity?.calls);
    const first = result.firstRefusalAfter === undefined ? `no 503 in ${result.calls} calls` : `${result.refused} 503s, the first after ${result.firstRefusalAfter} calls`;
    lines.push(
      `- no 503 below ${EARLY_REFUSAL_SHARE * 100} % of capacity in a ${result.rate} calls/s ramp${workersLabel(result.workers)}: ` +
        `${early === undefined ? '**not judged** (capacity unknown: give --capacity or run the load step)' : verdict(!early)} (${first}${capacity ? `; capacity ${capacityText(capacity)}` : ''})`,
    );
  }
  return lines;
}
