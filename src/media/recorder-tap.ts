// The recorder's tap on a call's media: the caller's audio and what the caller heard, one frame each per tick.
import { FrameRing, type FrameSink } from './recorder.js';
import { FRAME_SAMPLES } from './session-types.js';

const SILENCE = new Int16Array(FRAME_SAMPLES);

export class RecorderTap {
  readonly #ring = new FrameRing();
  readonly #caller = new Int16Array(FRAME_SAMPLES);
  readonly #sink: FrameSink;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** The caller's audio as the timeline delivers it. */
  write(samples: Int16Array): void {
    this.#ring.write(samples);
  }

  /** A frame per channel to the recorder: skipped frames as silence, then this tick's (the caller heard silence unless audio went out). */
  tick(skipped: number, played: boolean, heard: Int16Array): void {
    for (let i = 0; i < Math.min(skipped, 50); i++) this.#sink.frame(SILENCE, SILENCE);
    this.#ring.read(this.#caller);
    this.#sink.frame(this.#caller, played ? heard : SILENCE);
  }
}
