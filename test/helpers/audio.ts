// Audio test utilities: tone generation, PCM16LE conversion and Goertzel-based level / frequency measurement.

export function tone(freqHz: number, rate: number, samples: number, amplitude = 8000, phase0 = 0): Int16Array {
  const out = new Int16Array(samples);
  const w = (2 * Math.PI * freqHz) / rate;
  for (let n = 0; n < samples; n++) out[n] = Math.round(amplitude * Math.sin(w * n + phase0));
  return out;
}

/** Little-endian PCM16 bytes of a tone lasting `ms`. */
export function toneBytesPcm16le(freqHz: number, rate: number, ms: number, amplitude = 8000): Buffer {
  return samplesToPcm16le(tone(freqHz, rate, Math.round((rate * ms) / 1000), amplitude));
}

/** Copies the samples out, so any byteOffset (odd included) works; a trailing odd byte is ignored. */
export function pcm16leToSamples(buf: Buffer): Int16Array {
  const out = new Int16Array(buf.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

export function samplesToPcm16le(s: Int16Array): Buffer {
  const buf = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) buf.writeInt16LE(s[i]!, i * 2);
  return buf;
}

function hannWindowed(samples: ArrayLike<number>): Float64Array {
  const n = samples.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = samples[i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n));
  return out;
}

function goertzelRaw(x: Float64Array, rate: number, freqHz: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/**
 * Power of a frequency component via a Hann-windowed Goertzel, normalised so a sine of amplitude A gives about
 * A^2/2. The window keeps a strong tone's leakage far below -55 dB a few hundred Hz away.
 */
export function goertzelPower(samples: ArrayLike<number>, rate: number, freqHz: number): number {
  if (samples.length === 0) return 0;
  const sum = samples.length / 2; // the Hann window's sum
  return (2 * goertzelRaw(hannWindowed(samples), rate, freqHz)) / (sum * sum);
}

/** Level of freqHz relative to referenceHz (normally the strongest component) in dB. */
export function relativeLevelDb(samples: ArrayLike<number>, rate: number, freqHz: number, referenceHz: number): number {
  const tiny = 1e-30;
  return 10 * Math.log10((goertzelPower(samples, rate, freqHz) + tiny) / (goertzelPower(samples, rate, referenceHz) + tiny));
}

/** The frequency with the most energy, scanning 50 Hz .. rate/2 in 10 Hz steps with Goertzel (Hann-windowed), refined to ±5 Hz. */
export function dominantFrequency(samples: ArrayLike<number>, rate: number): number {
  const x = hannWindowed(samples);
  const strongest = (from: number, to: number, step: number): number => {
    let best = from;
    let bestPower = -1;
    for (let f = from; f <= to; f += step) {
      const p = goertzelRaw(x, rate, f);
      if (p > bestPower) {
        bestPower = p;
        best = f;
      }
    }
    return best;
  };
  const coarse = strongest(50, rate / 2, 10);
  return strongest(Math.max(50, coarse - 5), Math.min(rate / 2, coarse + 5), 1);
}

export function rms(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length);
}

/**
 * The longest stretch, in samples, of `samples` where `freqHz` carries most of the energy (checked in 50 ms windows):
 * where in a stream a tone landed, whatever silence came before or after it.
 */
export function longestToneRun(samples: Int16Array, rate: number, freqHz: number): number {
  const window = Math.round(rate / 20);
  let run = 0;
  let longest = 0;
  for (let at = 0; at + window <= samples.length; at += window) {
    const part = samples.subarray(at, at + window);
    const level = rms(part);
    const isTone = level > 500 && goertzelPower(part, rate, freqHz) > 0.8 * level * level;
    run = isTone ? run + window : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
