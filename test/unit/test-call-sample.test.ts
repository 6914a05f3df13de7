// The sample caller audio the README plays (test/audio/hello.wav): made by npm run make-sample, and speech-like.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { speechSample } from '../../src/test-call/sample.js';
import { readWav, type WavAudio } from '../../src/test-call/wav.js';
import { dominantFrequency, goertzelPower, rms } from '../helpers/audio.js';

const FRAME = 160; // 20 ms at 8 kHz

function committed(): WavAudio {
  const parsed = readWav(readFileSync('test/audio/hello.wav'));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

/** The pitch of a frame from its normalised autocorrelation over 70-250 Hz, when it is periodic enough. */
function pitch(x: Int16Array, start: number): number | undefined {
  let best = 0;
  let bestLag = 0;
  for (let lag = 32; lag <= 114; lag++) {
    let c = 0;
    let a = 0;
    let b = 0;
    for (let i = start; i < start + FRAME; i++) {
      c += x[i]! * x[i + lag]!;
      a += x[i]! * x[i]!;
      b += x[i + lag]! * x[i + lag]!;
    }
    const r = c / Math.sqrt(a * b || 1);
    if (r > best) [best, bestLag] = [r, lag];
  }
  return best > 0.8 ? 8000 / bestLag : undefined;
}

/** The share of a frame's power in its strongest frequency: about 1 for a pure tone, far less for a voice's harmonics. */
function purity(frame: Int16Array): number {
  return goertzelPower(frame, 8000, dominantFrequency(frame, 8000)) / rms(frame) ** 2;
}

describe('the sample caller audio', () => {
  it('is the file npm run make-sample writes: 3 s of 8 kHz mono PCM16', () => {
    const file = committed();
    const made = speechSample();
    expect(file).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(file.samples.length).toBe(3 * 8000);
    // Within 1 LSB: another Node's Math.sin may round a last bit differently.
    expect(made.samples.length).toBe(file.samples.length);
    expect(made.samples.every((v, i) => Math.abs(v - file.samples[i]!) <= 1)).toBe(true);
  });

  it('sounds like speech: voiced stretches with a moving pitch, pauses between them, and a two-note chime', () => {
    const x = committed().samples;
    const frames = Array.from({ length: x.length / FRAME - 1 }, (_, i) => i * FRAME);
    const loud = frames.filter((start) => rms(x.subarray(start, start + FRAME)) >= 50);
    const gapsMs = loud.slice(1).map((start, i) => ((start - loud[i]!) / FRAME - 1) * 20);
    // Between the phrases, and on either side of the chime.
    expect(gapsMs.filter((ms) => ms >= 200).length).toBeGreaterThanOrEqual(3);
    expect(loud.length * 20).toBeLessThan(2400);

    const voiced: number[] = [];
    const tones: number[] = [];
    const purities = frames.map((start) => (rms(x.subarray(start, start + FRAME)) < 1000 ? 0 : purity(x.subarray(start, start + FRAME))));
    for (const [i, start] of frames.entries()) {
      if (purities[i]! > 0.97) tones.push(dominantFrequency(x.subarray(start, start + FRAME), 8000));
      // A tone's first and last frames are half silence: neither pure nor a voice.
      const nearTone = Math.max(purities[i - 1] ?? 0, purities[i]!, purities[i + 1] ?? 0) > 0.95;
      const f0 = purities[i]! > 0 && !nearTone ? pitch(x, start) : undefined;
      if (f0 !== undefined) voiced.push(f0);
    }
    expect(voiced.length * 20).toBeGreaterThanOrEqual(1200);
    expect(Math.min(...voiced)).toBeGreaterThanOrEqual(90);
    expect(Math.max(...voiced)).toBeLessThanOrEqual(160);
    expect(Math.max(...voiced) - Math.min(...voiced)).toBeGreaterThanOrEqual(30);
    expect(new Set(tones.map((hz) => Math.round(hz / 10) * 10))).toEqual(new Set([660, 880]));
  });
});
