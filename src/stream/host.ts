// Picks where legs run from media.workers: this thread (0), or a pool of that many media worker threads.
import type { Logger } from 'pino';
import type { FrameClock } from '../media/index.js';
import { createLocalHost } from './local-host.js';
import type { HostLimits, HostSettings, LegObserver, MediaHost } from './types.js';
import { createWorkerPool } from './worker-pool.js';

export function createMediaHost(options: { workers: number; settings: HostSettings; limits: HostLimits; observer: LegObserver; log: Logger; clock?: FrameClock }): MediaHost {
  const { workers, settings, limits, observer, log } = options;
  if (workers > 0) return createWorkerPool({ workers, settings, limits, observer, log });
  return createLocalHost(settings, observer, log, options.clock ? { clock: options.clock } : {});
}
