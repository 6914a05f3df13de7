// npm run bench: loads the built bridge (dist/) with SIPp on loopback, step by step, beside rtpengine as the
// reference; prints the results and writes them into docs/benchmarks.md. See that file for the method.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startEchoBot } from './echo-bot.js';
import { runFloorStep, type FloorResult } from './floor-step.js';
import { bridgeFigures, bridgeLoss, median, perRound, type LoadRound, type LoadRow } from './load-rounds.js';
import { runLoadStep, type LoadResult, type LoadSettings, type LoadTarget } from './load-step.js';
import { readOptions, USAGE, type BenchOptions } from './options.js';
import { workersLabel } from './markdown.js';
import { BRIDGE_RTP, CALLER_MEDIA_BASE, HOST, udpPortFree } from './ports.js';
import { killAll, stillRunning } from './processes.js';
import { describeMachine } from './proc-stats.js';
import { refusedEarly, runRamp } from './ramp-step.js';
import { resultsMarkdown, writeResults, type BenchRun, type RampRow } from './report.js';
import { runOutbound, type OutboundResult } from './outbound-step.js';
import { runSetupRate, type SetupRateResult } from './setup-rate.js';

const TONE_FILE = fileURLToPath(new URL('../../test/sipp/tone-1khz.pcma', import.meta.url));
const DOCS_FILE = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));

function requireTools(options: BenchOptions): void {
  const missing: string[] = [];
  const has = (command: string) => {
    try {
      execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('sipp')) missing.push('sipp (apt-get install sip-tester)');
  if (options.steps.has('load') || options.steps.has('rtpengine') || options.steps.has('floor')) {
    if (!has('dumpcap')) missing.push('dumpcap (apt-get install wireshark-common)');
    if (process.getuid?.() !== 0) missing.push('root: play_pcap_audio sends through a raw socket and dumpcap captures on lo');
  }
  if (options.steps.has('rtpengine') && !has('rtpengine')) missing.push('rtpengine (apt-get install rtpengine-daemon)');
  if (missing.length) throw new Error(`the bench needs:\n  ${missing.join('\n  ')}`);
}

/** The callers' and the bridge's media ports are fixed: two benches at once would take each other's. */
async function requireFreePorts(options: BenchOptions): Promise<void> {
  if (!(['load', 'floor', 'ramp'] as const).some((step) => options.steps.has(step))) return;
  const taken = [];
  for (const port of [CALLER_MEDIA_BASE, CALLER_MEDIA_BASE + 2, BRIDGE_RTP.min]) if (!(await udpPortFree(port))) taken.push(port);
  if (taken.length) throw new Error(`UDP ${taken.length > 1 ? 'ports' : 'port'} ${taken.join(', ')} on ${HOST} taken: is another bench running? (ss -uapn | grep ':${taken[0]} ')`);
}

function progress(result: LoadResult, round: string): void {
  const { rtp } = result;
  process.stderr.write(
    `  ${result.target}${workersLabel(result.workers)}${result.protocol === 'twilio' ? ' (twilio bots)' : ''} N=${result.calls}${round}: CPU ${result.cpuPercent.toFixed(1)} %, loss ${rtp.lossPercent.toFixed(3)} %, ` +
      `jitter p50/p99 ${rtp.jitterMs.p50.toFixed(2)}/${rtp.jitterMs.p99.toFixed(2)} ms, failed calls ${result.sipp.failed}\n`,
  );
}

/** Runs one load step; a failure becomes a note and undefined. `round` is empty, or names the --repeat round. */
async function tryLoadStep(what: string, target: LoadTarget, settings: LoadSettings, round: string, notes: string[]): Promise<LoadResult | undefined> {
  process.stderr.write(`${what}: ${settings.calls} concurrent calls${round}\n`);
  try {
    const result = await runLoadStep(target, settings);
    progress(result, round);
    return result;
  } catch (err) {
    notes.push(`the ${what} step with ${settings.calls} calls${round} failed: ${(err as Error).message}`);
    process.stderr.write(`  failed: ${(err as Error).message}\n`);
    return undefined;
  }
}

/** What one round of an N runs: the bridge per workers value still stepping, rtpengine unless it failed, the floor. */
interface RoundPlan {
  readonly calls: number;
  readonly stepping: ReadonlyArray<number | undefined>;
  readonly withRtpengine: boolean;
  /** Empty, or ` (round i of n)` with --repeat. */
  readonly label: string;
}

async function loadRound(options: BenchOptions, settingsFor: (calls: number) => LoadSettings, plan: RoundPlan, notes: string[]): Promise<LoadRound> {
  const { calls, label } = plan;
  const bridges: LoadResult[] = [];
  const twilio: LoadResult[] = [];
  for (const workers of plan.stepping) {
    const settings = { ...settingsFor(calls), ...(workers !== undefined && { workers }) };
    const result = await tryLoadStep(`bridge${workersLabel(workers)}`, 'bridge', settings, label, notes);
    if (!result) continue;
    bridges.push(result);
    if (options.protocol === 'twilio') {
      const withTwilio = await tryLoadStep(`bridge${workersLabel(workers)} with twilio bots`, 'bridge', { ...settings, protocol: 'twilio' }, label, notes);
      if (withTwilio) twilio.push(withTwilio);
    }
  }
  const rtpengine = plan.withRtpengine ? await tryLoadStep('rtpengine', 'rtpengine', settingsFor(calls), label, notes) : undefined;
  let floor: FloorResult | undefined;
  if (options.steps.has('floor')) {
    process.stderr.write(`floor: ${calls} calls${label}\n`);
    try {
      floor = await runFloorStep(calls, options.durationSeconds, settingsFor(calls).botUrl);
      process.stderr.write(`  floor N=${calls}${label}: CPU ${floor.cpuPercent.toFixed(1)} %\n`);
    } catch (err) {
      notes.push(`the floor step with ${calls} calls${label} failed: ${(err as Error).message}`);
    }
  }
  return { bridges, twilio, ...(rtpengine && { rtpengine }), ...(floor && { floor }) };
}

/**
 * Each N of --calls: the bridge once per media.workers value, rtpengine, the floor; with --repeat, all of them once,
 * then all again. A workers value whose steps lost frames (on the median of the rounds; or failed) is not run at the
 * larger N; stepping ends when none is left (or, without the load step, when rtpengine loses frames). rtpengine is
 * not run again once it failed. --keep-stepping runs every N all the same.
 */
async function loadSteps(options: BenchOptions, settingsFor: (calls: number) => LoadSettings, notes: string[]): Promise<LoadRow[]> {
  const rows: LoadRow[] = [];
  let stepping: Array<number | undefined> = options.steps.has('load') ? [...workerValues(options)] : [];
  let withRtpengine = options.steps.has('rtpengine');
  const overRounds = options.repeat > 1 ? ` (median of ${options.repeat} rounds)` : '';
  for (const calls of options.calls) {
    const rounds: LoadRound[] = [];
    for (let round = 1; round <= options.repeat; round++) {
      const label = options.repeat > 1 ? ` (round ${round} of ${options.repeat})` : '';
      const done = await loadRound(options, settingsFor, { calls, stepping, withRtpengine, label }, notes);
      if (withRtpengine && !done.rtpengine) withRtpengine = false;
      rounds.push(done);
    }
    const row: LoadRow = { calls, rounds };
    rows.push(row);

    // NaN, nothing captured, counts as loss too; undefined: every round of it failed.
    const lost = (loss: number | undefined): loss is number => loss !== undefined && loss !== 0;
    for (const workers of stepping) {
      const loss = bridgeLoss(row, workers);
      if (lost(loss) && !options.keepStepping) notes.push(`the bridge${workersLabel(workers)} stopped at N=${calls}: the callers lost ${loss.toFixed(3)} % of its frames${overRounds}`);
    }
    if (!options.keepStepping) stepping = stepping.filter((workers) => bridgeLoss(row, workers) === 0);
    if (options.steps.has('load') && stepping.length === 0) break;
    if (!options.keepStepping && !options.steps.has('load') && options.steps.has('rtpengine')) {
      const loss = median(perRound(row, (round) => round.rtpengine?.rtp.lossPercent));
      if (loss === undefined) break;
      if (lost(loss)) {
        notes.push(`stepping stopped at N=${calls}: the callers lost ${loss.toFixed(3)} % of rtpengine's frames${overRounds}`);
        break;
      }
    }
  }
  return rows;
}

/** The media.workers values to run, undefined standing for the bridge's default. */
function workerValues(options: BenchOptions): ReadonlyArray<number | undefined> {
  return options.workers ?? [undefined];
}

/** The ramp once per workers value, each against --capacity or the highest N its load steps carried without loss. */
async function rampSteps(options: BenchOptions, load: LoadRow[], toneFile: string, botUrl: string, notes: string[]): Promise<RampRow[]> {
  const rows: RampRow[] = [];
  for (const workers of workerValues(options)) {
    process.stderr.write(`ramp${workersLabel(workers)}: ${options.rampCalls} calls at ${options.rampRate} calls/s\n`);
    // On the medians of each N's rounds.
    const measured = load
      .filter((row) => bridgeLoss(row, workers) === 0 && (median(bridgeFigures(row, workers, (r) => r.callsUp.start)) ?? 0) >= row.calls)
      .map((row) => row.calls);
    // No step of this value lost frames: its capacity is at least the largest N, maybe more.
    const lowerBound = !load.some((row) => {
      const loss = bridgeLoss(row, workers);
      return loss !== undefined && loss !== 0;
    });
    const capacity: RampRow['capacity'] =
      options.capacity !== undefined ? { calls: options.capacity, source: 'given' } : measured.length ? { calls: Math.max(...measured), source: lowerBound ? 'at least' : 'measured' } : undefined;
    try {
      const result = await runRamp({ calls: options.rampCalls, rate: options.rampRate, toneFile, botUrl, ...(workers !== undefined && { workers }) });
      const early = refusedEarly(result, capacity?.calls);
      process.stderr.write(`  ${result.refused} refused${result.firstRefusalAfter === undefined ? '' : `, the first after ${result.firstRefusalAfter} calls`}; 503 below 80 % of capacity: ${early === undefined ? 'capacity unknown' : early ? 'yes' : 'no'}\n`);
      rows.push({ result, ...(capacity && { capacity }) });
    } catch (err) {
      notes.push(`the ramp${workersLabel(workers)} failed: ${(err as Error).message}`);
      process.stderr.write(`  failed: ${(err as Error).message}\n`);
    }
  }
  return rows;
}

async function main(): Promise<void> {
  let options: BenchOptions | 'help';
  try {
    options = readOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  requireTools(options);
  await requireFreePorts(options);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping everything the bench started\n`);
      killAll();
      process.exit(130);
    });
  }

  const startedAt = new Date();
  const bot = await startEchoBot();
  const notes: string[] = [];
  const toneFrame = readFileSync(TONE_FILE);
  const settingsFor = (calls: number): LoadSettings => ({
    calls,
    durationSeconds: options.durationSeconds,
    rampRate: options.rampRate,
    callerRtp: options.callerRtp,
    toneFrame,
    toneFile: TONE_FILE,
    botUrl: bot.url,
    protocol: 'exotel',
    ...(options.chunkMs !== undefined && { chunkMs: options.chunkMs }),
  });
  const load = (['load', 'rtpengine', 'floor'] as const).some((step) => options.steps.has(step)) ? await loadSteps(options, settingsFor, notes) : [];
  const ramp = options.steps.has('ramp') ? await rampSteps(options, load, TONE_FILE, bot.url, notes) : [];
  const setupRates: SetupRateResult[] = [];
  if (options.steps.has('setup-rate')) {
    for (const workers of workerValues(options)) {
      process.stderr.write(`setup rate${workersLabel(workers)}: ${options.rates.join(', ')} calls/s\n`);
      try {
        setupRates.push(await runSetupRate(options.rates, options.secondsPerRate, bot.url, workers));
      } catch (err) {
        notes.push(`the setup-rate run${workersLabel(workers)} failed: ${(err as Error).message}`);
      }
    }
  }
  await bot.close();
  const outbounds: OutboundResult[] = [];
  if (options.steps.has('outbound')) {
    for (const workers of workerValues(options)) {
      process.stderr.write(`outbound${workersLabel(workers)}: ${options.outboundRates.join(', ')} setups/s through POST /v1/calls\n`);
      try {
        outbounds.push(await runOutbound(options.outboundRates, options.outboundSeconds, workers));
      } catch (err) {
        notes.push(`the outbound run${workersLabel(workers)} failed: ${(err as Error).message}`);
      }
    }
  }

  const run: BenchRun = { startedAt, machine: describeMachine(), options, load, ramp, setupRates, outbounds, notes };
  const markdown = resultsMarkdown(run);
  process.stdout.write(`\n${markdown}\n`);
  if (options.writeDocs) {
    writeResults(DOCS_FILE, markdown);
    process.stderr.write(`\nresults written to ${DOCS_FILE}\n`);
  }
  const left = stillRunning();
  if (left.length) process.stderr.write(`still running, killed now: ${left.map((p) => `${p.name} (${p.pid})`).join(', ')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
