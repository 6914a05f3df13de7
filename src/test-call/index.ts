// The test call as a library: place a carrier-shaped call to a bridge from code, and read or write its WAV files.
export type { CallOutcome, LadderEntry, MediaReport, TestCallOptions, TestCallResult } from './call-types.js';
export { placeTestCall } from './caller.js';
export { parseCallTarget, type CallTarget, type CallTransport } from './target.js';
export { readWav, toCarrierAudio, writeWav, type WavAudio } from './wav.js';
