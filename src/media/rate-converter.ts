// Resampling of whole recordings between any two rates (a 44.1 kHz WAV to the 8 kHz line), with the Kaiser-windowed
// sinc of the streaming resampler, which stays the one on the call's media path (8/16/24 kHz only).
import { besselI0 } from './resampler.js';

/** Cutoff as a share of the lower rate: 3670 Hz at 8 kHz, as in the streaming resampler. */
const CUTOFF = 3670 / 8000;
/** From the 3.4 kHz passband edge to the 4 kHz stopband edge, at 8 kHz. */
const TRANSITION = (4000 - 3400) / 8000;
const ATTENUATION_DB = 65;
const BETA = 0.1102 * (ATTENUATION_DB - 8.7);

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * One filter per output phase p (output time = input index + p/up): 2 * half taps, for the inputs from
 * half - 1 before that time to half after it, each summing to 1 (unity gain at DC).
 */
function designPhases(up: number, half: number, cutoff: number): Float64Array[] {
  const norm = besselI0(BETA);
  const phases: Float64Array[] = [];
  for (let p = 0; p < up; p++) {
    const h = new Float64Array(2 * half);
    let sum = 0;
    for (let j = 0; j < h.length; j++) {
      const d = p / up + half - 1 - j;
      const r = d / half;
      if (Math.abs(r) >= 1) continue;
      const sinc = d === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * d) / (Math.PI * d);
      h[j] = sinc * (besselI0(BETA * Math.sqrt(1 - r * r)) / norm);
      sum += h[j]!;
    }
    for (let j = 0; j < h.length; j++) h[j] = h[j]! / sum;
    phases.push(h);
  }
  return phases;
}

/**
 * Resamples a whole recording from one integer rate to another: the band below 0.46 of the lower rate passes,
 * from half the lower rate it is attenuated by at least 65 dB. Zero phase (no delay); output length is
 * floor(input.length * to / from).
 */
export function convertRate(input: Int16Array, from: number, to: number): Int16Array {
  for (const rate of [from, to]) {
    if (!Number.isInteger(rate) || rate < 1000 || rate > 384_000) throw new RangeError(`convertRate: unsupported rate ${rate} Hz`);
  }
  if (from === to) return input.slice();
  const g = gcd(from, to);
  const up = to / g;
  const down = from / g;
  const low = Math.min(from, to);
  // Kaiser's estimate of the length for this attenuation over this transition, in input samples.
  const half = Math.ceil((ATTENUATION_DB - 8) / (2.285 * 2 * Math.PI * ((TRANSITION * low) / from)) / 2);
  const phases = designPhases(up, half, (CUTOFF * low) / from);
  const out = new Int16Array(Math.floor((input.length * up) / down));
  for (let n = 0; n < out.length; n++) {
    const k0 = Math.floor((n * down) / up);
    const h = phases[n * down - k0 * up]!;
    const first = k0 - half + 1;
    const start = Math.max(0, -first);
    const end = Math.min(h.length, input.length - first);
    let acc = 0;
    for (let j = start; j < end; j++) acc += h[j]! * input[first + j]!;
    const v = Math.round(acc);
    out[n] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}
