// G.711 A-law / mu-law through lookup tables built once from alawmulaw's per-sample codecs.
import alawmulaw from 'alawmulaw';

const { alaw, mulaw } = alawmulaw;

export type G711Codec = 'PCMA' | 'PCMU';

export const G711_PAYLOAD_TYPE: Readonly<Record<G711Codec, number>> = Object.freeze({ PCMU: 0, PCMA: 8 });

interface Tables {
  readonly decode: Int16Array;
  /** Indexed by `sample & 0xffff`. */
  readonly encode: Uint8Array;
}

function buildTables(codec: typeof alaw): Tables {
  const decode = new Int16Array(256);
  for (let b = 0; b < 256; b++) decode[b] = codec.decodeSample(b);
  // mulaw.encodeSample returns a negative number (a bitwise NOT); the Uint8Array store keeps its low byte.
  const encode = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) encode[i] = codec.encodeSample((i << 16) >> 16);
  return { decode, encode };
}

const TABLES: Readonly<Record<G711Codec, Tables>> = { PCMA: buildTables(alaw), PCMU: buildTables(mulaw) };

/**
 * Decodes `count` bytes of `src` from srcOffset (all of it by default) into `dst` at dstOffset; returns `count`. No
 * allocation: an RTP payload is decoded in place in its packet.
 */
export function decodeG711(codec: G711Codec, src: Uint8Array, dst: Int16Array, dstOffset = 0, srcOffset = 0, count = src.length - srcOffset): number {
  if (srcOffset < 0 || count < 0 || srcOffset + count > src.length || dstOffset < 0 || dstOffset + count > dst.length) {
    throw new RangeError(`decodeG711: ${count} samples out of range (src ${srcOffset}/${src.length}, dst ${dstOffset}/${dst.length})`);
  }
  const table = TABLES[codec].decode;
  for (let i = 0; i < count; i++) dst[dstOffset + i] = table[src[srcOffset + i]!]!;
  return count;
}

/** Encodes `count` samples of `src` from srcOffset into `dst` at dstOffset. No allocation. */
export function encodeG711(
  codec: G711Codec,
  src: Int16Array,
  srcOffset: number,
  count: number,
  dst: Uint8Array,
  dstOffset: number,
): void {
  if (srcOffset < 0 || count < 0 || srcOffset + count > src.length || dstOffset < 0 || dstOffset + count > dst.length) {
    throw new RangeError(`encodeG711: ${count} samples out of range (src ${srcOffset}/${src.length}, dst ${dstOffset}/${dst.length})`);
  }
  const table = TABLES[codec].encode;
  for (let i = 0; i < count; i++) dst[dstOffset + i] = table[src[srcOffset + i]! & 0xffff]!;
}

/** A-law byte -> mu-law byte of the same sample, through PCM (as a transcoding gateway does). */
const ALAW_TO_MULAW = new Uint8Array(256);
for (let b = 0; b < 256; b++) ALAW_TO_MULAW[b] = TABLES.PCMU.encode[TABLES.PCMA.decode[b]! & 0xffff]!;

/** Rewrites `count` bytes of `src` (from srcOffset) in `codec` as mu-law into `dst` at dstOffset. No allocation. */
export function toMulaw(codec: G711Codec, src: Uint8Array, srcOffset: number, count: number, dst: Uint8Array, dstOffset = 0): void {
  if (srcOffset < 0 || count < 0 || srcOffset + count > src.length || dstOffset < 0 || dstOffset + count > dst.length) {
    throw new RangeError(`toMulaw: ${count} bytes out of range (src ${srcOffset}/${src.length}, dst ${dstOffset}/${dst.length})`);
  }
  if (codec === 'PCMU') {
    dst.set(src.subarray(srcOffset, srcOffset + count), dstOffset);
    return;
  }
  for (let i = 0; i < count; i++) dst[dstOffset + i] = ALAW_TO_MULAW[src[srcOffset + i]!]!;
}
