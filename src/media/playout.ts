// The bot's audio waiting to be played to the caller (8 kHz samples), with marks tied to positions in it.

interface PendingMark {
  readonly name: string;
  /** Answered once this many samples have been played (or dropped). */
  readonly at: number;
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

  constructor(private readonly maxSamples: number) {}

  get size(): number {
    return this.#size;
  }

  /** Samples dropped because the queue was full, over the queue's life. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues samples; when the cap is reached the oldest are dropped. Returns how many were dropped. */
  push(samples: Int16Array): number {
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
      this.#skip(overflow);
      dropped += overflow;
    }
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
    const n = Math.min(frame.length, this.#size);
    const cap = this.#ring.length;
    const first = Math.min(n, cap - this.#read);
    frame.set(this.#ring.subarray(this.#read, this.#read + first), 0);
    if (first < n) frame.set(this.#ring.subarray(0, n - first), first);
    frame.fill(0, n);
    this.#skip(n);
    return n;
  }

  /** Drops everything queued; pending marks become due at once. */
  clear(): void {
    this.#skip(this.#size);
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

  #skip(n: number): void {
    this.#read = (this.#read + n) % this.#ring.length;
    this.#size -= n;
    this.#played += n;
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
