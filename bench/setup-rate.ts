// Call setup rate: one bridge, SIPp placing short calls without media (INVITE, 200, ACK, BYE) at one rate after
// another; a rate is sustained when under 1% of its calls fail and SIPp really placed them that fast. Stepping
// stops at the first rate that is not sustained.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBridge } from './bridge-process.js';
import { CALLER_MEDIA_BASE, HOST } from './ports.js';
import { cpuPercent, readCpu } from './proc-stats.js';
import { sleep, within } from './processes.js';
import { removeScratchDir, scratchDir } from './scratch.js';
import { shortCallScenario } from './sipp-scenarios.js';
import { startSipp, type RunningSipp, type SippOutcome } from './sipp.js';

export const MAX_FAILED_PERCENT = 1;
/** SIPp must have created the calls at 90% of the rate asked for, or the rate was not really offered. */
const MIN_ACHIEVED_SHARE = 0.9;

export interface RateResult {
  readonly rate: number;
  readonly sipp: SippOutcome;
  readonly failedPercent: number;
  readonly bridgeCpuPercent: number;
  readonly sustained: boolean;
}

export interface SetupRateResult {
  /** The bridge's `media.workers` (undefined: its default). */
  readonly workers?: number;
  readonly rates: RateResult[];
  /** The highest sustained rate; 0 when none was. */
  readonly maxSustained: number;
  readonly problems: Map<string, number>;
}

export async function runSetupRate(rates: readonly number[], secondsPerRate: number, botUrl: string, workers?: number): Promise<SetupRateResult> {
  const dir = scratchDir('setup');
  const maxRate = Math.max(...rates);
  const bridge = await startBridge(dir, botUrl, maxRate * 20, workers === undefined ? {} : { workers });
  const results: RateResult[] = [];
  let sipp: RunningSipp | undefined;
  try {
    return await within(rates.length * (secondsPerRate + 60) * 1000, 'setup-rate run', (async () => {
      for (const rate of rates) {
        const calls = Math.round(rate * secondsPerRate);
        // SIPp's statistics and error files, apart for each rate.
        const rateDir = join(dir, `rate-${rate}`);
        mkdirSync(rateDir, { recursive: true });
        const before = readCpu(bridge.pid);
        sipp = await startSipp({
          scenarioXml: shortCallScenario(),
          target: { host: HOST, port: bridge.sipPort },
          calls,
          concurrent: rate * 10,
          rate,
          mediaPort: CALLER_MEDIA_BASE,
          dir: rateDir,
          timeoutMs: (secondsPerRate + 30) * 1000,
        });
        const outcome = await sipp.done;
        const failedPercent = (100 * (calls - outcome.successful)) / calls;
        const sustained = failedPercent < MAX_FAILED_PERCENT && outcome.creationRate >= MIN_ACHIEVED_SHARE * rate;
        results.push({ rate, sipp: outcome, failedPercent, bridgeCpuPercent: cpuPercent(before, readCpu(bridge.pid)), sustained });
        if (!sustained) break;
        await waitForIdle(() => bridge.activeCalls(), 15_000);
      }
      const passed = results.filter((r) => r.sustained).map((r) => r.rate);
      return { ...(workers !== undefined && { workers }), rates: results, maxSustained: passed.length ? Math.max(...passed) : 0, problems: bridge.logSummary() };
    })());
  } finally {
    await sipp?.process.stop('SIGKILL');
    await bridge.stop().catch(() => {});
    removeScratchDir(dir);
  }
}

async function waitForIdle(activeCalls: () => Promise<number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await activeCalls()) > 0 && Date.now() < deadline) await sleep(200);
}
