// npm run make-sample: writes the caller audio that the README's `npm run call` example plays (test/audio/hello.wav).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { speechSample } from './sample.js';
import { writeWav } from './wav.js';

const out = process.argv[2] ?? 'test/audio/hello.wav';
const audio = speechSample();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, writeWav(audio));
console.log(`wrote ${out}: ${(audio.samples.length / audio.sampleRate).toFixed(2)} s at ${audio.sampleRate} Hz`);
