// The timers a transaction owns (RFC 3261 Timers A-K): each runs once, and all are cleared together when it ends.

export class TimerSet {
  readonly #timers = new Set<NodeJS.Timeout>();

  /** Runs `fn` after `ms`, unless cleared first. */
  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
