import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import { decodeG711, encodeG711, G711_PAYLOAD_TYPE, toMulaw, type G711Codec } from '../../src/media/g711.js';
import { rms, tone } from '../helpers/audio.js';

const reference = { PCMA: alawmulaw.alaw, PCMU: alawmulaw.mulaw } as const;
const codecs: G711Codec[] = ['PCMA', 'PCMU'];

describe('G.711', () => {
  it('uses the static payload types PCMU 0 and PCMA 8', () => {
    expect(G711_PAYLOAD_TYPE).toEqual({ PCMU: 0, PCMA: 8 });
  });

  for (const codec of codecs) {
    describe(codec, () => {
      it("decodes all 256 bytes exactly like alawmulaw's decodeSample", () => {
        const src = Uint8Array.from({ length: 256 }, (_, i) => i);
        const dst = new Int16Array(256);
        expect(decodeG711(codec, src, dst)).toBe(256);
        // Through an Int16Array, so mu-law's -0 for byte 0x7f compares as 0.
        expect(dst).toEqual(Int16Array.from(src, (b) => reference[codec].decodeSample(b)));
      });

      it("encodes all 65536 samples exactly like alawmulaw's encodeSample", () => {
        const src = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
        const dst = new Uint8Array(65536);
        encodeG711(codec, src, 0, src.length, dst, 0);
        const mismatches: number[] = [];
        for (let i = 0; i < src.length; i++) {
          if (dst[i] !== (reference[codec].encodeSample(src[i]!) & 0xff)) mismatches.push(src[i]!);
        }
        expect(mismatches).toEqual([]);
      });

      it('round-trips a tone within the companding error bound', () => {
        const src = tone(1000, 8000, 8000, 12000);
        const bytes = new Uint8Array(src.length);
        encodeG711(codec, src, 0, src.length, bytes, 0);
        const back = new Int16Array(src.length);
        decodeG711(codec, bytes, back);
        const err = new Int16Array(src.length);
        for (let i = 0; i < src.length; i++) {
          err[i] = back[i]! - src[i]!;
          expect(Math.abs(err[i]!), `sample ${i}`).toBeLessThanOrEqual(Math.abs(src[i]!) / 32 + 8);
        }
        expect(20 * Math.log10(rms(src) / rms(err))).toBeGreaterThan(30);
      });

      it("encodes silence as the codec's silence byte, which decodes to (near) zero", () => {
        const bytes = new Uint8Array(1);
        encodeG711(codec, Int16Array.of(0), 0, 1, bytes, 0);
        expect(bytes[0]).toBe(codec === 'PCMA' ? 0xd5 : 0xff);
        const dst = new Int16Array(1);
        decodeG711(codec, bytes, dst);
        expect(Math.abs(dst[0]!)).toBeLessThanOrEqual(8);
      });

      it('respects source and destination offsets', () => {
        const src = Int16Array.of(111, -2222, 3333, -4444, 5555);
        const bytes = new Uint8Array(6).fill(0x42);
        encodeG711(codec, src, 1, 3, bytes, 2);
        expect(Array.from(bytes.subarray(0, 2))).toEqual([0x42, 0x42]);
        expect(bytes[5]).toBe(0x42);
        for (let i = 0; i < 3; i++) expect(bytes[2 + i]).toBe(reference[codec].encodeSample(src[1 + i]!) & 0xff);

        const decoded = new Int16Array(7).fill(99);
        expect(decodeG711(codec, bytes.subarray(2, 5), decoded, 3)).toBe(3);
        expect(Array.from(decoded.subarray(0, 3))).toEqual([99, 99, 99]);
        expect(decoded[6]).toBe(99);
        for (let i = 0; i < 3; i++) expect(decoded[3 + i]).toBe(reference[codec].decodeSample(bytes[2 + i]!));

        const inPlace = new Int16Array(7).fill(99);
        expect(decodeG711(codec, bytes, inPlace, 3, 2, 3)).toBe(3);
        expect(inPlace).toEqual(decoded);
      });

      it('rejects ranges that do not fit', () => {
        expect(() => decodeG711(codec, new Uint8Array(4), new Int16Array(5), 2)).toThrow(RangeError);
        expect(() => decodeG711(codec, new Uint8Array(4), new Int16Array(8), 0, 2, 3)).toThrow(RangeError);
        expect(() => encodeG711(codec, new Int16Array(4), 2, 3, new Uint8Array(8), 0)).toThrow(RangeError);
        expect(() => encodeG711(codec, new Int16Array(4), 0, 4, new Uint8Array(4), 1)).toThrow(RangeError);
      });
    });
  }
});

describe('toMulaw', () => {
  it('A-law rewritten as mu-law keeps the samples; mu-law is copied as is', () => {
    const samples = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin(i / 3)));
    const alaw = new Uint8Array(160);
    encodeG711('PCMA', samples, 0, 160, alaw, 0);
    const mulaw = new Uint8Array(160);
    toMulaw('PCMA', alaw, 0, 160, mulaw);
    const back = new Int16Array(160);
    decodeG711('PCMU', mulaw, back);
    for (let i = 0; i < 160; i++) expect(Math.abs(back[i]! - samples[i]!)).toBeLessThanOrEqual(Math.max(64, Math.abs(samples[i]!) / 8));
    const copied = new Uint8Array(160);
    toMulaw('PCMU', mulaw, 0, 160, copied);
    expect(copied).toEqual(mulaw);
  });
});
