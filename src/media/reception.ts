// Reception statistics of the caller's RTP stream as RFC 3550 defines them: packets lost (expected minus received,
// from extended sequence numbers), interarrival jitter (A.8) and reordering. A new SSRC (the sender restarted) starts a
// new count.

const RATE_PER_MS = 8;

export class RtpReception {
  #ssrc: number | undefined;
  /** Lost in the streams of earlier SSRCs. */
  #lostBefore = 0;
  #received = 0;
  #firstSeq = 0;
  /** Highest sequence number seen, extended with the count of wraps. */
  #maxExtended = 0;
  #lastTransit: number | undefined;
  /** Interarrival jitter in timestamp units, scaled by 16 as A.8 keeps it. */
  #jitter16 = 0;
  #outOfOrder = 0;

  /**
   * One packet: its SSRC, sequence number and arrival time (ms, monotonic), and its RTP timestamp for audio; a
   * telephone-event's timestamp stays at the event's start, so events count for loss but not for jitter.
   */
  packet(ssrc: number, sequence: number, arrivalMs: number, timestamp?: number): void {
    if (ssrc !== this.#ssrc) {
      this.#lostBefore = this.lost;
      this.#ssrc = ssrc;
      this.#received = 0;
      this.#firstSeq = sequence;
      this.#maxExtended = sequence;
      this.#lastTransit = undefined;
    } else {
      const cycles = this.#maxExtended - (this.#maxExtended & 0xffff);
      let extended = cycles + sequence;
      // Choose the wrap that puts the packet nearest the highest seen: handles reordering across a wrap.
      if (extended - this.#maxExtended > 0x8000) extended -= 0x10000;
      else if (this.#maxExtended - extended > 0x8000) extended += 0x10000;
      if (extended > this.#maxExtended) this.#maxExtended = extended;
      else if (extended < this.#maxExtended) this.#outOfOrder++;
    }
    this.#received++;
    if (timestamp === undefined) return;
    const transit = arrivalMs * RATE_PER_MS - timestamp;
    if (this.#lastTransit !== undefined) {
      // The difference of two transits, wrapped like the 32-bit timestamps they come from.
      let d = Math.abs(transit - this.#lastTransit) % 2 ** 32;
      if (d > 2 ** 31) d = 2 ** 32 - d;
      this.#jitter16 += d - Math.floor((this.#jitter16 + 8) / 16);
    }
    this.#lastTransit = transit;
  }

  /** Expected minus received; duplicates can make a stream's difference negative, which counts as none lost. */
  get lost(): number {
    if (this.#ssrc === undefined) return 0;
    return this.#lostBefore + Math.max(0, this.#maxExtended - this.#firstSeq + 1 - this.#received);
  }

  /** Packets that came after one of their stream with a higher sequence number; duplicates are not counted. */
  get outOfOrder(): number {
    return this.#outOfOrder;
  }

  get jitterMs(): number {
    return this.#jitter16 / 16 / RATE_PER_MS;
  }
}
