// Media workers (worker_threads) as one MediaHost: each worker gets a contiguous slice of the RTP ports, and a leg
// goes to the worker that is up which admission would pick too (host-order.ts).
import type { Logger } from 'pino';
import { preferredHost } from './host-order.js';
import { MediaWorker } from './media-worker.js';
import { LegOpenError, type HostLimits, type HostSettings, type LegObserver, type LegSpec, type MediaHost, type StreamLeg } from './types.js';

export interface WorkerPoolOptions {
  readonly workers: number;
  readonly settings: HostSettings;
  /** Which workers count as overloaded: they get new legs only when every worker is. */
  readonly limits: HostLimits;
  readonly observer: LegObserver;
  readonly log: Logger;
}

export interface WorkerPool extends MediaHost {
  /** Stops worker `index` as if it had died (for tests): its calls end, and it is restarted. */
  terminate(index: number): Promise<void>;
  /** Blocks worker `index`'s event loop for `ms` (for tests): beyond STALL_MS it is taken as hung. */
  stall(index: number, ms: number): void;
}

/** Splits the RTP ports into `workers` contiguous slices of an even size (so RTP and RTCP ports stay together). */
export function portSlices(ports: HostSettings['rtpPorts'], workers: number): Array<HostSettings['rtpPorts']> {
  const size = Math.floor((ports.max - ports.min + 1) / workers / 2) * 2;
  if (size < 2) throw new Error(`media.rtpPorts ${ports.min}-${ports.max} is too small for ${workers} media workers (2 ports each at least)`);
  return Array.from({ length: workers }, (_, i) => ({ min: ports.min + i * size, max: i === workers - 1 ? ports.max : ports.min + (i + 1) * size - 1 }));
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { settings, observer, log } = options;
  const slices = portSlices(settings.rtpPorts, options.workers);
  const workers = slices.map((rtpPorts, index) => new MediaWorker(index, { ...settings, rtpPorts }, observer, log));
  log.info({ workers: workers.length, rtpPorts: slices }, 'media workers started');
  let nextId = 1;
  let closed: Promise<void> | undefined;

  /** Not overloaded first, then fewest legs, then the less busy event loop. */
  const leastLoaded = (): MediaWorker | undefined => workers[preferredHost(workers.map((worker) => worker.load()), options.limits)];

  return {
    open(spec: LegSpec, signal: AbortSignal): Promise<StreamLeg> {
      const worker = closed ? undefined : leastLoaded();
      if (!worker) return Promise.reject(new LegOpenError('host', closed ? 'the media workers are closed' : 'no media worker is up'));
      return worker.open(nextId++, spec, signal);
    },
    load: () => workers.map((worker) => worker.load()),
    close() {
      closed ??= Promise.all(workers.map((worker) => worker.stop())).then(() => undefined);
      return closed;
    },
    terminate: (index) => workers[index]!.terminate(),
    stall: (index, ms) => workers[index]!.stall(ms),
  };
}
