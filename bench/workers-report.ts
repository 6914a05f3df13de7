// The media.workers comparison of a run (issue 17): each N's figures for every workers value side by side, the
// admission ramp, and issue 17's targets checked against them.
import type { LoadResult } from './load-step.js';
import { bridgeFigures, bridgeIn, figureText, floorPerCall, median, medianOf, perCall, workersOf, type LoadRound, type LoadRow } from './load-rounds.js';
import { fixed, mb, table, withWorkers, workersLabel } from './markdown.js';
import type { BenchOptions } from './options.js';
import { EARLY_REFUSAL_SHARE, refusedEarly } from './ramp-step.js';
import type { BenchRun, RampRow } from './report.js';

const TARGET_CALLS = 1000;
const TARGET_JITTER_CALLS = 500;
const TARGET_JITTER_P99_MS = 5;
const TARGET_SPLIT_CALLS = 200;
/** CPU per call with workers ÷ in-process, and in-process ÷ the Node floor, at TARGET_SPLIT_CALLS. */
const TARGET_SPLIT_COST = 1.1;
const TARGET_FLOOR_RATIO = 1.3;

type Figure = (r: LoadResult, round: LoadRound) => number | undefined;

/** Ratios to another target take it from the same round (see resultFigures). */
const ratioTo = (base: (round: LoadRound) => number | undefined): Figure => (r, round) => {
  const divisor = base(round);
  return divisor === undefined ? undefined : perCall(r) / divisor;
};
const overFloor = ratioTo((round) => round.floor && floorPerCall(round.floor));
const overRtpengine = ratioTo((round) => round.rtpengine && perCall(round.rtpengine));
const overInProcess = ratioTo((round) => {
  const base = bridgeIn(round, 0);
  return base && perCall(base);
});

/**
 * Rows N, each cell "a / b / c" for the workers values in the run's order (each the median of the rounds, with its
 * range when there are more); `-` where a value was not run.
 */
export function sideBySideTable(workers: readonly number[], rows: readonly LoadRow[]): string {
  const metrics: Array<[name: string, figure: Figure, digits: number, unit?: string]> = [
    ['calls up', (r) => Math.min(r.callsUp.start, r.callsUp.end), 0],
    ['RTP loss %', (r) => r.rtp.lossPercent, 3],
    ['jitter p99 ms', (r) => r.rtp.jitterMs.p99, 2],
    ['bridge CPU % (all threads)', (r) => r.cpuPercent, 1],
    ['CPU/call, % of a core', perCall, 3],
    ['RSS MB', (r) => r.rss && mb(r.rss.loadedBytes), 0],
    ['CPU/call ÷ Node floor', overFloor, 2, '×'],
    ['CPU/call ÷ rtpengine', overRtpengine, 2, '×'],
  ];
  if (workers.includes(0)) metrics.push(['CPU/call ÷ in-process', overInProcess, 2, '×']);
  return table(
    ['N', ...metrics.map(([name]) => name)],
    rows
      .filter((row) => workersOf(row).length)
      .map((row) => [
        String(row.calls),
        ...metrics.map(([, figure, digits, unit]) =>
          workers.map((w) => (row.rounds.some((round) => bridgeIn(round, w)) ? figureText(bridgeFigures(row, w, figure), digits, unit) : '-')).join(' / '),
        ),
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
  const of = medianOf(run.options.repeat);
  // Each bridge step of the run: a row and a workers value, its figures one per round.
  const bridges = run.load.flatMap((row) => workersOf(row).map((workers) => ({ row, workers })));
  type Step = (typeof bridges)[number];
  const up = ({ row, workers }: Step) => bridgeFigures(row, workers, (r) => Math.min(r.callsUp.start, r.callsUp.end));
  const loss = ({ row, workers }: Step) => bridgeFigures(row, workers, (r) => r.rtp.lossPercent);
  const allUp = (step: Step) => (median(up(step)) ?? 0) >= step.row.calls;
  const lossless = (step: Step) => allUp(step) && median(loss(step)) === 0;
  const big = bridges.filter(({ row }) => row.calls >= TARGET_CALLS);
  if (big.length) {
    const detail = big.map((step) => `N=${step.row.calls}${workersLabel(step.workers)}: ${allUp(step) ? '' : `${figureText(up(step), 0)} up, `}loss ${figureText(loss(step), 3, ' %')}`).join('; ');
    lines.push(`- ≥ ${TARGET_CALLS} concurrent calls with zero loss: ${verdict(big.some(lossless))} (${of}${detail})`);
  } else if (run.options.steps.has('load')) {
    const carried = bridges.filter(lossless).map(({ row }) => row.calls);
    lines.push(`- ≥ ${TARGET_CALLS} concurrent calls with zero loss: **not measured** (largest N without loss: ${carried.length ? Math.max(...carried) : 'none'})`);
  }
  const at500 = bridges.filter(({ row }) => row.calls === TARGET_JITTER_CALLS).map(({ row, workers }) => ({ workers, p99: bridgeFigures(row, workers, (r) => r.rtp.jitterMs.p99) }));
  if (at500.length) {
    const detail = at500.map(({ workers, p99 }) => `${figureText(p99, 2, ' ms')}${workersLabel(workers)}`).join(', ');
    lines.push(`- p99 outbound jitter ≤ ${TARGET_JITTER_P99_MS} ms at ${TARGET_JITTER_CALLS} calls: ${verdict(at500.some(({ p99 }) => (median(p99) ?? NaN) <= TARGET_JITTER_P99_MS))} (${of}${detail})`);
  }
  const at200 = run.load.find((row) => row.calls === TARGET_SPLIT_CALLS);
  const inProcess = at200 !== undefined && workersOf(at200).includes(0);
  if (at200 && inProcess) {
    const withWorkerThreads = workersOf(at200).filter((w): w is number => w !== undefined && w > 0);
    const ratios = withWorkerThreads
      .map((workers) => ({ workers, ratio: bridgeFigures(at200, workers, overInProcess) }))
      .filter(({ ratio }) => ratio.length);
    if (ratios.length) {
      const detail = ratios.map(({ workers, ratio }) => `${figureText(ratio, 2, '×')}${workersLabel(workers)}`).join(', ');
      lines.push(`- CPU per call with workers ≤ ${TARGET_SPLIT_COST}× in-process at ${TARGET_SPLIT_CALLS} calls: ${verdict(ratios.every(({ ratio }) => (median(ratio) ?? NaN) <= TARGET_SPLIT_COST))} (${of}${detail})`);
    }
    const ratio = bridgeFigures(at200, 0, overFloor);
    if (ratio.length) {
      const cpu = figureText(bridgeFigures(at200, 0, (r, round) => (round.floor ? r.cpuPercent : undefined)), 1, ' %');
      const floorCpu = figureText(bridgeFigures(at200, 0, (_, round) => round.floor?.cpuPercent), 1, ' %');
      lines.push(
        `- in-process CPU per call ≤ ${TARGET_FLOOR_RATIO}× the Node floor at ${TARGET_SPLIT_CALLS} calls: ${verdict((median(ratio) ?? NaN) <= TARGET_FLOOR_RATIO)} ` +
          `(${of}${figureText(ratio, 2, '×')}: ${cpu} against ${floorCpu})`,
      );
    }
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
