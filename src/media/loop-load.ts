// How busy an event loop is: Node's event loop utilisation over the last 0.5-1 s, from snapshots taken at least
// 0.5 s apart (by the media clock as it fires, or by a watch timer on a thread without a clock).
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** `busy` is measured from the older of two snapshots taken this far apart. */
const SNAPSHOT_MS = 500;

export class LoopLoad {
  /** Oldest first: at most two, SNAPSHOT_MS apart. */
  #snapshots: Array<{ at: number; utilization: EventLoopUtilization }> = [];

  /** Starts measuring afresh from now. */
  reset(now = performance.now()): void {
    this.#snapshots = [{ at: now, utilization: performance.eventLoopUtilization() }];
  }

  /** Takes a snapshot when the newest is SNAPSHOT_MS old. */
  note(now = performance.now()): void {
    const newest = this.#snapshots.at(-1);
    if (newest && now - newest.at < SNAPSHOT_MS) return;
    this.#snapshots.push({ at: now, utilization: performance.eventLoopUtilization() });
    if (this.#snapshots.length > 2) this.#snapshots.shift();
  }

  /** The share of the time since the older snapshot spent working (0-1); 0 in the first SNAPSHOT_MS. */
  busy(now = performance.now()): number {
    const since = this.#snapshots[0];
    if (!since || now - since.at < SNAPSHOT_MS) return 0;
    return performance.eventLoopUtilization(performance.eventLoopUtilization(), since.utilization).utilization;
  }
}

/** Watches this thread's event loop (a thread whose media runs elsewhere); `stop` ends the watch. */
export function watchEventLoop(): { readonly busy: () => number; readonly stop: () => void } {
  const load = new LoopLoad();
  load.reset();
  const timer = setInterval(() => load.note(), SNAPSHOT_MS / 2).unref();
  return { busy: () => load.busy(), stop: () => clearInterval(timer) };
}
