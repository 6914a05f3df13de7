// Streaming polyphase FIR resampling between the 8 kHz carrier rate and 16/24 kHz bot rates.

export type PcmRate = 8000 | 16000 | 24000;

export const PCM_RATES: readonly PcmRate[] = Object.freeze([8000, 16000, 24000] as const);

export interface Resampler {
  readonly from: PcmRate;
  readonly to: PcmRate;
  /**
   * Resamples `length` samples (default input.length) of input; returns a view into an internal buffer valid
   * until the next call. Keeps filter state across calls, so a stream split into arbitrary chunk sizes gives the
   * same output as one big call.
   */
  process(input: Int16Array, length?: number): Int16Array;
  reset(): void;
}

const BASE_RATE = 8000;

/** The rate ratio: the other side is 16 or 24 kHz. */
type Factor = 2 | 3;

/**
 * Kaiser-windowed sinc low-pass at the high rate (8000 * factor), cutoff 3670 Hz between the 3.4 kHz passband
 * and the 4 kHz stopband edge, DC gain 1. Measured response:
 *   x2 (16 kHz): 97 taps, beta 6.1: passband 0-3400 Hz +0.006/-0.098 dB, >= 63.9 dB attenuation from 4 kHz.
 *   x3 (24 kHz): 147 taps, beta 6.2: passband 0-3400 Hz +0.006/-0.096 dB, >= 65.0 dB attenuation from 4 kHz.
 */
const CUTOFF_HZ = 3670;
/** Odd tap counts: a whole-sample delay and a centre tap, which the decimator's symmetric folding relies on. */
const DESIGNS: Readonly<Record<Factor, { taps: number; beta: number }>> = {
  2: { taps: 97, beta: 6.1 },
  3: { taps: 147, beta: 6.2 },
};

/** The modified Bessel function I0, for Kaiser windows. */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 100 && term > 1e-15 * sum; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
  }
  return sum;
}

function designLowPass(factor: Factor): Float64Array {
  const { taps, beta } = DESIGNS[factor];
  const fc = CUTOFF_HZ / (BASE_RATE * factor);
  const mid = (taps - 1) / 2;
  const h = new Float64Array(taps);
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const x = n - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const r = x / mid;
    h[n] = sinc * (besselI0(beta * Math.sqrt(1 - r * r)) / besselI0(beta));
    sum += h[n]!;
  }
  for (let n = 0; n < taps; n++) h[n] = h[n]! / sum;
  return h;
}

/** Prototype filters by factor, shared by every resampler. */
const PROTOTYPES: Readonly<Record<Factor, Float64Array>> = { 2: designLowPass(2), 3: designLowPass(3) };

function toInt16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** Reusable output buffer that hands out a cached view while the output length stays the same. */
class OutputBuffer {
  #buf = new Int16Array(0);
  #view = new Int16Array(0);

  reserve(n: number): Int16Array {
    if (this.#buf.length < n) this.#buf = new Int16Array(n);
    return this.#buf;
  }

  view(n: number): Int16Array {
    if (this.#view.buffer !== this.#buf.buffer || this.#view.length !== n) this.#view = this.#buf.subarray(0, n);
    return this.#view;
  }
}

/** The last `keep` inputs followed by the current chunk, as float64 for the dot products. */
class History {
  #buf: Float64Array;

  constructor(private readonly keep: number) {
    this.#buf = new Float64Array(keep);
  }

  /** Appends `length` inputs after the kept ones and returns the whole buffer. */
  load(input: Int16Array, length: number): Float64Array {
    const needed = this.keep + length;
    if (this.#buf.length < needed) {
      const grown = new Float64Array(needed);
      grown.set(this.#buf.subarray(0, this.keep));
      this.#buf = grown;
    }
    const buf = this.#buf;
    for (let i = 0; i < length; i++) buf[this.keep + i] = input[i]!;
    return buf;
  }

  /** Keeps the last `keep` samples of the chunk just loaded. */
  advance(length: number): void {
    this.#buf.copyWithin(0, length, length + this.keep);
  }

  reset(): void {
    this.#buf.fill(0);
  }
}

function checkLength(input: Int16Array, length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > input.length) {
    throw new RangeError(`resampler: length ${length} out of range for ${input.length} input samples`);
  }
}

class IdentityResampler implements Resampler {
  constructor(
    readonly from: PcmRate,
    readonly to: PcmRate,
  ) {}

  process(input: Int16Array, length = input.length): Int16Array {
    checkLength(input, length);
    return length === input.length ? input : input.subarray(0, length);
  }

  reset(): void {}
}

/**
 * Polyphase interpolator by 2: output phase p of input n is sum_j 2*h[p + 2j] * x[n - j]. Both phases read the
 * same inputs, so they are computed in one pass with an accumulator each: independent adds run about 1.7x faster
 * in V8 than one long dependency chain per phase.
 */
function interpolate2(taps: Float64Array, phaseTaps: number, x: Float64Array, length: number, out: Int16Array): void {
  let o = 0;
  for (let i = 0; i < length; i++) {
    const newest = phaseTaps - 1 + i;
    let a0 = 0;
    let a1 = 0;
    for (let j = 0, k = 0; j < phaseTaps; j++, k += 2) {
      const v = x[newest - j]!;
      a0 += taps[k]! * v;
      a1 += taps[k + 1]! * v;
    }
    out[o++] = toInt16(a0);
    out[o++] = toInt16(a1);
  }
}

/** As interpolate2, by 3. */
function interpolate3(taps: Float64Array, phaseTaps: number, x: Float64Array, length: number, out: Int16Array): void {
  let o = 0;
  for (let i = 0; i < length; i++) {
    const newest = phaseTaps - 1 + i;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    for (let j = 0, k = 0; j < phaseTaps; j++, k += 3) {
      const v = x[newest - j]!;
      a0 += taps[k]! * v;
      a1 += taps[k + 1]! * v;
      a2 += taps[k + 2]! * v;
    }
    out[o++] = toInt16(a0);
    out[o++] = toInt16(a1);
    out[o++] = toInt16(a2);
  }
}

class Upsampler implements Resampler {
  readonly #factor: Factor;
  readonly #phaseTaps: number;
  /** The prototype scaled by the factor (unity passband gain after zero-stuffing), zero-padded to whole phases. */
  readonly #taps: Float64Array;
  readonly #history: History;
  readonly #out = new OutputBuffer();

  constructor(
    readonly from: PcmRate,
    readonly to: PcmRate,
    factor: Factor,
  ) {
    const h = PROTOTYPES[factor];
    const phaseTaps = Math.ceil(h.length / factor);
    const taps = new Float64Array(phaseTaps * factor);
    for (let k = 0; k < h.length; k++) taps[k] = factor * h[k]!;
    this.#factor = factor;
    this.#phaseTaps = phaseTaps;
    this.#taps = taps;
    this.#history = new History(phaseTaps - 1);
  }

  process(input: Int16Array, length = input.length): Int16Array {
    checkLength(input, length);
    const x = this.#history.load(input, length);
    const out = this.#out.reserve(length * this.#factor);
    const interpolate = this.#factor === 2 ? interpolate2 : interpolate3;
    interpolate(this.#taps, this.#phaseTaps, x, length, out);
    this.#history.advance(length);
    return this.#out.view(length * this.#factor);
  }

  reset(): void {
    this.#history.reset();
  }
}

/**
 * Decimator: filters at the input rate but only computes the kept outputs. The prototype is symmetric (linear
 * phase), so each tap multiplies the sum of the two inputs it applies to, halving the multiplies; two
 * accumulators shorten the add dependency chain.
 */
class Downsampler implements Resampler {
  readonly #factor: number;
  readonly #taps: Float64Array;
  readonly #history: History;
  readonly #out = new OutputBuffer();
  /** Inputs consumed since the last output (0 .. factor-1); an output is due when it reaches the factor. */
  #phase = 0;

  constructor(
    readonly from: PcmRate,
    readonly to: PcmRate,
    factor: Factor,
  ) {
    this.#factor = factor;
    this.#taps = PROTOTYPES[factor];
    this.#history = new History(this.#taps.length - 1);
  }

  process(input: Int16Array, length = input.length): Int16Array {
    checkLength(input, length);
    const factor = this.#factor;
    const h = this.#taps;
    const last = h.length - 1;
    const mid = last / 2;
    const x = this.#history.load(input, length);
    const out = this.#out.reserve(Math.floor((this.#phase + length) / factor));
    let o = 0;
    // The output due at chunk input i covers buffer entries i (oldest) .. i + last (that input).
    for (let i = factor - 1 - this.#phase; i < length; i += factor) {
      const newest = i + last;
      let a0 = h[mid]! * x[i + mid]!;
      let a1 = 0;
      let k = 0;
      for (; k + 1 < mid; k += 2) {
        a0 += h[k]! * (x[i + k]! + x[newest - k]!);
        a1 += h[k + 1]! * (x[i + k + 1]! + x[newest - k - 1]!);
      }
      if (k < mid) a0 += h[k]! * (x[i + k]! + x[newest - k]!);
      out[o++] = toInt16(a0 + a1);
    }
    this.#phase = (this.#phase + length) % factor;
    this.#history.advance(length);
    return this.#out.view(o);
  }

  reset(): void {
    this.#history.reset();
    this.#phase = 0;
  }
}

export function createResampler(from: PcmRate, to: PcmRate): Resampler {
  if (!PCM_RATES.includes(from) || !PCM_RATES.includes(to)) {
    throw new Error(`unsupported resampling ${from} -> ${to} Hz: rates must be one of ${PCM_RATES.join(', ')}`);
  }
  if (from === to) return new IdentityResampler(from, to);
  if (from === BASE_RATE) return new Upsampler(from, to, (to / BASE_RATE) as Factor);
  if (to === BASE_RATE) return new Downsampler(from, to, (from / BASE_RATE) as Factor);
  throw new Error(`unsupported resampling ${from} -> ${to} Hz: one side must be ${BASE_RATE} Hz`);
}
