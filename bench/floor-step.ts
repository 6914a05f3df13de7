// The floor step: for N calls, the CPU a Node process needs only to move what the bridge moves (RTP both ways, media
// messages both ways over N WebSockets; see node-floor.ts), beside the same capture of its packets on lo that the
// load step runs. What the bridge uses above it is the bridge's own work.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCapture } from './capture.js';
import { BRIDGE_RTP, CALLER_MEDIA_BASE } from './ports.js';
import { cpuPercent, readCpu } from './proc-stats.js';
import { sleep, start, within, type Started } from './processes.js';
import { removeScratchDir, scratchDir } from './scratch.js';

const NODE_FLOOR = fileURLToPath(new URL('./node-floor.js', import.meta.url));
const SETTLE_SECONDS = 3;

export interface FloorResult {
  readonly calls: number;
  /** CPU of the endpoint process, % of one core. */
  readonly cpuPercent: number;
}

export async function runFloorStep(calls: number, durationSeconds: number, botUrl: string): Promise<FloorResult> {
  const dir = scratchDir(`floor-${calls}`);
  const stopping: Array<() => Promise<void>> = [];
  try {
    return await within((durationSeconds + 60) * 1000, `floor step with ${calls} calls`, (async () => {
      const endpoint = launch('floor endpoint', ['endpoint', String(calls), botUrl], stopping);
      await within(30_000, 'floor endpoint set-up', ready(endpoint));
      const callers = launch('floor callers', ['callers', String(calls)], stopping);
      await within(5000, 'floor callers set-up', ready(callers));
      await sleep(SETTLE_SECONDS * 1000);
      const capture = await startCapture(join(dir, 'floor.pcap'), `udp and src portrange ${BRIDGE_RTP.min}-${BRIDGE_RTP.max} and dst port ${CALLER_MEDIA_BASE}`, durationSeconds + 30);
      stopping.push(async () => void (await capture.stop()));
      const before = readCpu(endpoint.pid);
      await sleep(durationSeconds * 1000);
      return { calls, cpuPercent: cpuPercent(before, readCpu(endpoint.pid)) };
    })());
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => {});
    removeScratchDir(dir);
  }
}

function launch(name: string, args: string[], stopping: Array<() => Promise<void>>): Started {
  const started = start(name, process.execPath, [NODE_FLOOR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  stopping.push(() => started.stop('SIGKILL'));
  return started;
}

function ready(process: Started): Promise<void> {
  return new Promise((resolve, reject) => {
    process.child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    void process.exited.then(() => reject(new Error(`${process.name} exited: ${process.stderr()}`)));
  });
}
