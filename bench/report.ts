// The bench's results as Markdown: printed, and put between the markers of docs/benchmarks.md in place of the
// previous results.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { detailsTable, loadTable, twilioTable } from './load-report.js';
import { bridgeFigures, figureText, median, medianOf, workersOf, type LoadRow } from './load-rounds.js';
import { fixed, pair, withWorkers, workersLabel } from './markdown.js';
import type { BenchOptions } from './options.js';
import type { Machine } from './proc-stats.js';
import { HOLD_MS, type OutboundResult, type Quantiles } from './outbound-step.js';
import type { RampResult } from './ramp-step.js';
import { MAX_FAILED_PERCENT, type SetupRateResult } from './setup-rate.js';
import { issue17Targets, rampTable, sideBySideTable } from './workers-report.js';

const RESULTS_START = '<!-- bench:results:start -->';
const RESULTS_END = '<!-- bench:results:end -->';

/** The issue's targets, for a later optimisation: checked against every run. */
const TARGET_CALLS = 1000;
const TARGET_CPU_PERCENT = 100;
const TARGET_JITTER_P99_MS = 2;
const TARGET_SETUP_RATE = 300;
const TARGET_OUTBOUND_RATE = 300;
/** First bot frame at the trunk at most this long after its 200 OK, at TARGET_FIRST_FRAME_RATE setups/s. */
const TARGET_FIRST_FRAME_MS = 40;
const TARGET_FIRST_FRAME_RATE = 100;

export interface RampRow {
  readonly result: RampResult;
  /**
   * What the first 503 is held against: --capacity (given), or the highest N without loss (measured; `at least` when
   * no step lost frames, so the capacity may be higher).
   */
  readonly capacity?: { readonly calls: number; readonly source: 'given' | 'measured' | 'at least' };
}

export interface BenchRun {
  readonly startedAt: Date;
  readonly machine: Machine;
  readonly options: BenchOptions;
  readonly load: LoadRow[];
  /** One per workers value. */
  readonly ramp: RampRow[];
  readonly setupRates: SetupRateResult[];
  readonly outbounds: OutboundResult[];
  /** Why stepping stopped, or a step failed. */
  readonly notes: string[];
}

function setupTable(options: BenchOptions, results: readonly SetupRateResult[]): string {
  return withWorkers(
    options.workers,
    ['offered calls/s', 'calls', `failed % (< ${MAX_FAILED_PERCENT} to pass)`, 'placed calls/s', 'INVITE→200 mean ms', 'bridge CPU %', 'sustained'],
    results.flatMap((result) => result.rates.map((r) => ({ workers: result.workers, cells: [
      String(r.rate),
      String(r.sipp.created),
      fixed(r.failedPercent, 2),
      fixed(r.sipp.creationRate, 0),
      fixed(r.sipp.setupMs, 0),
      fixed(r.bridgeCpuPercent, 0),
      r.sustained ? 'yes' : 'no',
    ] }))),
  );
}

const quantileText = (q: Quantiles) => `${fixed(q.p50, 1)} / ${fixed(q.p95, 1)} / ${fixed(q.p99, 1)} / ${fixed(q.max, 1)} (n=${q.n})`;

function outboundTable(options: BenchOptions, results: readonly OutboundResult[]): string {
  return withWorkers(
    options.workers,
    ['offered setups/s', 'POSTs (201)', 'bot starts', 'setups/s (bot starts)', 'SIPp calls ok / failed', 'POST→start p50 / p95 / p99 / max ms', '200 OK→first bot frame p50 / p95 / p99 / max ms', 'of it 200 OK→bot start p50 / p99 ms', 'of it bot start→first frame p50 / p99 ms', 'peak calls up', 'CPU % bridge / bench process / SIPp / machine', 'sustained'],
    results.flatMap((result) => result.rates.map((r) => ({ workers: result.workers, cells: [
      String(r.rate),
      `${r.posted} (${r.accepted})`,
      String(r.started),
      fixed(r.setupsPerSecond, 0),
      `${r.sippSuccessful} / ${r.sippFailed}`,
      quantileText(r.postToStartMs),
      quantileText(r.okToFirstFrameMs),
      pair(r.okToStartMs.p50, r.okToStartMs.p99, 1),
      pair(r.startToFrameMs.p50, r.startToFrameMs.p99, 1),
      String(r.peakCalls),
      `${fixed(r.bridgeCpuPercent, 0)} / ${fixed(r.benchCpuPercent, 0)} / ${fixed(r.sippCpuPercent, 0)} / ${fixed(r.machineCpuPercent, 0)}`,
      r.sustained ? 'yes' : 'no',
    ] }))),
  );
}

function problems(run: BenchRun): string[] {
  // Counted per place, the rounds of a repeated load step together.
  const places = new Map<string, Map<string, number>>();
  const add = (where: string, counts: Map<string, number>) => {
    const place = places.get(where) ?? new Map<string, number>();
    for (const [message, count] of counts) place.set(message, (place.get(message) ?? 0) + count);
    places.set(where, place);
  };
  const rounds = run.options.repeat > 1 ? `, ${run.options.repeat} rounds` : '';
  for (const row of run.load) {
    const at = `N=${row.calls}${rounds}`;
    for (const { bridges, twilio, rtpengine } of row.rounds) {
      for (const r of bridges) add(`bridge${workersLabel(r.workers)}, ${at}`, r.problems);
      for (const r of twilio) add(`bridge${workersLabel(r.workers)} with twilio bots, ${at}`, r.problems);
      if (rtpengine) add(`rtpengine reference, ${at}`, rtpengine.problems);
      for (const r of [...bridges, rtpengine]) if (r) add(`SIPp against ${r.target}${workersLabel(r.workers)}, ${at}`, r.sipp.errors);
    }
  }
  for (const { result } of run.ramp) {
    add(`bridge${workersLabel(result.workers)}, ramp`, result.problems);
    add(`SIPp in the ramp${workersLabel(result.workers)}`, result.sipp.errors);
  }
  for (const setupRate of run.setupRates) {
    add(`bridge${workersLabel(setupRate.workers)}, setup-rate run`, setupRate.problems);
    for (const r of setupRate.rates) add(`SIPp at ${r.rate} calls/s${workersLabel(setupRate.workers)}`, r.sipp.errors);
  }
  for (const outbound of run.outbounds) add(`bridge${workersLabel(outbound.workers)}, outbound run`, outbound.problems);
  return [...places].flatMap(([where, counts]) => [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([message, count]) => `- ${where}: ${count} × ${message}`));
}

/** Issue 7's targets, for one event loop: the in-process bridge (or the bridge's default, without --workers). */
function targets(run: BenchRun): string[] {
  const lines: string[] = [];
  const row = run.load.find((r) => r.calls === TARGET_CALLS);
  const oneLoop = row ? workersOf(row).filter((w) => w === undefined || w === 0) : [];
  if (row && oneLoop.length) {
    const workers = oneLoop[0];
    const figures = (figure: Parameters<typeof bridgeFigures>[2]) => bridgeFigures(row, workers, figure);
    const [start, end, cpu, loss, p99] = [figures((r) => r.callsUp.start), figures((r) => r.callsUp.end), figures((r) => r.cpuPercent), figures((r) => r.rtp.lossPercent), figures((r) => r.rtp.jitterMs.p99)];
    const allUp = median(start) === TARGET_CALLS && median(end) === TARGET_CALLS;
    const met = allUp && (median(cpu) ?? NaN) <= TARGET_CPU_PERCENT && median(loss) === 0 && (median(p99) ?? NaN) <= TARGET_JITTER_P99_MS;
    lines.push(
      `- ${TARGET_CALLS} concurrent calls on one core (CPU ≤ ${TARGET_CPU_PERCENT} %), zero loss, p99 jitter ≤ ${TARGET_JITTER_P99_MS} ms${workersLabel(workers)}: ` +
        `**${met ? 'met' : 'not met'}** (${medianOf(run.options.repeat)}${allUp ? '' : `calls up ${figureText(start, 0)} / ${figureText(end, 0)}, `}` +
        `CPU ${figureText(cpu, 1, ' %')}, loss ${figureText(loss, 3, ' %')}, p99 jitter ${figureText(p99, 2, ' ms')})`,
    );
  } else if (run.options.steps.has('load') && (!run.options.workers || run.options.workers.includes(0))) {
    const why = run.options.calls.includes(TARGET_CALLS) ? `stepping stopped at N=${run.load.at(-1)?.calls}` : `N=${TARGET_CALLS} is not among this run's steps`;
    lines.push(`- ${TARGET_CALLS} concurrent calls on one core: **not measured** (${why})`);
  }
  for (const { workers, maxSustained } of run.setupRates) {
    lines.push(`- ≥ ${TARGET_SETUP_RATE} call setups/s${workersLabel(workers)}: **${maxSustained >= TARGET_SETUP_RATE ? 'met' : 'not met'}** (highest sustained rate ${maxSustained}/s)`);
  }
  for (const { workers, maxSustained, rates } of run.outbounds) {
    lines.push(`- ≥ ${TARGET_OUTBOUND_RATE} outbound setups/s${workersLabel(workers)}: **${maxSustained >= TARGET_OUTBOUND_RATE ? 'met' : 'not met'}** (highest sustained rate ${maxSustained}/s)`);
    const at = rates.find((r) => r.rate === TARGET_FIRST_FRAME_RATE);
    if (at) {
      const { p99 } = at.okToFirstFrameMs;
      lines.push(`- first bot frame ≤ ${TARGET_FIRST_FRAME_MS} ms after the trunk's 200 at ${TARGET_FIRST_FRAME_RATE} setups/s${workersLabel(workers)}: **${p99 <= TARGET_FIRST_FRAME_MS ? 'met' : 'not met'}** (p50 ${fixed(at.okToFirstFrameMs.p50, 1)} ms, p99 ${fixed(p99, 1)} ms)`);
    }
  }
  return lines;
}

export function resultsMarkdown(run: BenchRun): string {
  const { machine, options } = run;
  const parts = [
    `Run of ${run.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC on ${machine.cores} cores (${machine.cpuModel}), ` +
      `Node ${machine.node}, Linux ${machine.kernel}. Options: calls ${options.calls.join(', ')}, ${options.durationSeconds} s measured per step, ` +
      `ramp ${options.rampRate} calls/s, caller RTP by SIPp ${options.callerRtp === 'pcap' ? 'play_pcap_audio' : 'rtp_stream'}` +
      (options.workers ? `, media.workers ${options.workers.join(', ')}` : ', media.workers as the bridge defaults it') +
      (options.steps.has('setup-rate') ? `, setup rates ${options.rates.join(', ')}/s for ${options.secondsPerRate} s each` : '') +
      (options.repeat > 1 ? `, each load step ${options.repeat} times in turn: figures are medians with their range (min-max) over the rounds, targets judged on the medians` : '') +
      '.',
  ];
  if (run.load.length) parts.push('### Concurrent calls', loadTable(options, run.load));
  if (options.workers && run.load.some((row) => workersOf(row).length)) {
    parts.push('#### media.workers side by side', `Each cell: ${options.workers.map((w) => `workers ${w}`).join(' / ')}, on the same load.`, sideBySideTable(options.workers, run.load));
  }
  if (run.load.some((row) => row.rounds.some((round) => round.twilio.length))) {
    parts.push('#### Twilio Media Streams bots beside AgentStream ones', 'The same load with the bridge speaking `twilio` to its bots (`--protocol twilio`): mu-law frames of 20 ms, transcoded from the callers\' PCMA.', twilioTable(options, run.load));
  }
  if (run.load.some((row) => row.rounds.some((round) => round.bridges.length || round.rtpengine))) parts.push('#### Each step in detail', detailsTable(options, run.load));
  if (run.ramp.length) {
    parts.push('### Admission during a ramp', `${options.rampCalls} calls placed at ${options.rampRate} calls/s, each with media and held open until the last is up; 503s counted by SIPp.`, rampTable(options, run.ramp));
  }
  if (run.setupRates.length) {
    parts.push('### Call setup rate', setupTable(options, run.setupRates), ...run.setupRates.map((r) => `Highest sustained rate${workersLabel(r.workers)}: **${r.maxSustained} calls/s**.`));
  }
  if (run.outbounds.length) {
    parts.push(
      '### Outbound calls',
      `Setups offered through POST /v1/calls at ${options.outboundRates.join(', ')}/s for ${options.outboundSeconds} s each; SIPp as the trunk holds each call ${HOLD_MS / 1000} s, then sends BYE.`,
      outboundTable(options, run.outbounds),
      ...run.outbounds.map((r) => `Highest sustained outbound rate${workersLabel(r.workers)}: **${r.maxSustained} setups/s**.`),
    );
  }
  const checked = [...targets(run), ...issue17Targets(run)];
  parts.push('### Against the targets', checked.join('\n') || 'Nothing measured that a target applies to.');
  const issues = problems(run);
  parts.push('### Warnings, errors and failed calls', issues.length ? issues.join('\n') : 'None: no warning or error in the bridge log, no failed call.');
  if (run.notes.length) parts.push('### Notes', run.notes.map((note) => `- ${note}`).join('\n'));
  return parts.join('\n\n');
}

/** Puts `markdown` between the result markers of `file` (appended, with the markers, when they are missing). */
export function writeResults(file: string, markdown: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const start = text.indexOf(RESULTS_START);
  const end = text.indexOf(RESULTS_END);
  const block = `${RESULTS_START}\n${markdown}\n${RESULTS_END}`;
  const updated = start >= 0 && end > start ? text.slice(0, start) + block + text.slice(end + RESULTS_END.length) : `${text.trimEnd()}\n\n## Results\n\n${block}\n`;
  writeFileSync(file, updated);
}
