import { describe, expect, it } from 'vitest';
import { convertRate } from '../../src/media/rate-converter.js';
import { dominantFrequency, goertzelPower, tone } from '../helpers/audio.js';

const RATES = [11025, 22050, 32000, 44100, 48000];
const levelDb = (samples: Int16Array, rate: number, hz: number) => 10 * Math.log10(goertzelPower(samples, rate, hz) + 1e-30);

describe('convertRate: whole recordings between any two rates', () => {
  it.each(RATES)('takes %i Hz to 8 kHz: tones in the band keep their frequency and level', (rate) => {
    for (const hz of [300, 1000, 3000]) {
      const out = convertRate(tone(hz, rate, rate, 10000), rate, 8000);
      expect(out).toHaveLength(8000);
      const middle = out.subarray(1000, 7000);
      expect(Math.abs(dominantFrequency(middle, 8000) - hz)).toBeLessThanOrEqual(2);
      expect(Math.abs(levelDb(middle, 8000, hz) - levelDb(tone(hz, 8000, 6000, 10000), 8000, hz))).toBeLessThan(0.2);
    }
  });

  it.each(RATES)('takes %i Hz to 8 kHz without aliasing what lies above 4 kHz', (rate) => {
    // 5 kHz would fold to 3 kHz, 7.5 kHz to 500 Hz.
    for (const [hz, alias] of [[5000, 3000], [7500, 500]] as const) {
      if (hz >= rate / 2) continue;
      const out = convertRate(tone(hz, rate, rate, 10000), rate, 8000).subarray(1000, 7000);
      expect(levelDb(out, 8000, alias) - levelDb(tone(hz, 8000, 6000, 10000), 8000, alias)).toBeLessThan(-60);
    }
  });

  it('upsamples as well, starts at the first sample without a delay, and copies equal rates', () => {
    const up = convertRate(tone(1000, 8000, 8000, 10000), 8000, 44100);
    expect(up).toHaveLength(44100);
    expect(Math.abs(dominantFrequency(up.subarray(4410, 39690), 44100) - 1000)).toBeLessThanOrEqual(2);

    const impulse = new Int16Array(2205);
    impulse[1102] = 20000;
    const out = convertRate(impulse, 22050, 8000);
    const peak = out.indexOf(Math.max(...out));
    expect(Math.abs(peak - (1102 * 8000) / 22050)).toBeLessThanOrEqual(1);

    const same = new Int16Array([1, 2, 3]);
    expect(convertRate(same, 16000, 16000)).toEqual(same);
    expect(convertRate(same, 16000, 16000)).not.toBe(same);
    expect(() => convertRate(same, 0, 8000)).toThrow(/unsupported rate/);
  });
});
