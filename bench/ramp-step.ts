// The ramp step: SIPp places calls with media at --ramp calls/s (100) until N are up, every one held open until the
// last is placed, and the bridge's admission answers some of them 503 when it judges itself full. Counts the 503s and
// the calls placed before the first one, to be held against the capacity the load steps measured.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBridge } from './bridge-process.js';
import { CALLER_MEDIA_BASE, HOST } from './ports.js';
import { cpuPercent, machinePercent, readCpu, readMachine } from './proc-stats.js';
import { sleep, within } from './processes.js';
import { removeScratchDir, scratchDir } from './scratch.js';
import { mediaCallScenario } from './sipp-scenarios.js';
import { startSipp, type SippOutcome } from './sipp.js';

/** Calls stay up this long after the last one is placed. */
const SETTLE_SECONDS = 3;
/** A 503 below this share of the capacity is one too early (issue 17's target). */
export const EARLY_REFUSAL_SHARE = 0.8;

export interface RampSettings {
  readonly calls: number;
  readonly rate: number;
  readonly toneFile: string;
  readonly botUrl: string;
  /** The bridge's `media.workers`; undefined: its default. */
  readonly workers?: number;
}

/** The busiest a media host got during the ramp, from /health `media` sampled every 250 ms. */
export interface HostPeak {
  readonly name: string;
  readonly legs: number;
  readonly busy: number;
  readonly clockLagMs: number;
}

export interface RampResult {
  readonly workers?: number;
  readonly calls: number;
  readonly rate: number;
  readonly refused: number;
  /** Calls placed before the first 503 (all of them held open, so the concurrency it came at); undefined: no 503. */
  readonly firstRefusalAfter?: number;
  /** Most calls up at once (sampled from /health). */
  readonly peakCalls: number;
  readonly sipp: SippOutcome;
  /** Over the ramp, % of one core; the machine's 200 % is both cores of two. */
  readonly bridgeCpuPercent: number;
  readonly machineCpuPercent: number;
  readonly hosts: readonly HostPeak[];
  /** The bridge's warnings and errors ("call refused" with its reason among them). */
  readonly problems: Map<string, number>;
}

export async function runRamp(settings: RampSettings): Promise<RampResult> {
  const { calls, rate, workers } = settings;
  const rampSeconds = Math.ceil(calls / rate);
  const holdSeconds = rampSeconds + SETTLE_SECONDS;
  const dir = scratchDir(`ramp-${workers ?? 'default'}-${calls}`);
  const bridge = await startBridge(dir, settings.botUrl, calls + 100, workers === undefined ? {} : { workers });
  let stopSipp: (() => Promise<void>) | undefined;
  try {
    return await within((rampSeconds + holdSeconds + 90) * 1000, `ramp to ${calls} calls`, (async () => {
      await sleep(1000);
      const logFile = join(dir, 'refused.log');
      const cpuBefore = readCpu(bridge.pid);
      const machineBefore = readMachine();
      const sipp = await startSipp({
        scenarioXml: mediaCallScenario('stream', settings.toneFile, true),
        target: { host: HOST, port: bridge.sipPort },
        calls,
        concurrent: calls,
        rate,
        pauseMs: holdSeconds * 1000,
        mediaPort: CALLER_MEDIA_BASE,
        dir,
        timeoutMs: (rampSeconds + holdSeconds + 40) * 1000,
        logFile,
      });
      stopSipp = () => sipp.process.stop('SIGKILL');
      const sippDone = sipp.done.catch((err: Error) => err);

      let peakCalls = 0;
      const hosts = new Map<string, HostPeak>();
      const rampEnd = Date.now() + (rampSeconds + 1) * 1000;
      while (Date.now() < rampEnd && sipp.process.child.exitCode === null) {
        const health = await bridge.health().catch(() => undefined);
        peakCalls = Math.max(peakCalls, health?.activeCalls ?? 0);
        for (const host of health?.media ?? []) {
          const seen = hosts.get(host.name);
          hosts.set(host.name, {
            name: host.name,
            legs: Math.max(seen?.legs ?? 0, host.legs),
            busy: Math.max(seen?.busy ?? 0, host.busy),
            clockLagMs: Math.max(seen?.clockLagMs ?? 0, host.clockLagMs),
          });
        }
        await sleep(250);
      }
      const bridgeCpuPercent = cpuPercent(cpuBefore, readCpu(bridge.pid));
      const machineCpuPercent = machinePercent(machineBefore, readMachine());
      const outcome = await sippDone;
      if (outcome instanceof Error) throw outcome;
      const refusedCalls = readRefused(logFile);
      return {
        ...(workers !== undefined && { workers }),
        calls,
        rate,
        refused: refusedCalls.length,
        ...(refusedCalls.length && { firstRefusalAfter: refusedCalls[0]! - 1 }),
        peakCalls,
        sipp: outcome,
        bridgeCpuPercent,
        machineCpuPercent,
        hosts: [...hosts.values()],
        problems: bridge.logSummary(),
      };
    })());
  } finally {
    await stopSipp?.();
    await bridge.stop().catch(() => {});
    removeScratchDir(dir);
  }
}

/** The call numbers SIPp logged as `refused N`, in order (SIPp numbers its calls from 1 as it places them). */
function readRefused(logFile: string): number[] {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/refused (\d+)/g)].map((match) => Number(match[1])).sort((a, b) => a - b);
}

/** Whether the first 503 came below EARLY_REFUSAL_SHARE of `capacity`; undefined when the capacity is not known. */
export function refusedEarly(result: RampResult, capacity: number | undefined): boolean | undefined {
  if (capacity === undefined) return undefined;
  return result.firstRefusalAfter !== undefined && result.firstRefusalAfter < EARLY_REFUSAL_SHARE * capacity;
}
