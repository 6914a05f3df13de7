// One load step: N calls from SIPp, all up together, against the bridge or against the rtpengine reference. The
// calls ramp up, settle, then a window of the configured length is measured: CPU and memory of the process under
// test, the RTP the callers get (captured), the bridge's latency histogram, kernel UDP drops. The calls hang up
// after the window; everything the step started is stopped, whatever happens.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostLoad } from '../src/stream/types.js';
import { startBridge } from './bridge-process.js';
import { analyseStreams, startCapture, type StreamReport } from './capture.js';
import { LATENCY_PATHS, readLatencyBuckets, windowQuantiles, type LatencyPath, type LatencyQuantiles } from './latency-metrics.js';
import { writeTonePcap } from './pcap-file.js';
import { BRIDGE_RTP, CALLER_MEDIA_BASE, HOST, RTPENGINE_PORTS } from './ports.js';
import { cpuPercent, machinePercent, readCpu, readMachine, readThreads, readUdpCounters, rssBytes, socketDrops, threadPercents, watchRss, type CpuReading } from './proc-stats.js';
import { sleep, start, within, type Started } from './processes.js';
import { removeScratchDir, scratchDir } from './scratch.js';
import { startRelayUas } from './relay-uas.js';
import { startRtpengine } from './rtpengine-daemon.js';
import { mediaCallScenario, type CallerRtp } from './sipp-scenarios.js';
import { startSipp, type SippOutcome } from './sipp.js';

const UDP_ECHO = fileURLToPath(new URL('./udp-echo.js', import.meta.url));
const SETTLE_SECONDS = 3;
/** Calls stay up this long after the window, so that every one is still up when the window is read. */
const TAIL_SECONDS = 8;

export type LoadTarget = 'bridge' | 'rtpengine';

export interface LoadSettings {
  readonly calls: number;
  /** Seconds measured while all calls are up. */
  readonly durationSeconds: number;
  /** New calls per second while ramping up. */
  readonly rampRate: number;
  readonly callerRtp: CallerRtp;
  /** 160 bytes of PCMA: one 20 ms frame of the caller's tone. */
  readonly toneFrame: Buffer;
  /** The raw PCMA file rtp_stream loops (callerRtp 'stream'). */
  readonly toneFile: string;
  readonly botUrl: string;
  /** What the bridge speaks to the echo bot. */
  readonly protocol: 'exotel' | 'twilio';
  /** The bridge's `media.workers`; undefined: its default (the key is not written). */
  readonly workers?: number;
  /** The bridge's `bot.chunkMs`; undefined: its default. */
  readonly chunkMs?: number;
}

export interface LoadResult {
  readonly target: LoadTarget;
  /** The bridge's bot protocol in this step. */
  readonly protocol: 'exotel' | 'twilio';
  /** The bridge's `media.workers` in this step (undefined: its default). */
  readonly workers?: number;
  readonly calls: number;
  /** Calls up when the window started and when it ended. */
  readonly callsUp: { readonly start: number; readonly end: number };
  /** CPU of the process under test (the bridge, or rtpengine), % of one core. */
  readonly cpuPercent: number;
  readonly rss?: { readonly idleBytes: number; readonly loadedBytes: number };
  readonly rtp: StreamReport;
  readonly captureDropped: number;
  /** Only for the bridge; undefined per path when it does not export bridge_latency_seconds. */
  readonly latency: Partial<Record<LatencyPath, LatencyQuantiles>>;
  /** Datagrams the kernel dropped at the tested process's sockets, and system-wide. */
  readonly kernelDrops: { readonly ownSockets: number; readonly inErrors: number; readonly rcvbufErrors: number };
  /** CPU of the rest of the machine's load, % of one core. */
  readonly otherCpu: { readonly sipp: number; readonly helper: number; readonly dumpcap: number; readonly machine: number };
  readonly sipp: SippOutcome;
  /** Problems the tested side reported: the bridge's warnings and errors, the reference's refused calls. */
  readonly problems: Map<string, number>;
  /** The tested process's CPU in the window by thread name, % of one core, busiest first. */
  readonly threads: Array<[name: string, percent: number]>;
  /** The bridge's media hosts (/health `media`) at the window's end, when it reports them. */
  readonly hosts?: readonly HostLoad[];
}

/** Calls taken: an overloaded bridge turns calls away, and per call then means per call it took. */
export const callsTaken = (r: LoadResult) => Math.min(r.callsUp.start, r.calls) || r.calls;

interface Tested {
  readonly pid: number;
  readonly sipPort: number;
  readonly mediaPorts: { readonly min: number; readonly max: number };
  /** The process that carries the bot or the echo, whose CPU is shown apart. */
  readonly helperPid: number;
  activeCalls(): Promise<number>;
  /** Per media host, for a bridge that reports them. */
  hosts(): Promise<readonly HostLoad[] | undefined>;
  latencyBuckets(): Promise<ReturnType<typeof readLatencyBuckets>>;
  problems(): Map<string, number>;
  stop(): Promise<void>;
}

export async function runLoadStep(target: LoadTarget, settings: LoadSettings): Promise<LoadResult> {
  const { calls, durationSeconds, rampRate } = settings;
  const rampSeconds = Math.ceil(calls / rampRate) + 2;
  const holdSeconds = rampSeconds + SETTLE_SECONDS + durationSeconds + TAIL_SECONDS;
  const dir = scratchDir(`${target}-${settings.protocol}-${settings.workers ?? 'default'}-${calls}`);
  const stopping: Array<() => Promise<void>> = [];
  try {
    return await within((holdSeconds + rampSeconds + 90) * 1000, `${target} load step with ${calls} calls`, (async () => {
      const tested = target === 'bridge' ? await testBridge(dir, settings) : await testRtpengine(stopping);
      stopping.push(() => tested.stop());
      const idleBytes = rssBytes(tested.pid);

      const media = settings.callerRtp === 'pcap' ? join(dir, 'tone.pcap') : settings.toneFile;
      if (settings.callerRtp === 'pcap') writeTonePcap(media, holdSeconds + 5, settings.toneFrame);
      const sipp = await startSipp({
        scenarioXml: mediaCallScenario(settings.callerRtp, media),
        target: { host: HOST, port: tested.sipPort },
        calls,
        concurrent: calls,
        rate: rampRate,
        pauseMs: holdSeconds * 1000,
        mediaPort: CALLER_MEDIA_BASE,
        dir,
        timeoutMs: (holdSeconds + rampSeconds + 30) * 1000,
      });
      stopping.push(() => sipp.process.stop('SIGKILL'));
      const sippDone = sipp.done.catch((err: Error) => err);

      const rampDeadline = Date.now() + rampSeconds * 1000;
      while ((await tested.activeCalls()) < calls && Date.now() < rampDeadline && sipp.process.child.exitCode === null) await sleep(250);
      await sleep(SETTLE_SECONDS * 1000);
      if (sipp.process.child.exitCode !== null) throw new Error(`SIPp ended before the window: ${describeEnd(await sippDone)}`);

      const callerPorts = settings.callerRtp === 'pcap' ? `dst portrange ${CALLER_MEDIA_BASE + 4}-${CALLER_MEDIA_BASE + 4 * calls}` : `dst port ${CALLER_MEDIA_BASE}`;
      const captureFile = join(dir, 'callers.pcap');
      const capture = await startCapture(captureFile, `udp and src portrange ${tested.mediaPorts.min}-${tested.mediaPorts.max} and ${callerPorts}`, durationSeconds + 30);
      stopping.push(async () => void (await capture.stop()));
      const pids = { tested: tested.pid, sipp: sipp.process.pid, helper: tested.helperPid, dumpcap: capture.pid };
      const threadsBefore = readThreads(tested.pid);
      const before = await snapshot(tested, pids);
      const rss = watchRss(tested.pid);
      await sleep(durationSeconds * 1000);
      const after = await snapshot(tested, pids);
      const threads = threadPercents(threadsBefore, readThreads(tested.pid));
      const loadedBytes = rss.stop();
      const hosts = await tested.hosts().catch(() => undefined);
      const captured = await capture.stop();

      const outcome = await sippDone;
      if (outcome instanceof Error) throw outcome;
      const rtp = analyseStreams(captureFile);
      const percent = (name: keyof typeof pids) => cpuPercent(before.cpu[name], after.cpu[name]);
      const latency: Partial<Record<LatencyPath, LatencyQuantiles>> = {};
      for (const path of LATENCY_PATHS) {
        const quantiles = windowQuantiles(before.latency, after.latency, path);
        if (quantiles) latency[path] = quantiles;
      }
      return {
        target,
        protocol: settings.protocol,
        ...(target === 'bridge' && settings.workers !== undefined && { workers: settings.workers }),
        calls,
        callsUp: { start: before.callsUp, end: after.callsUp },
        cpuPercent: percent('tested'),
        ...(target === 'bridge' && { rss: { idleBytes, loadedBytes } }),
        rtp,
        captureDropped: captured.dropped,
        latency,
        kernelDrops: {
          ownSockets: after.ownDrops - before.ownDrops,
          inErrors: after.udp.inErrors - before.udp.inErrors,
          rcvbufErrors: after.udp.rcvbufErrors - before.udp.rcvbufErrors,
        },
        otherCpu: { sipp: percent('sipp'), helper: percent('helper'), dumpcap: percent('dumpcap'), machine: machinePercent(before.machine, after.machine) },
        sipp: outcome,
        problems: tested.problems(),
        threads,
        ...(hosts && { hosts }),
      };
    })());
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => {});
    removeScratchDir(dir);
  }
}

function describeEnd(outcome: SippOutcome | Error): string {
  if (outcome instanceof Error) return outcome.message;
  const [firstError] = [...outcome.errors.keys()];
  return `${outcome.failed} of ${outcome.created} calls failed${firstError ? ` (${firstError})` : ''}`;
}

/** What is compared between the start and the end of the window. */
async function snapshot<T extends Record<string, number>>(tested: Tested, pids: T) {
  return {
    cpu: readAll(pids),
    machine: readMachine(),
    udp: readUdpCounters(),
    ownDrops: socketDrops(tested.pid),
    // An overloaded bridge answers HTTP late: /health first, the smaller of the two.
    callsUp: await tested.activeCalls(),
    latency: await tested.latencyBuckets(),
  };
}

function readAll<T extends Record<string, number>>(pids: T): Record<keyof T, CpuReading> {
  const read = (name: string, pid: number) => {
    try {
      return readCpu(pid);
    } catch {
      throw new Error(`${name} (pid ${pid}) exited during the measured window`);
    }
  };
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, read(name, pid)])) as Record<keyof T, CpuReading>;
}

async function testBridge(dir: string, settings: LoadSettings): Promise<Tested> {
  const { protocol, workers, chunkMs } = settings;
  const bridge = await startBridge(dir, settings.botUrl, settings.calls + 100, { protocol, ...(workers !== undefined && { workers }), ...(chunkMs !== undefined && { chunkMs }) });
  // Let start-up allocations settle before the idle RSS is read.
  await sleep(1000);
  return {
    pid: bridge.pid,
    sipPort: bridge.sipPort,
    mediaPorts: BRIDGE_RTP,
    helperPid: process.pid,
    activeCalls: () => bridge.activeCalls(),
    hosts: async () => (await bridge.health()).media,
    latencyBuckets: async () => readLatencyBuckets(await bridge.metrics()),
    problems: () => bridge.logSummary(),
    stop: () => bridge.stop(),
  };
}

/** rtpengine, the UDP echo behind it, and the UAS that connects them; each is stopped through `stopping` too. */
async function testRtpengine(stopping: Array<() => Promise<void>>): Promise<Tested> {
  const daemon = await startRtpengine();
  stopping.push(() => daemon.stop());
  const echo = start('udp-echo', process.execPath, [UDP_ECHO], { stdio: ['ignore', 'pipe', 'pipe'] });
  stopping.push(() => echo.stop('SIGKILL'));
  const echoPort = await within(5000, 'UDP echo start', firstLine(echo));
  const uas = await startRelayUas(daemon.ngPort, Number(echoPort));
  stopping.push(() => uas.stop());
  return {
    pid: daemon.pid,
    sipPort: uas.sipPort,
    mediaPorts: RTPENGINE_PORTS,
    helperPid: echo.pid,
    activeCalls: async () => uas.activeCalls,
    hosts: async () => undefined,
    latencyBuckets: async () => new Map(),
    problems: () => new Map(uas.failures.count ? [[`calls refused: ${uas.failures.lastReason}`, uas.failures.count]] : []),
    stop: async () => {},
  };
}

function firstLine(process: Started): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0]!.trim());
    });
    void process.exited.then(() => reject(new Error(`${process.name} exited: ${process.stderr()}`)));
  });
}
