// Waiting in a test helper for what it has received: each wait looks again whenever something new arrives.

/** The waits of one helper: wake() after each arrival, and every wait looks again. */
export class Waiters {
  #waiters: Array<() => void> = [];

  /** Looks again in every wait. */
  wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /**
   * What `look` finds (anything but undefined), looking again at each wake(); throws `failure()`'s message once
   * `timeoutMs` have passed without it.
   */
  async find<T>(look: () => T | undefined, timeoutMs: number, failure: () => string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = look();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(failure());
      await this.sleep(left);
    }
  }

  /** Resolves once `condition` holds; throws `failure()`'s message once `timeoutMs` have passed first. */
  async until(condition: () => boolean, timeoutMs: number, failure: () => string): Promise<void> {
    await this.find(() => (condition() ? true : undefined), timeoutMs, failure);
  }

  /** Resolves at the next wake(), or after `ms`. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
