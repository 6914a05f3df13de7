// WAV files for the test call: reads RIFF PCM16 and G.711 WAV into 16-bit samples, writes PCM16; names other files.
import { decodeG711, type G711Codec } from '../media/g711.js';
import { convertRate } from '../media/rate-converter.js';
import { WAV_HEADER_BYTES, wavHeader } from '../media/wav.js';
import type { Parsed } from '../signaling/parser.js';

export interface WavAudio {
  readonly sampleRate: number;
  /** 1 (mono) or 2 (stereo). */
  readonly channels: number;
  /** Interleaved when stereo; G.711 files are decoded. */
  readonly samples: Int16Array;
}

const FORMAT_PCM = 1;
const FORMAT_EXTENSIBLE = 0xfffe;
const G711_FORMATS: Readonly<Record<number, G711Codec>> = { 6: 'PCMA', 7: 'PCMU' };
const FORMAT_NAMES: Readonly<Record<number, string>> = { 2: 'ADPCM', 3: 'IEEE float', 17: 'IMA ADPCM', 49: 'GSM 6.10', 85: 'MPEG' };

/** PCM16 at any rate in this range is resampled to the line's 8 kHz (8, 11.025, 16, 22.05, 44.1, 48 kHz, ...). */
const MIN_RATE = 8000;
const MAX_RATE = 192_000;

const convert = (ext: string) =>
  ['m4a', 'webm', 'wma', 'opus', 'caf'].includes(ext)
    ? `convert it: ffmpeg -i in.${ext} -ar 8000 -ac 1 -c:a pcm_s16le out.wav`
    : `convert it: sox in.${ext} -r 8000 -c 1 -b 16 out.wav`;

const unsupported = (what: string): Parsed<WavAudio> => ({
  ok: false,
  reason:
    `unsupported WAV (${what}): use PCM16 mono or stereo at ${MIN_RATE}-${MAX_RATE} Hz, or G.711 A-law/µ-law ` +
    `(format 6/7) at 8000 Hz; ${convert('wav')}`,
});

/** Audio files by their first bytes: [test, what the file is, its usual extension]. */
const FORMATS: ReadonlyArray<readonly [(b: Buffer) => boolean, string, string]> = [
  [(b) => ascii(b, 0, 3) === 'ID3', 'an MP3 file', 'mp3'],
  // ADTS sync (12 bits) with layer 0 is AAC; MPEG audio sync (11 bits) with a layer is MP3.
  [(b) => b[0] === 0xff && (b[1]! & 0xf6) === 0xf0, 'an AAC file', 'm4a'],
  [(b) => b[0] === 0xff && (b[1]! & 0xe0) === 0xe0 && (b[1]! & 0x06) !== 0, 'an MP3 file', 'mp3'],
  [(b) => ascii(b, 0, 4) === 'OggS' && b.subarray(0, 512).includes('OpusHead'), 'an Ogg Opus file', 'opus'],
  [(b) => ascii(b, 0, 4) === 'OggS', 'an Ogg file', 'ogg'],
  [(b) => ascii(b, 0, 4) === 'fLaC', 'a FLAC file', 'flac'],
  [(b) => ascii(b, 0, 4) === 'FORM' && ['AIFF', 'AIFC'].includes(ascii(b, 8, 12)), 'an AIFF file', 'aiff'],
  [(b) => ascii(b, 4, 8) === 'ftyp', 'an MP4/M4A file', 'm4a'],
  [(b) => b.readUInt32BE(0) === 0x1a45dfa3, 'a WebM/Matroska file', 'webm'],
  [(b) => b.readUInt32BE(0) === 0x3026b275, 'a WMA/ASF file', 'wma'],
  [(b) => ascii(b, 0, 5) === '#!AMR', 'an AMR file', 'amr'],
  [(b) => ascii(b, 0, 4) === '.snd', 'a Sun/NeXT AU file', 'au'],
  [(b) => ascii(b, 0, 4) === 'caff', 'a CAF file', 'caf'],
  [(b) => ascii(b, 0, 4) === 'RF64', 'an RF64 (64-bit WAV) file', 'wav'],
];

function ascii(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('latin1', start, Math.min(end, bytes.length));
}

/** Why a file without a RIFF WAVE header cannot be played, naming what it is when its first bytes tell. */
function notWav(bytes: Buffer): string {
  const known = bytes.length >= 12 ? FORMATS.find(([test]) => test(bytes)) : undefined;
  if (known) return `this is ${known[1]}; ${convert(known[2])}`;
  if (ascii(bytes, 0, 4) === 'RIFF') return `this is a RIFF ${ascii(bytes, 8, 12).trim() || '?'} file, not a WAV`;
  return 'not a WAV file (no RIFF/WAVE header)';
}

/** Reads a RIFF WAVE file; anything but the supported formats gets a reason naming what the file holds. */
export function readWav(bytes: Buffer): Parsed<WavAudio> {
  if (bytes.length < 12 || ascii(bytes, 0, 4) !== 'RIFF' || ascii(bytes, 8, 12) !== 'WAVE') return { ok: false, reason: notWav(bytes) };
  let fmt: Buffer | undefined;
  let data: Buffer | undefined;
  for (let offset = 12; offset + 8 <= bytes.length && !data; ) {
    const id = bytes.toString('latin1', offset, offset + 4);
    const body = offset + 8;
    // Writers that stream to a pipe leave the data size at 0xffffffff: take what is there.
    const size = Math.min(bytes.readUInt32LE(offset + 4), bytes.length - body);
    if (id === 'fmt ') fmt = bytes.subarray(body, body + size);
    else if (id === 'data') data = bytes.subarray(body, body + size);
    offset = body + size + (size & 1);
  }
  if (!fmt || fmt.length < 16) return { ok: false, reason: 'WAV file has no fmt chunk' };
  if (!data) return { ok: false, reason: 'WAV file has no data chunk' };

  const channels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const bits = fmt.readUInt16LE(14);
  let format = fmt.readUInt16LE(0);
  // WAVE_FORMAT_EXTENSIBLE names the real format in the first two bytes of its sub-format GUID.
  if (format === FORMAT_EXTENSIBLE && fmt.length >= 26) format = fmt.readUInt16LE(24);
  const codec = G711_FORMATS[format];
  if (format !== FORMAT_PCM && !codec) return unsupported(`format ${format}${FORMAT_NAMES[format] ? `, ${FORMAT_NAMES[format]}` : ''}`);
  if (channels !== 1 && channels !== 2) return unsupported(`${channels} channels`);
  if (codec) {
    if (bits !== 8) return unsupported(`G.711 with ${bits} bits per sample`);
    if (sampleRate !== 8000) return unsupported(`G.711 at ${sampleRate} Hz`);
    const samples = new Int16Array(data.length);
    decodeG711(codec, data, samples);
    return { ok: true, value: { sampleRate, channels, samples } };
  }
  if (bits !== 16) return unsupported(`${bits}-bit PCM`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) return unsupported(`PCM16 at ${sampleRate} Hz`);
  const samples = new Int16Array(data.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(2 * i);
  return { ok: true, value: { sampleRate, channels, samples } };
}

/** A RIFF WAVE file of 16-bit PCM. */
export function writeWav(audio: WavAudio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(WAV_HEADER_BYTES + dataBytes);
  wavHeader(audio.sampleRate, audio.channels, dataBytes, out);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i]!, WAV_HEADER_BYTES + 2 * i);
  return out;
}

/** The audio as a phone line carries it: mono (channels averaged) at 8 kHz. */
export function toCarrierAudio(audio: WavAudio): Int16Array {
  const frames = Math.floor(audio.samples.length / audio.channels);
  let mono = audio.samples.subarray(0, frames);
  if (audio.channels === 2) {
    mono = new Int16Array(frames);
    for (let i = 0; i < frames; i++) mono[i] = Math.round((audio.samples[2 * i]! + audio.samples[2 * i + 1]!) / 2);
  }
  return convertRate(mono, audio.sampleRate, 8000);
}
