// Gathers samples into fixed-size PCM16LE chunks (the bot's media messages, 100 ms by default).
import { pcm16Samples } from './pcm16.js';

export class PcmChunker {
  readonly #chunk: Buffer;
  readonly #samples: Int16Array;
  #filled = 0;

  /** `onChunk` receives a buffer that is reused: it is valid only during the call. */
  constructor(
    samplesPerChunk: number,
    private readonly onChunk: (chunk: Buffer) => void,
  ) {
    this.#chunk = Buffer.alloc(samplesPerChunk * 2);
    this.#samples = pcm16Samples(this.#chunk);
  }

  push(samples: Int16Array): void {
    const out = this.#samples;
    let filled = this.#filled;
    for (let from = 0; from < samples.length; ) {
      const count = Math.min(samples.length - from, out.length - filled);
      for (let i = 0; i < count; i++) out[filled + i] = samples[from + i]!;
      from += count;
      filled += count;
      if (filled === out.length) {
        filled = 0;
        this.#filled = 0;
        this.onChunk(this.#chunk);
      }
    }
    this.#filled = filled;
  }
}
