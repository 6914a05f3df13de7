// The bridge under test, run as `npm start` runs it: node dist/main.js --config <a file written here>, on free
// loopback ports, its JSON log lines going to a file that is summarised at the end of the step.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { HostLoad } from '../src/stream/types.js';
import { BRIDGE_RTP, HOST, freeTcpPort, freeUdpPort } from './ports.js';
import { sleep, start, within, type Started } from './processes.js';

/** An overloaded bridge stalls for seconds; its answer is still wanted. */
const HTTP_TIMEOUT_MS = 15_000;
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/** As `npm start` runs the bridge (see docker/Dockerfile); BENCH_BRIDGE_NODE_ARGS come after, so they can override it. */
const BRIDGE_NODE_FLAGS = ['--max-semi-space-size=16'];

export interface BridgeOptions {
  /** Top-level config sections added (the outbound step's api and trunks). */
  readonly extra?: Record<string, unknown>;
  /** The bots' protocol. */
  readonly protocol?: 'exotel' | 'twilio';
  /** `media.workers`; when undefined the key is left out and the bridge's default applies. */
  readonly workers?: number;
  /** `bot.chunkMs`; when undefined the bridge's default applies. */
  readonly chunkMs?: number;
}

/** What /health says of the load: calls up, and per media host (with `media.workers`) its own figures. */
export interface BridgeHealth {
  readonly activeCalls: number;
  readonly media?: readonly HostLoad[];
}

export interface BridgeProcess {
  readonly pid: number;
  readonly sipPort: number;
  readonly httpPort: number;
  activeCalls(): Promise<number>;
  health(): Promise<BridgeHealth>;
  metrics(): Promise<string>;
  /** Warnings and errors the bridge logged, counted by message. */
  logSummary(): Map<string, number>;
  stop(): Promise<void>;
}

export async function startBridge(dir: string, botUrl: string, maxCalls: number, options: BridgeOptions = {}): Promise<BridgeProcess> {
  const { extra = {}, protocol = 'exotel', workers, chunkMs } = options;
  const sipPort = await freeUdpPort();
  const httpPort = await freeTcpPort();
  const configFile = join(dir, 'bridge.yaml');
  writeFileSync(
    configFile,
    stringify({
      sip: { udp: { host: HOST, port: sipPort }, tcp: { host: HOST, port: await freeTcpPort() } },
      media: { address: HOST, rtpPorts: BRIDGE_RTP, ...(workers !== undefined && { workers }) },
      http: { host: HOST, port: httpPort },
      bot: { defaultUrl: botUrl, protocol, ...(chunkMs !== undefined && { chunkMs }) },
      limits: { maxConcurrentCalls: maxCalls, invitesPerSecondPerSource: 100_000 },
      shutdown: { drainTimeoutMs: 1000, interruptDrainTimeoutMs: 1000 },
      log: { level: 'warn' },
      ...extra,
    }),
  );
  const logFile = join(dir, 'bridge.log');
  const stdout = openSync(logFile, 'w');
  let bridge: Started;
  try {
    bridge = start('bridge', process.execPath, [...BRIDGE_NODE_FLAGS, ...(process.env.BENCH_BRIDGE_NODE_ARGS?.split(' ').filter(Boolean) ?? []), MAIN, '--config', configFile], { stdio: ['ignore', stdout, 'pipe'] });
  } finally {
    closeSync(stdout);
  }
  const get = (path: string) => httpGet(httpPort, path);
  await within(15_000, 'bridge start', waitForHealth(get, bridge)).catch(async (err: Error) => {
    await bridge.stop('SIGKILL');
    throw new Error(`${err.message}\n${bridge.stderr()}${readFileSync(logFile, 'utf8').slice(-2000)}`);
  });
  const health = async (): Promise<BridgeHealth> => {
    const body = JSON.parse(await get('/health')) as { activeCalls: number; media?: unknown };
    return { activeCalls: body.activeCalls, ...(Array.isArray(body.media) && { media: body.media as HostLoad[] }) };
  };
  return {
    pid: bridge.pid,
    sipPort,
    httpPort,
    activeCalls: async () => (await health()).activeCalls,
    health,
    metrics: () => get('/metrics'),
    logSummary: () => summariseLog(readFileSync(logFile, 'utf8')),
    stop: () => bridge.stop('SIGTERM', 5000),
  };
}

async function waitForHealth(get: (path: string) => Promise<string>, bridge: Started): Promise<void> {
  for (;;) {
    try {
      await get('/health');
      return;
    } catch {
      const { exitCode } = bridge.child;
      if (exitCode !== null) throw new Error(`bridge exited with ${exitCode} at start`);
      await sleep(100);
    }
  }
}

/** A GET on a connection of its own; rejects on any status but 200. */
function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: HOST, port, path, agent: false, timeout: HTTP_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path}: no answer within ${HTTP_TIMEOUT_MS / 1000} s`)));
    request.on('error', reject);
  });
}

/** pino's JSON lines at warn (40) and above, counted by their `msg` (and SIP status and reason, when they have one). */
function summariseLog(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    let message: string;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; status?: number; reason?: string };
      if ((entry.level ?? 0) < 40) continue;
      // Measured values in a reason (`busy 90.2 %`, `71 ms late`) would make each line a kind of its own; limits stay.
      const detail = [entry.status, entry.reason?.replace(/(?<!limit is )\b\d+(\.\d+)?\b/g, 'N')].filter((d) => d !== undefined).join(' ');
      message = `${entry.level! >= 50 ? 'error' : 'warn'}: ${entry.msg ?? ''}${detail ? ` (${detail.slice(0, 120)})` : ''}`;
    } catch {
      message = `not JSON: ${line.slice(0, 120)}`;
    }
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return counts;
}
