// PCM16LE bytes seen as Int16Array samples in place: the media path assumes a little-endian CPU, as Node's usual ones are.
import { endianness } from 'node:os';

if (endianness() !== 'LE') throw new Error('the media path needs a little-endian CPU: it reads PCM16LE bytes as Int16Array in place');

/** The samples of PCM16LE `bytes` (an even length): a view when the bytes are 2-aligned, else a copy. */
export function pcm16Samples(bytes: Uint8Array): Int16Array {
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  return new Int16Array(new Uint8Array(bytes).buffer, 0, bytes.length >> 1);
}
