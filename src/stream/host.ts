// Picks where legs run from media.workers: for now always this thread (the worker pool comes with its own host).
import type { Logger } from 'pino';
import type { FrameClock } from '../media/index.js';
import { createLocalHost } from './local-host.js';
import type { HostSettings, LegObserver, MediaHost } from './types.js';

export function createMediaHost(options: { workers: number; settings: HostSettings; observer: LegObserver; log: Logger; clock?: FrameClock }): MediaHost {
  return createLocalHost(options.settings, options.observer, options.log, options.clock ? { clock: options.clock } : {});
}
