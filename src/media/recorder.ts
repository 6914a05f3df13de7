// A call's recording: one frame per channel on each 20 ms tick (the caller; what the caller heard), written as the
// call goes to a PCM16 WAV whose header is brought up to date at every flush, so a crash leaves a playable file.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createResampler, type Resampler } from './resampler.js';
import { WAV_HEADER_BYTES, wavHeader } from './wav.js';

/** Samples per channel in a tick's frame, as the line carries them (8 kHz, 20 ms). */
export const RECORDER_FRAME_SAMPLES = 160;

/** Where a session hands its frames on each tick; both arrays hold RECORDER_FRAME_SAMPLES samples at 8 kHz. */
export interface FrameSink {
  frame(caller: Int16Array, heard: Int16Array): void;
}

export type RecordingChannels = 'dual' | 'mono';

export interface RecorderOptions {
  readonly dir: string;
  /** The file's name without extension; sanitised again here. */
  readonly name: string;
  readonly channels: RecordingChannels;
  /** 8000, or 16000 when the bot's audio is wideband (the line's 8 kHz is resampled up). */
  readonly rate: 8000 | 16000;
  /** Audio is written, and the header updated, this often. */
  readonly flushMs?: number;
  /** Audio waiting for the disk beyond this is a failure (a stalled disk must not grow memory). */
  readonly maxPendingMs?: number;
  /** The recording stopped on a disk error; called once. */
  readonly onError?: (err: Error) => void;
}

export interface RecordingResult {
  readonly path: string;
  readonly duration_s: number;
  /** The file's size: header and audio. */
  readonly bytes: number;
  /** Why the recording stopped before the call ended. */
  readonly error?: string;
}

const FRAME_MS = 20;

/** [A-Za-z0-9_-] only, at most 128 characters: a call sid from a header never becomes a path. */
export function safeFileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
  return /[A-Za-z0-9]/.test(safe) ? safe : `call-${randomBytes(6).toString('hex')}`;
}

/** Caller audio as it arrives (per packet), read out a frame per tick: at most `capacity` samples wait. */
export class FrameRing {
  readonly #ring: Int16Array;
  #read = 0;
  #size = 0;

  constructor(capacity = 8 * RECORDER_FRAME_SAMPLES) {
    this.#ring = new Int16Array(capacity);
  }

  write(samples: Int16Array): void {
    const ring = this.#ring;
    for (let i = 0; i < samples.length; i++) {
      if (this.#size === ring.length) {
        // Full: the oldest sample goes, so the recording's caller side never lags far behind.
        this.#read = (this.#read + 1) % ring.length;
        this.#size--;
      }
      ring[(this.#read + this.#size) % ring.length] = samples[i]!;
      this.#size++;
    }
  }

  /** Fills `out` with the oldest samples, silence where there are not enough. */
  read(out: Int16Array): void {
    const ring = this.#ring;
    const n = Math.min(out.length, this.#size);
    for (let i = 0; i < n; i++) out[i] = ring[(this.#read + i) % ring.length]!;
    out.fill(0, n);
    this.#read = (this.#read + n) % ring.length;
    this.#size -= n;
  }
}

export class CallRecorder implements FrameSink {
  #path: string;
  readonly #channels: number;
  readonly #rate: number;
  readonly #opts: RecorderOptions;
  /** Samples per channel per frame in the file. */
  readonly #frameSamples: number;
  readonly #frameBytes: number;
  readonly #upCaller: Resampler | undefined;
  readonly #upHeard: Resampler | undefined;
  readonly #maxPendingBytes: number;
  readonly #flushBytes: number;
  #buffer: Buffer;
  #filled = 0;
  /** Buffers of a full flush, given back once written. */
  readonly #spare: Buffer[] = [];
  #pendingBytes = 0;
  readonly #file: Promise<FileHandle>;
  #chain: Promise<void>;
  #dataBytes = 0;
  #error: Error | undefined;
  #closed: Promise<RecordingResult> | undefined;
  readonly #header = Buffer.alloc(WAV_HEADER_BYTES);

  constructor(options: RecorderOptions) {
    this.#opts = options;
    this.#path = path.join(options.dir, `${safeFileName(options.name)}.wav`);
    this.#channels = options.channels === 'dual' ? 2 : 1;
    this.#rate = options.rate;
    this.#frameSamples = (options.rate * FRAME_MS) / 1000;
    this.#frameBytes = this.#frameSamples * this.#channels * 2;
    if (options.rate !== 8000) {
      this.#upCaller = createResampler(8000, options.rate);
      this.#upHeard = createResampler(8000, options.rate);
    }
    const flushMs = options.flushMs ?? 1000;
    this.#flushBytes = Math.max(1, Math.round(flushMs / FRAME_MS)) * this.#frameBytes;
    this.#maxPendingBytes = Math.max(this.#flushBytes, ((options.maxPendingMs ?? 10_000) / FRAME_MS) * this.#frameBytes);
    this.#buffer = Buffer.alloc(this.#flushBytes);
    this.#file = this.#open();
    // A failed open stops the recording here; writes chained after it then see the error and do nothing.
    this.#chain = this.#file.then(
      () => undefined,
      (err: unknown) => this.#fail(err as Error),
    );
  }

  /** The file's path (decided once the file is open). */
  get path(): string {
    return this.#path;
  }

  get failed(): boolean {
    return this.#error !== undefined;
  }

  async #open(): Promise<FileHandle> {
    await mkdir(this.#opts.dir, { recursive: true });
    let file: FileHandle;
    try {
      file = await open(this.path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Two calls with one call sid: the second gets a suffix rather than overwriting the first.
      this.#path = this.#path.replace(/\.wav$/, `-${randomBytes(4).toString('hex')}.wav`);
      file = await open(this.path, 'wx');
    }
    await file.write(wavHeader(this.#rate, this.#channels, 0, this.#header), 0, WAV_HEADER_BYTES, 0);
    return file;
  }

  /** One tick's audio: the caller, and what the caller heard (8 kHz, RECORDER_FRAME_SAMPLES each). */
  frame(caller: Int16Array, heard: Int16Array): void {
    if (this.#error || this.#closed) return;
    const left = this.#upCaller ? this.#upCaller.process(caller) : caller;
    const right = this.#upHeard ? this.#upHeard.process(heard) : heard;
    const n = Math.min(this.#frameSamples, left.length, right.length);
    const buffer = this.#buffer;
    let at = this.#filled;
    if (this.#channels === 2) {
      for (let i = 0; i < this.#frameSamples; i++) {
        buffer.writeInt16LE(i < n ? left[i]! : 0, at);
        buffer.writeInt16LE(i < n ? right[i]! : 0, at + 2);
        at += 4;
      }
    } else {
      for (let i = 0; i < this.#frameSamples; i++) {
        const mixed = i < n ? left[i]! + right[i]! : 0;
        buffer.writeInt16LE(mixed > 32767 ? 32767 : mixed < -32768 ? -32768 : mixed, at);
        at += 2;
      }
    }
    this.#filled = at;
    if (this.#filled >= this.#flushBytes) this.#flush();
  }

  /** Writes what is buffered, then the header with the sizes so far. */
  #flush(): void {
    if (this.#filled === 0 || this.#error) return;
    const chunk = this.#buffer;
    const length = this.#filled;
    this.#pendingBytes += length;
    if (this.#pendingBytes > this.#maxPendingBytes) {
      this.#fail(new Error(`the disk is too slow: more than ${this.#opts.maxPendingMs ?? 10_000} ms of audio waiting to be written`));
      return;
    }
    this.#buffer = this.#spare.pop() ?? Buffer.alloc(this.#flushBytes);
    this.#filled = 0;
    this.#chain = this.#chain.then(async () => {
      if (this.#error) return;
      const file = await this.#file;
      const offset = WAV_HEADER_BYTES + this.#dataBytes;
      const { bytesWritten } = await file.write(chunk, 0, length, offset);
      if (bytesWritten !== length) throw new Error(`short write: ${bytesWritten} of ${length} bytes`);
      this.#dataBytes += length;
      this.#pendingBytes -= length;
      this.#spare.push(chunk);
      await file.write(wavHeader(this.#rate, this.#channels, this.#dataBytes, this.#header), 0, WAV_HEADER_BYTES, 0);
    }).catch((err: unknown) => this.#fail(err as Error));
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#spare.length = 0;
    this.#opts.onError?.(err);
  }

  /** Writes the rest and closes the file; once. The result says what is on disk. */
  close(): Promise<RecordingResult> {
    this.#closed ??= (async () => {
      this.#flushRest();
      await this.#chain;
      let file: FileHandle | undefined;
      try {
        file = await this.#file;
      } catch {
        file = undefined;
      }
      await file?.close().catch(() => undefined);
      const rate = this.#rate * this.#channels * 2;
      const bytes = file ? WAV_HEADER_BYTES + this.#dataBytes : 0;
      return {
        path: this.path,
        duration_s: Math.round((this.#dataBytes / rate) * 1000) / 1000,
        bytes,
        ...(this.#error && { error: this.#error.message }),
      };
    })();
    return this.#closed;
  }

  #flushRest(): void {
    if (!this.#error) this.#flush();
  }
}
