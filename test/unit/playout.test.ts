import { describe, expect, it } from 'vitest';
import { FrameClock } from '../../src/media/clock.js';
import { PlayoutQueue } from '../../src/media/playout.js';
import { hogEventLoop, stallEventLoop } from '../helpers/stall.js';

const ramp = (from: number, n: number) => Int16Array.from({ length: n }, (_, i) => from + i);

describe('playout queue', () => {
  it('plays samples in order across pushes of any size and pads a short frame with silence', () => {
    const q = new PlayoutQueue(8000);
    q.push(ramp(1, 100));
    q.push(ramp(101, 150));
    const frame = new Int16Array(160);
    expect(q.pull(frame)).toBe(160);
    expect([...frame]).toEqual([...ramp(1, 160)]);
    expect(q.pull(frame)).toBe(90);
    expect([...frame.subarray(0, 90)]).toEqual([...ramp(161, 90)]);
    expect(frame.subarray(90).every((s) => s === 0)).toBe(true);
    expect(q.pull(frame)).toBe(0);
  });

  it('plays on unbroken where a frame straddles the end of its ring buffer', () => {
    const q = new PlayoutQueue(8000);
    const frame = new Int16Array(160);
    // 100 samples first, so that the later 160-sample frames are not aligned with the ring's 8000 samples.
    q.push(ramp(0, 100));
    expect(q.pull(frame)).toBe(100);
    let next = 100;
    const played: number[] = [];
    for (let i = 0; i < 60; i++) {
      q.push(ramp(next, 160));
      next += 160;
      expect(q.pull(frame)).toBe(160);
      played.push(...frame);
    }
    expect(played).toEqual([...ramp(100, 60 * 160)]);
  });

  it('answers a mark only once the audio queued before it has been pulled', () => {
    const q = new PlayoutQueue(8000);
    q.push(ramp(1, 320));
    q.mark('a');
    q.push(ramp(1, 160));
    q.mark('b');
    const frame = new Int16Array(160);
    q.pull(frame);
    expect(q.takeDueMarks()).toEqual([]);
    q.pull(frame);
    expect(q.takeDueMarks()).toEqual(['a']);
    q.pull(frame);
    expect(q.takeDueMarks()).toEqual(['b']);
    q.mark('c');
    expect(q.takeDueMarks()).toEqual(['c']);
  });

  it('clear drops everything at once and makes pending marks due', () => {
    const q = new PlayoutQueue(8000);
    q.push(ramp(1, 1000));
    q.mark('m');
    q.clear();
    expect(q.size).toBe(0);
    expect(q.takeDueMarks()).toEqual(['m']);
    const frame = new Int16Array(160).fill(7);
    expect(q.pull(frame)).toBe(0);
    expect(frame.every((s) => s === 0)).toBe(true);
  });

  it('drops the oldest audio beyond its cap, counting what it dropped, and keeps marks consistent', () => {
    const q = new PlayoutQueue(1000);
    expect(q.push(ramp(0, 800))).toBe(0);
    q.mark('early');
    expect(q.push(ramp(800, 500))).toBe(300);
    expect(q.size).toBe(1000);
    expect(q.dropped).toBe(300);
    const frame = new Int16Array(160);
    q.pull(frame);
    expect(frame[0]).toBe(300);
    expect(q.push(ramp(0, 2500))).toBe(2340);
    expect(q.size).toBe(1000);
    expect(q.takeDueMarks()).toEqual(['early']);
    q.pull(frame);
    expect(frame[0]).toBe(1500);
  });
});

describe('frames the clock skips', () => {
  it('are reported when the event loop stalls, and listeners hear how many', async () => {
    const reported: number[] = [];
    const heard: number[] = [];
    const clock = new FrameClock(20, (frames) => reported.push(frames));
    const stop = clock.add((skipped) => heard.push(skipped));
    await new Promise((r) => setTimeout(r, 30));
    stallEventLoop(250); // an event loop that falls 250 ms behind
    await new Promise((r) => setTimeout(r, 30));
    stop();
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeGreaterThanOrEqual(10);
    expect(heard.filter((n) => n > 0)).toEqual(reported);
  });
});

describe("the clock's lag", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('shows an event loop that keeps falling behind, not a single pause, and is forgotten after two seconds', async () => {
    const clock = new FrameClock(20);
    const stop = clock.add(() => {});
    await sleep(300);
    stallEventLoop(150); // one pause, as a GC makes
    await sleep(100);
    expect(clock.lagMs).toBeLessThan(20);

    const stopHog = hogEventLoop(35, 10); // busier than the clock's period: it falls behind and stays there
    await sleep(1500);
    stopHog();
    expect(clock.lagMs).toBeGreaterThan(20);
    await sleep(2300);
    expect(clock.lagMs).toBeLessThan(20);
    stop();
    expect(clock.lagMs).toBe(0);
  });

  it('sees how busy the event loop is: 0 while stopped and in its first half second, high while work fills the loop, low once it idles', async () => {
    const clock = new FrameClock(20);
    expect(clock.busy).toBe(0);
    const stop = clock.add(() => {});
    stallEventLoop(200);
    expect(clock.busy).toBe(0);
    const stopHog = hogEventLoop(30, 5); // busy about 30 ms of every 35
    await sleep(1200);
    stopHog();
    expect(clock.busy).toBeGreaterThan(0.7);
    await sleep(1200);
    expect(clock.busy).toBeLessThan(0.3);
    stop();
    expect(clock.busy).toBe(0);
  });

  it('take their audio out of the queue, so the bot does not fall behind, and answer the marks they pass', () => {
    const q = new PlayoutQueue(8000);
    q.push(ramp(1, 800));
    q.mark('passed');
    q.push(ramp(801, 400));
    q.discard(900);
    expect(q.takeDueMarks()).toEqual(['passed']);
    const frame = new Int16Array(160);
    q.pull(frame);
    expect(frame[0]).toBe(901);
    q.discard(10_000);
    expect(q.size).toBe(0);
  });
});
