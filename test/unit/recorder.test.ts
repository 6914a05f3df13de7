// The call recorder on its own: channels, rates, a header kept up to date while the file grows, safe names, disk errors.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CallRecorder, FrameRing, RECORDER_FRAME_SAMPLES, safeFileName } from '../../src/media/recorder.js';
import { readWav } from '../../src/test-call/wav.js';
import { dominantFrequency, rms, tone } from '../helpers/audio.js';

const dir = mkdtempSync(join(tmpdir(), 'recorder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SILENCE = new Int16Array(RECORDER_FRAME_SAMPLES);
const caller = tone(1000, 8000, 200 * RECORDER_FRAME_SAMPLES);
const bot = tone(600, 8000, 200 * RECORDER_FRAME_SAMPLES);
const frame = (samples: Int16Array, i: number) => samples.subarray(i * RECORDER_FRAME_SAMPLES, (i + 1) * RECORDER_FRAME_SAMPLES);

/** 2 s: the caller throughout, the bot's reply in the second second. */
function feed(recorder: CallRecorder, frames = 100): void {
  for (let i = 0; i < frames; i++) recorder.frame(frame(caller, i), i >= 50 ? frame(bot, i) : SILENCE);
}

function channel(samples: Int16Array, channels: number, which: number, rate: number, fromS: number, toS: number): Int16Array {
  const out = new Int16Array(Math.round((toS - fromS) * rate));
  const first = Math.round(fromS * rate);
  for (let i = 0; i < out.length; i++) out[i] = samples[(first + i) * channels + which]!;
  return out;
}

describe('CallRecorder', () => {
  it('dual: the caller left, what the caller heard right, 8 kHz PCM16, sizes in the header', async () => {
    const recorder = new CallRecorder({ dir, name: 'dual', channels: 'dual', rate: 8000, flushMs: 200 });
    feed(recorder);
    const result = await recorder.close();
    expect(result).toEqual({ path: join(dir, 'dual.wav'), duration_s: 2, bytes: 44 + 2 * 8000 * 4 });
    const bytes = readFileSync(result.path);
    expect(bytes.length).toBe(result.bytes);
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
    const wav = readWav(bytes);
    if (!wav.ok) throw new Error(wav.reason);
    expect(wav.value).toMatchObject({ sampleRate: 8000, channels: 2 });
    const s = wav.value.samples;
    expect(dominantFrequency(channel(s, 2, 0, 8000, 0.1, 1.9), 8000)).toBeCloseTo(1000, -1);
    expect(rms(channel(s, 2, 1, 8000, 0.1, 0.9))).toBe(0);
    expect(dominantFrequency(channel(s, 2, 1, 8000, 1.1, 1.9), 8000)).toBeCloseTo(600, -1);
  });

  it('mono: the two mixed', async () => {
    const recorder = new CallRecorder({ dir, name: 'mono', channels: 'mono', rate: 8000 });
    feed(recorder);
    const result = await recorder.close();
    const wav = readWav(readFileSync(result.path));
    if (!wav.ok) throw new Error(wav.reason);
    expect(wav.value).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(result.bytes).toBe(44 + 2 * 8000 * 2);
    const s = wav.value.samples;
    expect(dominantFrequency(channel(s, 1, 0, 8000, 0.1, 0.9), 8000)).toBeCloseTo(1000, -1);
    const both = channel(s, 1, 0, 8000, 1.1, 1.9);
    expect(rms(both)).toBeGreaterThan(rms(channel(s, 1, 0, 8000, 0.1, 0.9)) * 1.2);
  });

  it('16 kHz: the line audio resampled up', async () => {
    const recorder = new CallRecorder({ dir, name: 'wide', channels: 'dual', rate: 16000 });
    feed(recorder);
    const result = await recorder.close();
    expect(result.duration_s).toBe(2);
    const wav = readWav(readFileSync(result.path));
    if (!wav.ok) throw new Error(wav.reason);
    expect(wav.value).toMatchObject({ sampleRate: 16000, channels: 2 });
    expect(dominantFrequency(channel(wav.value.samples, 2, 0, 16000, 0.1, 1.9), 16000)).toBeCloseTo(1000, -1);
    expect(dominantFrequency(channel(wav.value.samples, 2, 1, 16000, 1.1, 1.9), 16000)).toBeCloseTo(600, -1);
  });

  it('keeps the header true to the file at every flush, so the file plays while it grows', async () => {
    const recorder = new CallRecorder({ dir, name: 'growing', channels: 'dual', rate: 8000, flushMs: 100 });
    feed(recorder, 27);
    await new Promise((r) => setTimeout(r, 100));
    const bytes = readFileSync(recorder.path);
    expect(bytes.length).toBe(44 + 25 * 160 * 4);
    expect(bytes.readUInt32LE(40)).toBe(25 * 160 * 4);
    expect(readWav(bytes).ok).toBe(true);
    await recorder.close();
    expect(statSync(recorder.path).size).toBe(44 + 27 * 160 * 4);
  });

  it('does not overwrite the recording of an earlier call with the same sid', async () => {
    const first = new CallRecorder({ dir, name: 'same', channels: 'mono', rate: 8000 });
    feed(first, 5);
    await first.close();
    const second = new CallRecorder({ dir, name: 'same', channels: 'mono', rate: 8000 });
    feed(second, 5);
    const result = await second.close();
    expect(result.path).toMatch(/same-[0-9a-f]{8}\.wav$/);
    expect(statSync(join(dir, 'same.wav')).size).toBe(44 + 5 * 320);
  });

  it('a disk error stops the recording and is reported once, without throwing', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const errors: Error[] = [];
    const recorder = new CallRecorder({ dir: file, name: 'x', channels: 'dual', rate: 8000, flushMs: 20, onError: (e) => errors.push(e) });
    feed(recorder, 10);
    const result = await recorder.close();
    expect(errors).toHaveLength(1);
    expect(result.error).toMatch(/EEXIST|ENOTDIR/);
    expect(result.bytes).toBe(0);
  });
});

describe('safeFileName', () => {
  it('keeps [A-Za-z0-9_-] and replaces the rest: no path from a header value', () => {
    expect(safeFileName('CA1234_ab-c')).toBe('CA1234_ab-c');
    expect(safeFileName('../../etc/x')).toBe('______etc_x');
    expect(safeFileName('a/b\\c\0d')).toBe('a_b_c_d');
    expect(safeFileName('..')).toMatch(/^call-[0-9a-f]{12}$/);
    expect(safeFileName('x'.repeat(300))).toHaveLength(128);
  });
});

describe('FrameRing', () => {
  it('gives out a frame at a time, silence when short, and drops the oldest when full', () => {
    const ring = new FrameRing(320);
    const out = new Int16Array(160);
    ring.write(Int16Array.from({ length: 100 }, (_, i) => i + 1));
    ring.read(out);
    expect(out[0]).toBe(1);
    expect(out[99]).toBe(100);
    expect(out[100]).toBe(0);
    ring.write(Int16Array.from({ length: 400 }, (_, i) => i + 1));
    ring.read(out);
    expect(out[0]).toBe(81);
  });
});
