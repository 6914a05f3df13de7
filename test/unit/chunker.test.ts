import { describe, expect, it } from 'vitest';
import { PcmChunker } from '../../src/media/chunker.js';
import { pcm16leToSamples } from '../helpers/audio.js';

const ramp = (from: number, n: number) => Int16Array.from({ length: n }, (_, i) => from + i);

describe('PCM chunker', () => {
  it('cuts pushes of any size into whole chunks, in order, keeping the rest for the next push', () => {
    const chunks: number[][] = [];
    const chunker = new PcmChunker(100, (chunk) => chunks.push([...pcm16leToSamples(chunk)]));
    let next = 0;
    for (const size of [30, 70, 160, 1, 250, 0, 89]) {
      chunker.push(ramp(next, size));
      next += size;
    }
    // 600 samples pushed: six chunks, nothing left over.
    expect(chunks).toEqual([0, 1, 2, 3, 4, 5].map((n) => [...ramp(n * 100, 100)]));
    chunker.push(ramp(next, 99));
    expect(chunks).toHaveLength(6);
    chunker.push(ramp(next + 99, 1));
    expect(chunks[6]).toEqual([...ramp(600, 100)]);
  });
});
