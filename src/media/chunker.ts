// Gathers samples into fixed-size PCM16LE chunks (the bot's media messages, 100 ms by default).

export class PcmChunker {
  readonly #chunk: Buffer;
  #filled = 0;

  /** `onChunk` receives a buffer that is reused: it is valid only during the call. */
  constructor(
    samplesPerChunk: number,
    private readonly onChunk: (chunk: Buffer) => void,
  ) {
    this.#chunk = Buffer.alloc(samplesPerChunk * 2);
  }

  push(samples: Int16Array): void {
    const chunk = this.#chunk;
    for (let i = 0; i < samples.length; i++) {
      chunk.writeInt16LE(samples[i]!, this.#filled);
      this.#filled += 2;
      if (this.#filled === chunk.length) {
        this.#filled = 0;
        this.onChunk(chunk);
      }
    }
  }
}
