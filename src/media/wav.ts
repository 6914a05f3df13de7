// The RIFF WAVE header of 16-bit PCM, shared by the recorder (which rewrites it as its file grows) and the test call.

export const WAV_HEADER_BYTES = 44;
const FORMAT_PCM = 1;

/** Writes a canonical 44-byte PCM16 header for `dataBytes` of samples into `out` (a fresh buffer when not given). */
export function wavHeader(sampleRate: number, channels: number, dataBytes: number, out: Buffer = Buffer.alloc(WAV_HEADER_BYTES)): Buffer {
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  out.write('WAVEfmt ', 8, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(Math.min(0xffffffff, dataBytes), 40);
  return out;
}
