// Media: RTP sockets and packets, G.711 and resampling, the 20 ms playout clock and each call's media session.
export { FRAME_MS, FrameClock } from './clock.js';
export { watchEventLoop } from './loop-load.js';
export { isDtmfDigit, type DtmfDigit } from './dtmf.js';
export type { G711Codec } from './g711.js';
export { RtpPortPool, type BoundRtpSocket } from './ports.js';
export { OutboundRelaySession, RelayError, RelaySession, RtpengineRelay, type RtpengineOptions } from './rtpengine.js';
export { RtpengineWatch, type RelayStatus } from './rtpengine-watch.js';
export type { PcmRate } from './resampler.js';
export type { LatencySummary } from './latency.js';
export { CallRecorder, safeFileName, type FrameSink, type RecordingChannels, type RecordingResult } from './recorder.js';
export { MediaSession, type CallerAudio, type LatencyPath, type MediaFormat, type MediaSessionEvents, type MediaSessionOptions, type MediaStats } from './session.js';
export { joinSessions } from './join.js';
