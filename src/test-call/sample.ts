// A speech-like recording made from nothing, to play as the caller (test/audio/hello.wav, npm run make-sample): a
// glottal pulse train through moving formant filters in three short phrases, pauses between them, and a chime.
import type { WavAudio } from './wav.js';

const RATE = 8000;

/** Formant frequencies (Hz) of a vowel or voiced consonant, an adult male speaker's. */
type Formants = readonly [number, number, number];
const V = {
  a: [730, 1090, 2440],
  e: [530, 1840, 2480],
  i: [300, 2200, 2900],
  o: [570, 840, 2410],
  u: [320, 870, 2240],
  l: [360, 1100, 2600],
  w: [300, 650, 2200],
} as const satisfies Record<string, Formants>;
const BANDWIDTHS: Formants = [80, 100, 150];

/**
 * One stretch of a phrase: the formants glide from `from` (the previous part's `to`: a jump clicks) to `to`, the
 * pitch from f0[0] to f0[1].
 */
interface Part {
  readonly ms: number;
  readonly from: Formants;
  readonly to: Formants;
  readonly f0: readonly [number, number];
  /** Glottal pulses (1) or breath noise (0), reached over the first 15 ms of the part. */
  readonly voiced: 0 | 1;
}

type Event = { readonly pauseMs: number } | { readonly phrase: readonly Part[] } | { readonly toneHz: number; readonly ms: number };

const voiced = (ms: number, from: Formants, to: Formants, f0: readonly [number, number]): Part => ({ ms, from, to, f0, voiced: 1 });
const breath = (ms: number, vowel: Formants, f0: number): Part => ({ ms, from: vowel, to: vowel, f0: [f0, f0], voiced: 0 });

/** "hello", "how are you?", a chime, "bye": 3 s. */
const SCRIPT: readonly Event[] = [
  { pauseMs: 200 },
  { phrase: [breath(60, V.e, 125), voiced(110, V.e, V.l, [125, 122]), voiced(60, V.l, V.l, [122, 118]), voiced(190, V.l, V.o, [118, 105])] },
  { pauseMs: 280 },
  {
    phrase: [
      breath(50, V.a, 115),
      voiced(170, V.a, V.u, [115, 110]),
      voiced(150, V.u, V.a, [110, 104]),
      voiced(70, V.a, V.i, [104, 118]),
      voiced(190, V.i, V.u, [118, 145]),
    ],
  },
  { pauseMs: 300 },
  { toneHz: 660, ms: 120 },
  { pauseMs: 60 },
  { toneHz: 880, ms: 160 },
  { pauseMs: 260 },
  { phrase: [voiced(60, V.w, V.w, [120, 118]), voiced(240, V.w, V.a, [118, 108]), voiced(120, V.a, V.i, [108, 95])] },
  { pauseMs: 150 },
];

/** Klatt's two-pole resonator, its coefficients set per sample as the formant moves. */
class Resonator {
  #y1 = 0;
  #y2 = 0;

  step(x: number, freq: number, bandwidth: number): number {
    const c = -Math.exp((-2 * Math.PI * bandwidth) / RATE);
    const b = 2 * Math.exp((-Math.PI * bandwidth) / RATE) * Math.cos((2 * Math.PI * freq) / RATE);
    const y = (1 - b - c) * x + b * this.#y1 + c * this.#y2;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

/** Rosenberg's glottal flow over one period (phase 0-1): opens over 40 %, closes over 16 %, then stays shut. */
function glottalFlow(phase: number): number {
  if (phase < 0.4) return 0.5 * (1 - Math.cos((Math.PI * phase) / 0.4));
  if (phase < 0.56) return Math.cos((Math.PI * (phase - 0.4)) / 0.32);
  return 0;
}

/** Deterministic white noise in [-1, 1) (a 32-bit LCG), so the file is the same on every run. */
function noise(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  };
}

/** A phrase as float samples, peak-normalised later with the others; 20 ms fades in and out. */
function speak(parts: readonly Part[], random: () => number): Float64Array {
  const total = parts.reduce((n, p) => n + Math.round((p.ms * RATE) / 1000), 0);
  const out = new Float64Array(total);
  const formants = [new Resonator(), new Resonator(), new Resonator()];
  const fade = (20 * RATE) / 1000;
  let n = 0;
  let phase = 0;
  let flow = 0;
  let voicing = parts[0]!.voiced;
  for (const part of parts) {
    const length = Math.round((part.ms * RATE) / 1000);
    const start = voicing;
    for (let i = 0; i < length; i++, n++) {
      const t = i / length;
      voicing = start + (part.voiced - start) * Math.min(1, i / ((15 * RATE) / 1000));
      const f0 = part.f0[0] + (part.f0[1] - part.f0[0]) * t;
      phase = (phase + f0 / RATE) % 1;
      const next = glottalFlow(phase);
      // The lips radiate the flow's derivative.
      let x = voicing * (next - flow) * 4 + (1 - voicing) * 0.25 * random() + voicing * 0.01 * random();
      flow = next;
      for (let k = 0; k < 3; k++) x = formants[k]!.step(x, part.from[k]! + (part.to[k]! - part.from[k]!) * t, BANDWIDTHS[k]!);
      out[n] = x * Math.min(1, n / fade, (total - n) / fade);
    }
  }
  return out;
}

function chime(hz: number, ms: number): Float64Array {
  const length = Math.round((ms * RATE) / 1000);
  const ramp = (10 * RATE) / 1000;
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.sin((2 * Math.PI * hz * i) / RATE) * Math.min(1, i / ramp, (length - i) / ramp);
  return out;
}

/** The sample: 8 kHz mono PCM16, speech peaking at half of full scale, the chime at a third. */
export function speechSample(): WavAudio {
  const random = noise(0x5eed);
  const pieces = SCRIPT.map((event) => {
    if ('pauseMs' in event) return { speech: false, x: new Float64Array(Math.round((event.pauseMs * RATE) / 1000)) };
    if ('phrase' in event) return { speech: true, x: speak(event.phrase, random) };
    return { speech: false, x: chime(event.toneHz, event.ms) };
  });
  let peak = 0;
  for (const piece of pieces) if (piece.speech) for (const v of piece.x) peak = Math.max(peak, Math.abs(v));
  const samples = new Int16Array(pieces.reduce((n, p) => n + p.x.length, 0));
  let offset = 0;
  for (const { speech, x } of pieces) {
    const gain = speech ? 16384 / peak : 10923;
    for (let i = 0; i < x.length; i++) samples[offset + i] = Math.round(x[i]! * gain);
    offset += x.length;
  }
  return { sampleRate: RATE, channels: 1, samples };
}
