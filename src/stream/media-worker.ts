// One media worker slot: the worker thread running now (none while it restarts), the legs it hosts, its last stats;
// a thread that dies, or hangs (no stats for STALL_MS), ends its legs' calls and is started again after a backoff.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { applyBatch } from './observer-batch.js';
import { LegOpenError, type HostLoad, type HostSettings, type LegObserver, type LegSpec, type StreamLeg } from './types.js';
import { WorkerLeg } from './worker-leg.js';
import type { FromWorker, ToWorker, WorkerData, WorkerStats } from './worker-messages.js';

const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 5000;
/** A worker that ran this long before it died is restarted after FIRST_RESTART_MS again. */
const STABLE_MS = 30_000;
/** How long a worker may take to close its host when the pool closes, before it is terminated. */
const SHUTDOWN_TIMEOUT_MS = 5000;
/**
 * A worker sends stats every second, late only as far as its event loop is: silent this long, it is hung (a loop that
 * never yields), its calls have had no audio for as long, and it is terminated like a dead one.
 */
export const STALL_MS = 5000;

/**
 * The worker's script. Built (dist/, `npm start`), it sits beside this file. Under vitest this file is
 * src/stream/media-worker.ts, and a worker cannot run src/ (its imports name .js files that exist only once built):
 * the tests' global setup builds dist/ first, and the worker runs from there.
 */
function workerScript(): URL {
  const beside = new URL('./worker-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../dist/stream/worker-thread.js', import.meta.url);
}

interface PendingOpen {
  readonly resolve: (leg: StreamLeg) => void;
  readonly reject: (err: Error) => void;
  /** The call gave up meanwhile: a leg that opens all the same is closed at once. */
  aborted: boolean;
}

export class MediaWorker {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, PendingOpen>();
  readonly #legs = new Map<number, WorkerLeg>();
  #stats: WorkerStats['load'] | undefined;
  /** Packets counted by the threads of this slot that died: the slot's totals never go back (they are counters). */
  readonly #retired = { in: 0, out: 0, lost: 0 };
  #restartMs = FIRST_RESTART_MS;
  #startedAt = 0;
  #restart: NodeJS.Timeout | undefined;
  /** When the running thread last said something (its start, then each stats message). */
  #heardAt = 0;
  #watchdog: NodeJS.Timeout | undefined;
  /** Why the running thread is being terminated, when it is by us: what its calls' end reason says. */
  #terminating: string | undefined;
  #stopping = false;
  #shutDown: (() => void) | undefined;

  constructor(
    readonly index: number,
    private readonly settings: HostSettings,
    private readonly observer: LegObserver,
    private readonly log: Logger,
  ) {
    this.#start();
  }

  get up(): boolean {
    return this.#worker !== undefined && !this.#stopping && this.#terminating === undefined;
  }

  /** Legs open or opening. */
  get legs(): number {
    return this.#legs.size + this.#pending.size;
  }

  load(): HostLoad {
    const stats = this.#stats;
    return {
      name: `worker-${this.index}`,
      up: this.up,
      legs: this.legs,
      clockLagMs: stats?.clockLagMs ?? 0,
      busy: stats?.busy ?? 0,
      rtpPortsInUse: stats?.rtpPortsInUse ?? 0,
      packets: addPackets(this.#retired, stats?.packets),
      queuedMs: stats?.queuedMs ?? 0,
      maxQueuedMs: stats?.maxQueuedMs ?? 0,
      heapUsedBytes: stats?.heapUsedBytes ?? 0,
    };
  }

  open(id: number, spec: LegSpec, signal: AbortSignal): Promise<StreamLeg> {
    const aborted = () => new LegOpenError('aborted', 'the call ended while its stream was being opened');
    if (signal.aborted) return Promise.reject(aborted());
    return new Promise<StreamLeg>((resolve, reject) => {
      const onAbort = () => {
        pending.aborted = true;
        this.#send({ type: 'abort', id });
        reject(aborted());
      };
      const settled = () => signal.removeEventListener('abort', onAbort);
      const pending: PendingOpen = {
        resolve: (leg) => (settled(), resolve(leg)),
        reject: (err) => (settled(), reject(err)),
        aborted: false,
      };
      this.#pending.set(id, pending);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#send({ type: 'open', id, spec });
    });
  }

  /** Stops the thread as if it had died (tests). */
  async terminate(): Promise<void> {
    await this.#worker?.terminate();
  }

  /** Blocks the thread's event loop for `ms`, as a bug that never yields would (tests). */
  stall(ms: number): void {
    this.#send({ type: 'stall', ms });
  }

  /** Closes its host once the closes of its legs are reported, then ends the thread; no restart after this. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restart);
    try {
      // The watchdog goes on meanwhile: a hung thread would never report its legs closed.
      await Promise.all([...this.#legs.values()].map((leg) => leg.closing));
      const worker = this.#worker;
      if (!worker) return;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      const shutDown = new Promise<void>((resolve) => (this.#shutDown = resolve));
      const timeout = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref());
      this.#send({ type: 'shutdown' });
      await Promise.race([shutDown, exited, timeout]);
      await worker.terminate();
    } finally {
      clearInterval(this.#watchdog);
    }
  }

  #send(message: ToWorker): void {
    this.#worker?.postMessage(message);
  }

  #start(): void {
    const data: WorkerData = { index: this.index, settings: this.settings };
    // No inspector or profiler per worker (they would fight over the port, or write a profile each); V8's heap flags
    // are the process's, apply to the workers' isolates anyway, and Node refuses them here.
    const worker = new Worker(workerScript(), { workerData: data, execArgv: [], name: `media-worker-${this.index}` });
    this.#worker = worker;
    this.#startedAt = Date.now();
    this.#heardAt = this.#startedAt;
    this.#terminating = undefined;
    this.#watchdog ??= setInterval(() => this.#checkStalled(), 1000).unref();
    worker.on('message', (message: FromWorker) => this.#receive(message));
    worker.on('error', (err) => this.#died(worker, `error: ${err.message}`));
    worker.on('exit', (code) => this.#died(worker, `exit code ${code}`));
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case 'opened': {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        const leg = new WorkerLeg(message.id, message.port, message.botConnectMs, (m) => this.#send(m));
        this.#legs.set(message.id, leg);
        if (pending && !pending.aborted) return pending.resolve(leg);
        void leg.close('callended');
        return;
      }
      case 'openFailed': {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        return pending?.reject(new LegOpenError(message.kind, message.message));
      }
      case 'event':
        return this.#legs.get(message.id)?.deliver(message.event);
      case 'peerOpened':
        return this.#legs.get(message.id)?.peerOpened({ port: message.port });
      case 'peerOpenFailed':
        return this.#legs.get(message.id)?.peerOpened({ error: message.message });
      case 'closed': {
        const leg = this.#legs.get(message.id);
        this.#legs.delete(message.id);
        return leg?.closed(message.report);
      }
      case 'stats': {
        this.#heardAt = Date.now();
        this.#stats = message.load;
        for (const [id, live] of message.live) {
          const leg = this.#legs.get(id);
          if (leg) leg.live = live;
        }
        return applyBatch(this.observer, message.observed);
      }
      case 'shutDown':
        return this.#shutDown?.();
    }
  }

  #checkStalled(): void {
    const worker = this.#worker;
    if (!worker || this.#terminating) return;
    const silentMs = Date.now() - this.#heardAt;
    if (silentMs < STALL_MS) return;
    this.#terminating = `hung: no word from it for ${Math.round(silentMs / 1000)} s`;
    this.log.error({ worker: this.index, silentMs, legs: this.legs }, 'media worker hung: terminating it');
    void worker.terminate();
  }

  #died(worker: Worker, exit: string): void {
    if (this.#worker !== worker) return;
    const why = this.#terminating ?? exit;
    this.#worker = undefined;
    const packets = this.#stats?.packets;
    if (packets) Object.assign(this.#retired, addPackets(this.#retired, packets));
    this.#stats = undefined;
    const failure = `media worker ${this.index} stopped: ${why}`;
    for (const pending of this.#pending.values()) pending.reject(new LegOpenError('host', failure));
    this.#pending.clear();
    const legs = [...this.#legs.values()];
    this.#legs.clear();
    for (const leg of legs) leg.lost(`${failure}; the bot's stream was cut without a stop message`);
    if (this.#stopping) return;
    this.log.error({ worker: this.index, why, legs: legs.length }, 'media worker stopped: its calls end');
    if (Date.now() - this.#startedAt >= STABLE_MS) this.#restartMs = FIRST_RESTART_MS;
    const delay = this.#restartMs;
    this.#restartMs = Math.min(MAX_RESTART_MS, delay * 2);
    this.log.warn({ worker: this.index, inMs: delay }, 'media worker restarting');
    this.#restart = setTimeout(() => {
      this.#start();
      this.log.info({ worker: this.index }, 'media worker restarted');
    }, delay);
  }
}

function addPackets(a: HostLoad['packets'], b: HostLoad['packets'] | undefined): HostLoad['packets'] {
  return b ? { in: a.in + b.in, out: a.out + b.out, lost: a.lost + b.lost } : { ...a };
}
