import { describe, expect, it } from 'vitest';
import { decodeG711, encodeG711, type G711Codec } from '../../src/media/g711.js';
import { readWav, toCarrierAudio, writeWav, type WavAudio } from '../../src/test-call/wav.js';
import { dominantFrequency, rms, samplesToPcm16le, tone } from '../helpers/audio.js';

/** A WAV file with any fmt fields, for formats writeWav does not write; `chunks` go between fmt and data. */
function wavFile(fmt: { format: number; channels: number; rate: number; bits: number; extra?: Buffer }, data: Buffer, chunks: Buffer[] = []): Buffer {
  const fmtBody = Buffer.alloc(16);
  fmtBody.writeUInt16LE(fmt.format, 0);
  fmtBody.writeUInt16LE(fmt.channels, 2);
  fmtBody.writeUInt32LE(fmt.rate, 4);
  fmtBody.writeUInt32LE((fmt.rate * fmt.channels * fmt.bits) / 8, 8);
  fmtBody.writeUInt16LE((fmt.channels * fmt.bits) / 8, 12);
  fmtBody.writeUInt16LE(fmt.bits, 14);
  const body = Buffer.concat([fmtBody, fmt.extra ?? Buffer.alloc(0)]);
  const parts = [chunk('fmt ', body), ...chunks, chunk('data', data)];
  const riff = Buffer.concat([Buffer.from('WAVE'), ...parts]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(riff.length, 4);
  return Buffer.concat([head, riff]);
}

function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, Buffer.alloc(body.length & 1)]);
}

function read(bytes: Buffer): WavAudio {
  const parsed = readWav(bytes);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

function refusal(bytes: Buffer): string {
  const parsed = readWav(bytes);
  if (parsed.ok) throw new Error('read an unsupported WAV');
  return parsed.reason;
}

describe('the test call reads and writes WAV', () => {
  for (const sampleRate of [8000, 16000, 24000] as const) {
    for (const channels of [1, 2]) {
      it(`round-trips PCM16 ${channels === 1 ? 'mono' : 'stereo'} at ${sampleRate} Hz`, () => {
        const audio: WavAudio = { sampleRate, channels, samples: tone(440, sampleRate, sampleRate / 10 * channels, 20000) };
        const bytes = writeWav(audio);
        expect(bytes.length).toBe(44 + audio.samples.length * 2);
        expect(read(bytes)).toEqual(audio);
      });
    }
  }

  it.each([
    [6, 'PCMA'],
    [7, 'PCMU'],
  ] as const)('decodes G.711 format %i (%s) at 8 kHz', (format, codec: G711Codec) => {
    const samples = tone(1000, 8000, 800, 12000);
    const encoded = Buffer.alloc(samples.length);
    encodeG711(codec, samples, 0, samples.length, encoded, 0);
    const expected = new Int16Array(samples.length);
    decodeG711(codec, encoded, expected);
    expect(read(wavFile({ format, channels: 1, rate: 8000, bits: 8 }, encoded))).toEqual({ sampleRate: 8000, channels: 1, samples: expected });
  });

  it('skips other chunks (odd sizes padded), reads WAVE_FORMAT_EXTENSIBLE PCM and a data size left unset by a streaming writer', () => {
    const samples = tone(500, 16000, 320);
    const data = samplesToPcm16le(samples);
    const list = chunk('LIST', Buffer.from('INFOabc'));
    expect(read(wavFile({ format: 1, channels: 1, rate: 16000, bits: 16 }, data, [list])).samples).toEqual(samples);

    // cbSize 22, valid bits, channel mask, then the sub-format GUID whose first two bytes are the format (1 = PCM).
    const extra = Buffer.alloc(24);
    extra.writeUInt16LE(22, 0);
    extra.writeUInt16LE(16, 2);
    extra.writeUInt16LE(1, 8);
    expect(read(wavFile({ format: 0xfffe, channels: 1, rate: 16000, bits: 16, extra }, data)).samples).toEqual(samples);

    const streamed = wavFile({ format: 1, channels: 1, rate: 16000, bits: 16 }, data);
    streamed.writeUInt32LE(0xffffffff, streamed.length - data.length - 4);
    expect(read(streamed).samples).toEqual(samples);
  });

  it('turns any supported file into 8 kHz mono for the phone line', () => {
    const wide = toCarrierAudio({ sampleRate: 24000, channels: 1, samples: tone(1000, 24000, 24000) });
    expect(wide).toHaveLength(8000);
    expect(Math.abs(dominantFrequency(wide.subarray(400), 8000) - 1000)).toBeLessThanOrEqual(5);

    const stereo = new Int16Array([100, 300, -50, -150, 7, 8]);
    expect(toCarrierAudio({ sampleRate: 8000, channels: 2, samples: stereo })).toEqual(new Int16Array([200, -100, 8]));
  });

  it.each([22050, 44100])('reads PCM16 at %i Hz and plays it at 8 kHz, a tone keeping its frequency', (rate) => {
    const stereo = Int16Array.from(Array.from(tone(1000, rate, rate, 12000)).flatMap((v) => [v, v]));
    const audio = read(writeWav({ sampleRate: rate, channels: 2, samples: stereo }));
    expect(audio).toMatchObject({ sampleRate: rate, channels: 2 });
    const line = toCarrierAudio(audio);
    expect(line).toHaveLength(8000);
    expect(Math.abs(dominantFrequency(line.subarray(400, 7600), 8000) - 1000)).toBeLessThanOrEqual(2);
    expect(rms(line.subarray(400, 7600))).toBeCloseTo(12000 / Math.SQRT2, -2);
  });

  it('names an MP3, Ogg, FLAC or other audio file by its first bytes and says how to convert it', () => {
    const file = (head: string | number[], length = 64) => Buffer.concat([Buffer.from(head as string), Buffer.alloc(length)]);
    const sox = (ext: string) => `convert it: sox in.${ext} -r 8000 -c 1 -b 16 out.wav`;
    expect(refusal(file('ID3\x04\x00'))).toBe(`this is an MP3 file; ${sox('mp3')}`);
    expect(refusal(file([0xff, 0xfb, 0x90, 0x64]))).toBe(`this is an MP3 file; ${sox('mp3')}`);
    expect(refusal(file([0xff, 0xf1, 0x50, 0x80]))).toBe('this is an AAC file; convert it: ffmpeg -i in.m4a -ar 8000 -ac 1 -c:a pcm_s16le out.wav');
    expect(refusal(file('OggS\x00\x02'))).toBe(`this is an Ogg file; ${sox('ogg')}`);
    expect(refusal(file('OggS\x00\x02 ... OpusHead'))).toMatch(/^this is an Ogg Opus file; convert it: ffmpeg -i in\.opus /);
    expect(refusal(file('fLaC\x00\x00\x00\x22'))).toBe(`this is a FLAC file; ${sox('flac')}`);
    expect(refusal(file('\x00\x00\x00\x20ftypM4A '))).toMatch(/^this is an MP4\/M4A file; convert it: ffmpeg /);
    expect(refusal(file('FORM\x00\x00\x10\x00AIFF'))).toBe(`this is an AIFF file; ${sox('aiff')}`);
    expect(refusal(file('RIFF\x00\x00\x10\x00AVI LIST'))).toBe('this is a RIFF AVI file, not a WAV');
    expect(refusal(file('just some text'))).toBe('not a WAV file (no RIFF/WAVE header)');
    expect(refusal(Buffer.from('ID3'))).toBe('not a WAV file (no RIFF/WAVE header)');
  });

  it('refuses what it cannot play, saying what the file holds and what would do', () => {
    const pcm = Buffer.alloc(320);
    expect(refusal(wavFile({ format: 3, channels: 1, rate: 8000, bits: 32 }, pcm))).toBe(
      'unsupported WAV (format 3, IEEE float): use PCM16 mono or stereo at 8000-192000 Hz, or G.711 A-law/µ-law (format 6/7) at 8000 Hz; ' +
        'convert it: sox in.wav -r 8000 -c 1 -b 16 out.wav',
    );
    expect(refusal(wavFile({ format: 1, channels: 1, rate: 8000, bits: 24 }, pcm))).toMatch(/^unsupported WAV \(24-bit PCM\): use PCM16/);
    expect(refusal(wavFile({ format: 1, channels: 1, rate: 6000, bits: 16 }, pcm))).toMatch(/^unsupported WAV \(PCM16 at 6000 Hz\)/);
    expect(refusal(wavFile({ format: 1, channels: 6, rate: 8000, bits: 16 }, pcm))).toMatch(/^unsupported WAV \(6 channels\)/);
    expect(refusal(wavFile({ format: 6, channels: 1, rate: 16000, bits: 8 }, pcm))).toMatch(/^unsupported WAV \(G\.711 at 16000 Hz\)/);
    expect(refusal(wavFile({ format: 2, channels: 1, rate: 8000, bits: 4 }, pcm))).toMatch(/^unsupported WAV \(format 2, ADPCM\)/);
    const noData = wavFile({ format: 1, channels: 1, rate: 8000, bits: 16 }, pcm).subarray(0, 36);
    expect(refusal(noData)).toBe('WAV file has no data chunk');
  });
});
