// A leg's recorder, opened at `start` when the spec asks for one (the upload afterwards is the call's business).
import type { Logger } from 'pino';
import { CallRecorder } from '../media/index.js';
import type { LegRecording } from './types.js';

/** The file's rate: 16 kHz for a wideband bot, else the carrier's 8 kHz. */
export function openRecorder(recording: LegRecording, callSid: string, botRate: number, log: Logger, onError: () => void): CallRecorder {
  const recorder = new CallRecorder({
    dir: recording.dir,
    name: callSid,
    channels: recording.channels,
    rate: botRate >= 16000 ? 16000 : 8000,
    flushMs: recording.flushMs,
    onError: (err) => {
      log.error({ err: err.message, path: recorder.path }, 'recording stopped on a disk error; the call goes on');
      onError();
    },
  });
  return recorder;
}
