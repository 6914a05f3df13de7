// Keeps the caller's audio a continuous timeline for the bot: lost packets and pauses become silence of the same
// length, duplicated and late packets are dropped, so media timestamps stay true to the call's real time.

const RATE = 8000;
const SAMPLES_PER_MS = RATE / 1000;
const FRAME_SAMPLES = 160;
const SILENCE = new Int16Array(FRAME_SAMPLES);

export interface TimelineStats {
  /** Samples of silence inserted for lost packets or a quiet caller. */
  filledSamples: number;
  /** Packets dropped as duplicates or too late. */
  latePackets: number;
}

export class CallerTimeline {
  readonly stats: TimelineStats = { filledSamples: 0, latePackets: 0 };
  /** RTP timestamp of the next sample the bot gets; unknown until the first packet. */
  #expected: number | undefined;
  #ssrc: number | undefined;
  /** Wall-clock time (ms) the audio delivered so far reaches; undefined until start(). */
  #coveredUntil: number | undefined;

  /**
   * @param deliver receives the audio in order; the array is only valid during the call.
   * @param slackMs how long the caller may be silent (jitter) before silence is inserted in real time.
   */
  constructor(
    private readonly deliver: (samples: Int16Array) => void,
    private readonly slackMs = 60,
  ) {}

  /** From now on a quiet caller is padded with silence. */
  start(now: number): void {
    this.#coveredUntil ??= now;
  }

  packet(ssrc: number, timestamp: number, samples: Int16Array, now: number): void {
    if (this.#expected === undefined || ssrc !== this.#ssrc) {
      this.#ssrc = ssrc;
      this.#expected = timestamp;
    }
    const delta = (timestamp - this.#expected) | 0;
    let audio = samples;
    if (delta < 0) {
      if (-delta <= this.slackMs * SAMPLES_PER_MS) {
        // A duplicate or a reordered packet whose time has been delivered already (in part).
        if (-delta >= samples.length) {
          this.stats.latePackets++;
          return;
        }
        audio = samples.subarray(-delta);
      } else {
        // Timestamps went backwards by more than jitter can explain: the sender restarted its clock.
        this.#expected = timestamp;
      }
    } else if (delta > 0) {
      const elapsed = this.#coveredUntil === undefined ? 0 : now - this.#coveredUntil;
      const plausible = Math.max(0, Math.round((elapsed + this.slackMs) * SAMPLES_PER_MS));
      this.#silence(Math.min(delta, plausible));
      this.#expected = timestamp;
    }
    this.deliver(audio);
    this.#expected = (this.#expected + samples.length) >>> 0;
    if (this.#coveredUntil !== undefined) this.#coveredUntil = Math.max(this.#coveredUntil, now);
  }

  /** Called every frame: pads the timeline while the caller sends nothing. */
  tick(now: number): void {
    if (this.#coveredUntil === undefined) return;
    while (now - this.#coveredUntil > this.slackMs) {
      this.#silence(FRAME_SAMPLES);
      this.#coveredUntil += FRAME_SAMPLES / SAMPLES_PER_MS;
      if (this.#expected !== undefined) this.#expected = (this.#expected + FRAME_SAMPLES) >>> 0;
    }
  }

  #silence(samples: number): void {
    this.stats.filledSamples += samples;
    for (let left = samples; left > 0; left -= FRAME_SAMPLES) this.deliver(SILENCE.subarray(0, Math.min(left, FRAME_SAMPLES)));
  }
}
