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
    for (let i = 0; i < samples.length; i++) {
      out[this.#filled++] = samples[i]!;
      if (this.#filled === out.length) {
        this.#filled = 0;
        this.onChunk(this.#chunk);
      }
    }
  }
}
