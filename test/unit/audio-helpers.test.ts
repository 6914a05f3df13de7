import { describe, expect, it } from 'vitest';
import {
  dominantFrequency,
  goertzelPower,
  pcm16leToSamples,
  relativeLevelDb,
  rms,
  samplesToPcm16le,
  tone,
  toneBytesPcm16le,
} from '../helpers/audio.js';

describe('audio test helpers', () => {
  for (const rate of [8000, 16000, 24000]) {
    for (const freq of [440, 1000, 3000]) {
      it(`finds a ${freq} Hz tone at ${rate} Hz within 10 Hz`, () => {
        expect(Math.abs(dominantFrequency(tone(freq, rate, rate / 2, 8000, 0.3), rate) - freq)).toBeLessThanOrEqual(10);
      });
    }
  }

  it('measures a sine of amplitude A at about A^2/2 and its neighbours far below', () => {
    const s = tone(1000, 8000, 8000, 10000);
    expect(goertzelPower(s, 8000, 1000) / (10000 ** 2 / 2)).toBeCloseTo(1, 2);
    expect(relativeLevelDb(s, 8000, 2000, 1000)).toBeLessThan(-80);
    expect(rms(s)).toBeCloseTo(10000 / Math.SQRT2, -1);
  });

  it('converts PCM16LE both ways, whatever the byte offset', () => {
    const bytes = toneBytesPcm16le(1000, 8000, 20);
    expect(bytes).toHaveLength(320);
    const samples = pcm16leToSamples(bytes);
    expect(samples).toEqual(tone(1000, 8000, 160));
    expect(samplesToPcm16le(samples)).toEqual(bytes);

    const odd = Buffer.alloc(bytes.length + 1);
    bytes.copy(odd, 1);
    expect(pcm16leToSamples(odd.subarray(1))).toEqual(samples);
  });
});
