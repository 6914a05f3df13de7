// One 20 ms clock for every call: ticks on a drift-free schedule and catches up after event-loop stalls.
import { performance } from 'node:perf_hooks';

export const FRAME_MS = 20;

/** Beyond this many missed ticks the clock stops catching up and jumps ahead (listeners see `skipped`). */
const MAX_CATCH_UP = 5;

/** Called once per frame period; `skipped` counts frames the clock dropped instead of bursting them. */
export type TickListener = (skipped: number) => void;

export class FrameClock {
  readonly #listeners = new Set<TickListener>();
  #timer: NodeJS.Timeout | undefined;
  #firing = false;
  #next = 0;

  /** @param onSkipped hears of frames dropped because the event loop fell behind (an overloaded process). */
  constructor(
    private readonly periodMs = FRAME_MS,
    private readonly onSkipped?: (frames: number) => void,
  ) {}

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; the returned function removes it. The timer runs only while someone listens. */
  add(listener: TickListener): () => void {
    this.#listeners.add(listener);
    if (!this.#timer && !this.#firing) {
      this.#next = performance.now() + this.periodMs;
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
      for (const listener of this.#listeners) listener(i === 0 ? skipped : 0);
    }
    this.#firing = false;
    if (this.#listeners.size > 0) this.#schedule();
  }
}
