// A call's media session from what its SDP exchange settled, with the call's media settings (both directions).
import type { Logger } from 'pino';
import { MediaSession, type BoundRtpSocket, type CallerAudio, type FrameClock, type PcmRate, type RtpengineRelay, type RtpPortPool } from '../media/index.js';
import type { NegotiatedAudio } from '../sdp/index.js';
import type { CallObserver } from './report.js';

export interface CallMediaSettings {
  readonly pool: RtpPortPool;
  readonly clock: FrameClock;
  /** Address in our SDP. */
  readonly advertisedAddress: string;
  readonly maxQueueMs: number;
  readonly latch: 'sdp-ip' | 'any';
  readonly rtpTimeoutMs: number;
  /** rtpengine in front of the bridge's media, when configured. */
  readonly relay?: RtpengineRelay;
}

export function openMediaSession(
  settings: CallMediaSettings,
  rtp: BoundRtpSocket,
  audio: Pick<NegotiatedAudio, 'codec' | 'payloadType' | 'dtmfPayloadType' | 'remote' | 'direction'>,
  bot: { readonly rate: PcmRate; readonly chunkMs: number; readonly listenOnly?: boolean; readonly callerAudio?: CallerAudio },
  log: Logger,
  observer: CallObserver | undefined,
): MediaSession {
  return new MediaSession({
    rtp,
    releasePort: () => settings.pool.release(rtp.port),
    codec: audio.codec,
    payloadType: audio.payloadType,
    ...(audio.dtmfPayloadType !== undefined && { dtmfPayloadType: audio.dtmfPayloadType }),
    remote: audio.remote,
    direction: audio.direction,
    botRate: bot.rate,
    chunkMs: bot.chunkMs,
    ...(bot.listenOnly && { listenOnly: true }),
    ...(bot.callerAudio && { callerAudio: bot.callerAudio }),
    maxQueueMs: settings.maxQueueMs,
    latch: settings.latch,
    rtpTimeoutMs: settings.rtpTimeoutMs,
    clock: settings.clock,
    log,
    ...(observer && { onLatency: observer.latency.bind(observer) }),
  });
}
