// The test call as a library: place a carrier-shaped call to a bridge from code, and read or write its WAV files.
export { placeTestCall, type CallOutcome, type LadderEntry, type MediaReport, type TestCallOptions, type TestCallResult } from './caller.js';
export { parseCallTarget, type CallTarget, type CallTransport } from './target.js';
export { readWav, toCarrierAudio, writeWav, type WavAudio } from './wav.js';
