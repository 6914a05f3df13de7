import { describe, expect, it } from 'vitest';
import { createResampler, PCM_RATES, type PcmRate, type Resampler } from '../../src/media/resampler.js';
import { dominantFrequency, goertzelPower, relativeLevelDb, tone } from '../helpers/audio.js';
import { seededRandom } from '../helpers/random.js';

const PAIRS: ReadonlyArray<readonly [PcmRate, PcmRate]> = [
  [8000, 16000],
  [16000, 8000],
  [8000, 24000],
  [24000, 8000],
];

/** Output samples covering the filter's start-up transient (at most ~75 samples at any rate), skipped before measuring. */
const SETTLE = 200;

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function inChunks(r: Resampler, input: Int16Array, sizes: () => number): Int16Array {
  const parts: Int16Array[] = [];
  for (let offset = 0; offset < input.length; ) {
    const n = Math.min(sizes(), input.length - offset);
    parts.push(r.process(input.subarray(offset, offset + n)).slice());
    offset += n;
  }
  return concat(parts);
}

function resample(from: PcmRate, to: PcmRate, input: Int16Array): Int16Array {
  return createResampler(from, to).process(input).slice();
}

function steady(samples: Int16Array): Int16Array {
  return samples.subarray(SETTLE, samples.length - SETTLE);
}

describe('resampler', () => {
  it('lists the supported rates', () => {
    expect(PCM_RATES).toEqual([8000, 16000, 24000]);
  });

  it('passes samples through unchanged when the rates are equal', () => {
    for (const rate of PCM_RATES) {
      const r = createResampler(rate, rate);
      const input = tone(1000, rate, 480);
      expect(r.process(input)).toEqual(input);
      expect(r.process(input, 100)).toEqual(input.subarray(0, 100));
    }
  });

  it('rejects 16000 <-> 24000 and unknown rates', () => {
    expect(() => createResampler(16000, 24000)).toThrow(/one side must be 8000/);
    expect(() => createResampler(24000, 16000)).toThrow(/one side must be 8000/);
    expect(() => createResampler(44100 as PcmRate, 8000)).toThrow(/unsupported/);
  });

  it('rejects a length beyond the input', () => {
    expect(() => createResampler(8000, 16000).process(new Int16Array(10), 11)).toThrow(RangeError);
  });

  it('emits exactly length * L samples when upsampling and floor(total / M) over a stream when downsampling', () => {
    const rnd = seededRandom(7);
    for (const [from, to] of PAIRS) {
      const r = createResampler(from, to);
      const input = tone(440, from, 4000);
      let total = 0;
      let produced = 0;
      for (let i = 0; i < 50; i++) {
        const n = 1 + Math.floor(rnd() * 37);
        const out = r.process(input, n);
        if (to > from) expect(out.length).toBe((n * to) / from);
        total += n;
        produced += out.length;
        expect(produced).toBe(Math.floor((total * to) / from));
      }
    }
  });

  it('reuses its output buffer for same-sized chunks', () => {
    for (const [from, to] of PAIRS) {
      const r = createResampler(from, to);
      const frame = tone(1000, from, (from / 1000) * 20);
      const first = r.process(frame);
      expect(r.process(frame)).toBe(first);
    }
  });

  for (const [from, to] of PAIRS) {
    for (const freq of [1000, 3000]) {
      it(`keeps a ${freq} Hz tone at ${freq} Hz through ${from} -> ${to}`, () => {
        const out = resample(from, to, tone(freq, from, from));
        expect(out.length).toBe(to);
        expect(Math.abs(dominantFrequency(steady(out), to) - freq)).toBeLessThanOrEqual(10);
      });
    }
  }

  it('keeps upsampling images of a 3 kHz tone at least 55 dB down', () => {
    const input = tone(3000, 8000, 8000, 16000);
    const cases: Array<[PcmRate, number[]]> = [
      [16000, [5000]],
      [24000, [5000, 11000]],
    ];
    for (const [to, images] of cases) {
      const out = steady(resample(8000, to, input));
      for (const image of images) {
        expect(relativeLevelDb(out, to, image, 3000), `${to} Hz image at ${image} Hz`).toBeLessThan(-55);
      }
    }
  });

  it('keeps aliases of content above 4 kHz at least 55 dB below a same-amplitude 1 kHz tone', () => {
    const cases: Array<[PcmRate, number]> = [
      [16000, 5000],
      [24000, 5000],
      [24000, 7000],
      [24000, 11000],
    ];
    for (const [from, freq] of cases) {
      const folded = freq % 8000;
      const alias = folded > 4000 ? 8000 - folded : folded;
      const reference = goertzelPower(steady(resample(from, 8000, tone(1000, from, from, 16000))), 8000, 1000);
      const aliased = goertzelPower(steady(resample(from, 8000, tone(freq, from, from, 16000))), 8000, alias);
      expect(10 * Math.log10(aliased / reference), `${freq} Hz at ${from} Hz aliasing to ${alias} Hz`).toBeLessThan(-55);
    }
  });

  it('gives the same output for any chunking of the stream, and again after reset()', () => {
    for (const [from, to] of PAIRS) {
      const rnd = seededRandom(from + to);
      const input = tone(700, from, from, 6000);
      for (let i = 0; i < input.length; i++) input[i] = input[i]! + Math.round((rnd() - 0.5) * 4000);
      const whole = resample(from, to, input);

      const r = createResampler(from, to);
      expect(inChunks(r, input, () => 1 + Math.floor(rnd() * 500))).toEqual(whole);
      r.reset();
      expect(inChunks(r, input, () => 1 + 2 * Math.floor(rnd() * 20))).toEqual(whole);
      r.reset();
      expect(inChunks(r, input, () => 1)).toEqual(whole);
      r.reset();
      expect(inChunks(r, input, () => from / 10)).toEqual(whole);
    }
  });

  it('keeps the amplitude of 1 kHz and 3 kHz tones within 0.5 dB over a round trip through 16 kHz and 24 kHz', () => {
    for (const rate of [16000, 24000] as const) {
      for (const freq of [1000, 3000]) {
        const input = tone(freq, 8000, 8000);
        const back = resample(rate, 8000, resample(8000, rate, input));
        expect(back.length).toBe(input.length);
        const gainDb = 10 * Math.log10(goertzelPower(steady(back), 8000, freq) / goertzelPower(steady(input), 8000, freq));
        expect(Math.abs(gainDb), `${freq} Hz via ${rate} Hz`).toBeLessThan(0.5);
      }
    }
  });

  it('clamps full-scale input instead of wrapping around', () => {
    const square = (rate: number, high: number) =>
      Int16Array.from({ length: rate }, (_, i) => (Math.floor((i * 2000) / rate) % 2 === 0 ? high : -high - 1));
    for (const [from, to] of PAIRS) {
      const full = resample(from, to, square(from, 32767));
      const half = resample(from, to, square(from, 16383));
      expect(Math.max(...full), `${from} -> ${to} overshoots and clamps`).toBe(32767);
      expect(Math.min(...full)).toBe(-32768);
      for (let i = 0; i < full.length; i++) {
        if (Math.abs(half[i]!) > 4000) expect(Math.sign(full[i]!), `${from} -> ${to} sample ${i}`).toBe(Math.sign(half[i]!));
      }
    }
  });

  it('returns an empty result for empty input without disturbing the stream', () => {
    for (const [from, to] of PAIRS) {
      const input = tone(1000, from, 999);
      const whole = resample(from, to, input);
      const r = createResampler(from, to);
      const first = r.process(input.subarray(0, 500)).slice();
      expect(r.process(new Int16Array(0))).toHaveLength(0);
      expect(concat([first, r.process(input.subarray(500)).slice()])).toEqual(whole);
    }
  });
});
