import { describe, expect, it } from 'vitest';
import { CallerTimeline } from '../../src/media/caller-timeline.js';

/** A packet's samples all hold its index, so the delivered stream shows which packet each sample came from. */
const packetOf = (index: number) => new Int16Array(160).fill(index + 1);

function collect() {
  const out: number[] = [];
  const timeline = new CallerTimeline((samples) => out.push(...samples));
  return { out, timeline };
}

/** Run-length summary: "1x160 0x320 3x160". */
function runs(samples: number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < samples.length) {
    let j = i;
    while (j < samples.length && samples[j] === samples[i]) j++;
    parts.push(`${samples[i]}x${j - i}`);
    i = j;
  }
  return parts.join(' ');
}

describe('caller timeline', () => {
  it('passes a steady stream through unchanged', () => {
    const { out, timeline } = collect();
    timeline.start(0);
    for (let i = 0; i < 5; i++) {
      timeline.tick(i * 20);
      timeline.packet(7, 1000 + i * 160, packetOf(i), i * 20);
    }
    expect(runs(out)).toBe('1x160 2x160 3x160 4x160 5x160');
    expect(timeline.stats).toEqual({ filledSamples: 0, latePackets: 0 });
  });

  it('fills lost packets with exactly as much silence as they held', () => {
    const { out, timeline } = collect();
    timeline.start(0);
    for (const i of [0, 1, 4, 5]) timeline.packet(7, 1000 + i * 160, packetOf(i), i * 20);
    expect(runs(out)).toBe('1x160 2x160 0x320 5x160 6x160');
    expect(timeline.stats.filledSamples).toBe(320);
  });

  it('drops duplicates and packets that arrive after their time was filled', () => {
    const { out, timeline } = collect();
    timeline.start(0);
    timeline.packet(7, 1000, packetOf(0), 0);
    timeline.packet(7, 1000, packetOf(0), 1);
    timeline.packet(7, 1320, packetOf(2), 40);
    timeline.packet(7, 1160, packetOf(1), 45);
    expect(runs(out)).toBe('1x160 0x160 3x160');
    expect(timeline.stats.latePackets).toBe(2);
  });

  it('keeps media flowing in real time while the caller sends nothing, and lines the caller back up after', () => {
    const { out, timeline } = collect();
    timeline.start(0);
    timeline.packet(7, 1000, packetOf(0), 0);
    for (let t = 20; t <= 500; t += 20) timeline.tick(t);
    const padded = out.length - 160;
    expect(padded).toBe(160 * 22);
    // The caller resumes at 500 ms with timestamps that kept counting: the total matches the time that passed.
    timeline.packet(7, 1000 + 25 * 160, packetOf(25), 500);
    expect(out.length).toBe(26 * 160);
    expect(runs(out.slice(-160))).toBe('26x160');
  });

  it('accepts a restarted stream (new SSRC, or timestamps jumping back) without dropping its audio', () => {
    const { out, timeline } = collect();
    timeline.start(0);
    timeline.packet(7, 50_000, packetOf(0), 0);
    timeline.packet(8, 100_000, packetOf(1), 20);
    timeline.packet(8, 100_160, packetOf(2), 40);
    timeline.packet(8, 10, packetOf(3), 60);
    expect(runs(out)).toBe('1x160 2x160 3x160 4x160');
  });

  it('does not invent more silence than the wall clock allows when timestamps jump ahead', () => {
    const { out, timeline } = collect();
    timeline.start(0);
    timeline.packet(7, 1000, packetOf(0), 0);
    timeline.packet(7, 1000 + 8000 * 30, packetOf(1), 20);
    expect(out.length).toBeLessThanOrEqual(160 * 2 + 8 * 80);
  });
});
