// npm run bench: loads the built bridge (dist/) with SIPp on loopback, step by step, beside rtpengine as the
// reference; prints the results and writes them into docs/benchmarks.md. See that file for the method.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startEchoBot } from './echo-bot.js';
import { runFloorStep, type FloorResult } from './floor-step.js';
import { runLoadStep, type LoadResult, type LoadSettings, type LoadTarget } from './load-step.js';
import { readOptions, USAGE, type BenchOptions } from './options.js';
import { killAll, stillRunning } from './processes.js';
import { describeMachine } from './proc-stats.js';
import { resultsMarkdown, writeResults, type BenchRun, type LoadRow } from './report.js';
import { runOutbound } from './outbound-step.js';
import { runSetupRate } from './setup-rate.js';

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

function progress(result: LoadResult): void {
  const { rtp } = result;
  process.stderr.write(
    `  ${result.target}${result.protocol === 'twilio' ? ' (twilio bots)' : ''} N=${result.calls}: CPU ${result.cpuPercent.toFixed(1)} %, loss ${rtp.lossPercent.toFixed(3)} %, ` +
      `jitter p50/p99 ${rtp.jitterMs.p50.toFixed(2)}/${rtp.jitterMs.p99.toFixed(2)} ms, failed calls ${result.sipp.failed}\n`,
  );
}

async function loadSteps(options: BenchOptions, settingsFor: (calls: number) => LoadSettings, notes: string[]): Promise<LoadRow[]> {
  const targets = (['bridge', 'rtpengine'] as const).filter((t) => options.steps.has(t === 'bridge' ? 'load' : 'rtpengine'));
  const rows: LoadRow[] = [];
  for (const calls of options.calls) {
    const results: Partial<Record<LoadTarget, LoadResult>> = {};
    let failed = false;
    for (const target of targets) {
      process.stderr.write(`${target}: ${calls} concurrent calls\n`);
      try {
        results[target] = await runLoadStep(target, settingsFor(calls));
        progress(results[target]);
      } catch (err) {
        notes.push(`the ${target} step with ${calls} calls failed: ${(err as Error).message}`);
        process.stderr.write(`  failed: ${(err as Error).message}\n`);
        failed = true;
      }
    }
    let twilio: LoadResult | undefined;
    if (options.protocol === 'twilio' && targets.includes('bridge') && !failed) {
      process.stderr.write(`bridge with twilio bots: ${calls} concurrent calls\n`);
      try {
        twilio = await runLoadStep('bridge', { ...settingsFor(calls), protocol: 'twilio' });
        progress(twilio);
      } catch (err) {
        notes.push(`the twilio-bots step with ${calls} calls failed: ${(err as Error).message}`);
        process.stderr.write(`  failed: ${(err as Error).message}\n`);
      }
    }
    let floor: FloorResult | undefined;
    if (options.steps.has('floor')) {
      process.stderr.write(`floor: ${calls} calls\n`);
      try {
        floor = await runFloorStep(calls, options.durationSeconds, settingsFor(calls).botUrl);
        process.stderr.write(`  floor N=${calls}: CPU ${floor.cpuPercent.toFixed(1)} %\n`);
      } catch (err) {
        notes.push(`the floor step with ${calls} calls failed: ${(err as Error).message}`);
      }
    }
    rows.push({ calls, ...results, ...(twilio && { twilio }), ...(floor && { floor }) });
    const stepped = results.bridge ?? results.rtpengine;
    if (failed) break;
    // NaN, nothing captured, stops the stepping too.
    if (stepped && stepped.rtp.lossPercent !== 0) {
      notes.push(`stepping stopped at N=${calls}: the callers lost ${stepped.rtp.lossPercent.toFixed(3)} % of the ${stepped.target}'s frames`);
      break;
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
  });
  const load = (['load', 'rtpengine', 'floor'] as const).some((step) => options.steps.has(step)) ? await loadSteps(options, settingsFor, notes) : [];
  let setupRate;
  if (options.steps.has('setup-rate')) {
    process.stderr.write(`setup rate: ${options.rates.join(', ')} calls/s\n`);
    try {
      setupRate = await runSetupRate(options.rates, options.secondsPerRate, bot.url);
    } catch (err) {
      notes.push(`the setup-rate run failed: ${(err as Error).message}`);
    }
  }
  await bot.close();
  let outbound;
  if (options.steps.has('outbound')) {
    process.stderr.write(`outbound: ${options.outboundRates.join(', ')} setups/s through POST /v1/calls\n`);
    try {
      outbound = await runOutbound(options.outboundRates, options.outboundSeconds);
    } catch (err) {
      notes.push(`the outbound run failed: ${(err as Error).message}`);
    }
  }

  const run: BenchRun = { startedAt, machine: describeMachine(), options, load, ...(setupRate && { setupRate }), ...(outbound && { outbound }), notes };
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
