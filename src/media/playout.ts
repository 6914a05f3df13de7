// The bot's audio waiting to be played to the caller (8 kHz samples), with marks tied to positions in it.

interface PendingMark {
  readonly name: string;
  /** Answered once this many samples have been played (or dropped). */
  readonly at: number;
}

/** Where a piece of audio starts, and when it was received: its latency is known once that sample is played. */
interface PendingStart {
  readonly at: number;
  readonly receivedAt: number;
}

export class PlayoutQueue {
  #ring = new Int16Array(8000);
  #read = 0;
  #size = 0;
  /** Samples ever queued and ever played (or dropped): marks are positions on this line. */
  #queued = 0;
  #played = 0;
  #dropped = 0;
  readonly #marks: PendingMark[] = [];
  readonly #starts: PendingStart[] = [];

  /** @param onStarted called when the first sample of audio pushed with a `receivedAt` is pulled to be played. */
  constructor(
    private readonly maxSamples: number,
    private readonly onStarted?: (receivedAt: number) => void,
  ) {}

  get size(): number {
    return this.#size;
  }

  /** Samples dropped because the queue was full, over the queue's life. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues samples; when the cap is reached the oldest are dropped. Returns how many were dropped. With `receivedAt`
   * (ms), `onStarted` hears of it when the first of these samples is played.
   */
  push(samples: Int16Array, receivedAt?: number): number {
    let input = samples;
    let dropped = 0;
    if (input.length > this.maxSamples) {
      // Audio that could never fit is queued and dropped in one step.
      const excess = input.length - this.maxSamples;
      this.#queued += excess;
      this.#played += excess;
      dropped += excess;
      input = input.subarray(excess);
    }
    const overflow = this.#size + input.length - this.maxSamples;
    if (overflow > 0) {
      this.#skip(overflow, false);
      dropped += overflow;
    }
    if (receivedAt !== undefined && input.length > 0 && input.length === samples.length) this.#starts.push({ at: this.#queued, receivedAt });
    this.#grow(this.#size + input.length);
    const cap = this.#ring.length;
    const write = (this.#read + this.#size) % cap;
    const first = Math.min(input.length, cap - write);
    this.#ring.set(input.subarray(0, first), write);
    if (first < input.length) this.#ring.set(input.subarray(first), 0);
    this.#size += input.length;
    this.#queued += input.length;
    this.#dropped += dropped;
    return dropped;
  }

  /** Fills `frame` with the next samples, silence where the queue runs out; returns how many were real audio. */
  pull(frame: Int16Array): number {
    // Element loops rather than subarray views: this runs every frame of every call, and views are allocations.
    const n = Math.min(frame.length, this.#size);
    const ring = this.#ring;
    const read = this.#read;
    const first = Math.min(n, ring.length - read);
    for (let i = 0; i < first; i++) frame[i] = ring[read + i]!;
    for (let i = first; i < n; i++) frame[i] = ring[i - first]!;
    for (let i = n; i < frame.length; i++) frame[i] = 0;
    this.#skip(n, true);
    return n;
  }

  /** Drops the next `n` samples (or all there are), as if played: for frames the clock skipped. */
  discard(n: number): void {
    this.#skip(Math.min(n, this.#size), false);
  }

  /** Drops everything queued; pending marks become due at once. */
  clear(): void {
    this.#skip(this.#size, false);
  }

  mark(name: string): void {
    this.#marks.push({ name, at: this.#queued });
  }

  /** Names of marks whose audio has all been played, in order. */
  takeDueMarks(): string[] {
    let due = 0;
    while (due < this.#marks.length && this.#marks[due]!.at <= this.#played) due++;
    return due === 0 ? EMPTY : this.#marks.splice(0, due).map((m) => m.name);
  }

  /** Moves past `n` samples, `played` to the caller or dropped. */
  #skip(n: number, played: boolean): void {
    const end = this.#played + n;
    while (this.#starts.length > 0 && this.#starts[0]!.at < end) {
      const start = this.#starts.shift()!;
      if (played) this.onStarted?.(start.receivedAt);
    }
    this.#read = (this.#read + n) % this.#ring.length;
    this.#size -= n;
    this.#played = end;
  }

  #grow(needed: number): void {
    if (needed <= this.#ring.length) return;
    let cap = this.#ring.length;
    while (cap < needed) cap *= 2;
    const next = new Int16Array(Math.min(cap, Math.max(needed, this.maxSamples)));
    const first = Math.min(this.#size, this.#ring.length - this.#read);
    next.set(this.#ring.subarray(this.#read, this.#read + first), 0);
    next.set(this.#ring.subarray(0, this.#size - first), first);
    this.#ring = next;
    this.#read = 0;
  }
}

const EMPTY: string[] = [];
