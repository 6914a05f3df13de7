// One call's latency observations in fixed log-spaced buckets: mean and p99 without keeping every sample.

/** Bucket upper bounds in ms: 0.05 ms to ~3.3 s, each 25% above the previous. */
const BOUNDS_MS: readonly number[] = Array.from({ length: 51 }, (_, i) => 0.05 * 1.25 ** i);

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  /** Upper bound of the bucket holding the 99th percentile (at most 25% above the true value). */
  readonly p99Ms: number;
}

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BOUNDS_MS.length + 1);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
    this.#counts[i]!++;
    this.#count++;
    this.#sumMs += ms;
    if (ms > this.#maxMs) this.#maxMs = ms;
  }

  quantileMs(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(BOUNDS_MS[i] ?? this.#maxMs, this.#maxMs);
    }
    return this.#maxMs;
  }

  summary(): LatencySummary {
    return { count: this.#count, meanMs: this.#count ? round(this.#sumMs / this.#count) : 0, p99Ms: round(this.quantileMs(0.99)) };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
