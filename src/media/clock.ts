// One 20 ms clock for every call: ticks on a drift-free schedule, catches up after event-loop stalls, and tells the
// overload guards how late it runs and how busy the event loop is.
import { performance } from 'node:perf_hooks';
import { LoopLoad } from './loop-load.js';

export const FRAME_MS = 20;

/** Beyond this many missed ticks the clock stops catching up and jumps ahead (listeners see `skipped`). */
const MAX_CATCH_UP = 5;

/** `lagMs` looks at the firings of this last stretch of time (at most LAG_HISTORY of them, two seconds' worth)... */
const LAG_WINDOW_MS = 2000;
const LAG_HISTORY = 100;
/** ...and is the lateness that this share of them stayed within. */
const LAG_QUANTILE = 0.9;

/**
 * Called once per frame period; `skipped` counts frames the clock dropped instead of bursting them; `now` is
 * performance.now() as the clock fired (read once for all its listeners).
 */
export type TickListener = (skipped: number, now: number) => void;

export class FrameClock {
  readonly #listeners = new Set<TickListener>();
  #timer: NodeJS.Timeout | undefined;
  #firing = false;
  #next = 0;
  /** When each of the last LAG_HISTORY firings happened and how late it was: a ring, NaN where none was yet. */
  readonly #firedAt = new Float64Array(LAG_HISTORY).fill(Number.NaN);
  readonly #lateness = new Float64Array(LAG_HISTORY);
  #ringAt = 0;
  /** The event loop's utilisation, snapshotted as the clock fires. */
  readonly #load = new LoopLoad();

  /** @param onSkipped hears of frames dropped because the event loop fell behind (an overloaded process). */
  constructor(
    private readonly periodMs = FRAME_MS,
    private readonly onSkipped?: (frames: number) => void,
  ) {}

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /**
   * How late the timer fires behind its schedule, in ms: the 90th percentile over the firings of the last 2 s, so
   * one pause (a GC) does not count but an event loop that keeps falling behind does; 0 while the clock is stopped.
   */
  get lagMs(): number {
    if (!this.#timer && !this.#firing) return 0;
    const since = performance.now() - LAG_WINDOW_MS;
    const recent: number[] = [];
    for (let i = 0; i < LAG_HISTORY; i++) if (this.#firedAt[i]! >= since) recent.push(this.#lateness[i]!);
    if (recent.length === 0) return 0;
    recent.sort((a, b) => a - b);
    return recent[Math.floor(LAG_QUANTILE * (recent.length - 1))]!;
  }

  /**
   * The share of the last 0.5-1 s that the event loop spent working rather than waiting for work (Node's event loop
   * utilisation, 0-1). Near 1 the loop has no room left, and the clock falls behind at the next burst of work; 0 while
   * the clock is stopped and in its first 0.5 s.
   */
  get busy(): number {
    if (!this.#timer && !this.#firing) return 0;
    return this.#load.busy();
  }

  /** Adds a listener; the returned function removes it. The timer runs only while someone listens. */
  add(listener: TickListener): () => void {
    this.#listeners.add(listener);
    if (!this.#timer && !this.#firing) {
      const now = performance.now();
      this.#next = now + this.periodMs;
      this.#firedAt.fill(Number.NaN);
      this.#load.reset(now);
      this.#schedule();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  #schedule(): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, this.#next - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firing = true;
    const now = performance.now();
    this.#noteLateness(now);
    this.#load.note(now);
    let due = Math.floor((now - this.#next) / this.periodMs) + 1;
    let skipped = 0;
    if (due > MAX_CATCH_UP) {
      skipped = due - 1;
      due = 1;
      this.#next += skipped * this.periodMs;
      this.onSkipped?.(skipped);
    }
    for (let i = 0; i < due; i++) {
      this.#next += this.periodMs;
      for (const listener of this.#listeners) listener(i === 0 ? skipped : 0, now);
    }
    this.#firing = false;
    if (this.#listeners.size > 0) this.#schedule();
  }

  #noteLateness(now: number): void {
    this.#firedAt[this.#ringAt] = now;
    this.#lateness[this.#ringAt] = Math.max(0, now - this.#next);
    this.#ringAt = (this.#ringAt + 1) % LAG_HISTORY;
  }
}
