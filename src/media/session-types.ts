// The media session's vocabulary: its options, events, negotiated format and stats, and the carrier's frame size.
import type { Logger } from 'pino';
import { FRAME_MS, type FrameClock } from './clock.js';
import type { DtmfDigit } from './dtmf.js';
import type { G711Codec } from './g711.js';
import type { LatencySummary } from './latency.js';
import type { BoundRtpSocket } from './ports.js';
import type { PcmRate } from './resampler.js';

export const CARRIER_RATE = 8000;
export const FRAME_SAMPLES = (CARRIER_RATE * FRAME_MS) / 1000;

export interface MediaSessionOptions {
  readonly rtp: BoundRtpSocket;
  /** Gives the port back to its pool; called once, on close. */
  readonly releasePort: () => void;
  readonly codec: G711Codec;
  readonly payloadType: number;
  /** telephone-event payload type from the SDP; without it DTMF can be neither received nor sent. */
  readonly dtmfPayloadType?: number;
  readonly remote: { readonly address: string; readonly port: number };
  /** Our direction in the answer (sendrecv when not given); see MediaFormat. */
  readonly direction?: MediaFormat['direction'];
  /** The bot's PCM rate, both ways. */
  readonly botRate: PcmRate;
  /** Length of each caller-audio chunk handed to the bot. */
  readonly chunkMs: number;
  /** Cap on queued bot audio; the oldest is dropped beyond it. */
  readonly maxQueueMs: number;
  /** Where caller RTP may come from before latching: the SDP's IP (any port), or anywhere. */
  readonly latch: 'sdp-ip' | 'any';
  /** No caller RTP for this long raises `rtpTimeout`; 0 never does. */
  readonly rtpTimeoutMs: number;
  readonly clock: FrameClock;
  readonly log: Logger;
  /** Hears every latency observation as it is made (for process-wide metrics). */
  readonly onLatency?: (path: LatencyPath, ms: number) => void;
  /** Listen-only: the bot hears the caller, but nothing it sends is played (counted, warned about once). */
  readonly listenOnly?: boolean;
  /**
   * What the bot takes of the caller (pcm16 when not given): `pcm16` chunks (`callerAudio`), or `mulaw` payloads
   * (`callerMulaw`), for which the caller's audio is neither resampled nor chunked, and decoded only to be recorded.
   */
  readonly callerAudio?: CallerAudio;
}

/** The caller audio a session hands its bot: PCM16 chunks at the bot's rate, or 8 kHz mu-law payloads. */
export type CallerAudio = 'pcm16' | 'mulaw';

/**
 * caller_to_bot: arrival of the RTP packet that completes a chunk (every packet, for mu-law) -> that chunk handed to
 * the bot's socket.
 * bot_to_caller: a bot media message received -> its first sample sent to the caller (after the audio queued before it).
 */
export type LatencyPath = 'caller_to_bot' | 'bot_to_caller';

export interface MediaSessionEvents {
  /** A chunk of caller audio, PCM16LE at the bot's rate; the buffer is reused after the listener returns. */
  callerAudio: [chunk: Buffer];
  /**
   * Each caller audio packet's payload as mu-law (`length` bytes of `bytes` from `offset`), in arrival order, for bots
   * that take mu-law: a PCMU payload as it came, a PCMA one transcoded. The bytes are only valid while the listener runs.
   */
  callerMulaw: [bytes: Buffer, offset: number, length: number];
  /** All bot audio queued before this mark has been sent to the caller. */
  markPlayed: [name: string];
  /** The caller pressed a key (RFC 4733 event). */
  dtmf: [digit: DtmfDigit, durationMs: number];
  /** No RTP from the caller for rtpTimeoutMs: the caller is gone. */
  rtpTimeout: [];
}

/** What an SDP answer settled for the media; a re-offer's answer may change any of it. */
export interface MediaFormat {
  readonly codec: G711Codec;
  readonly payloadType: number;
  readonly dtmfPayloadType?: number;
  readonly remote: { readonly address: string; readonly port: number };
  /** Our direction in the answer: we send on sendrecv and sendonly, and expect caller RTP on sendrecv and recvonly. */
  readonly direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
}

export type DropReason = 'malformed' | 'foreignSource' | 'unexpectedPayloadType';

export interface MediaStats {
  packetsIn: number;
  packetsOut: number;
  /** Caller audio packets that never came (RFC 3550: expected minus received). */
  packetsLost: number;
  /** The caller stream's RFC 3550 interarrival jitter, in ms. */
  jitterMs: number;
  latency: Record<LatencyPath, LatencySummary>;
  /** Packets ignored, by why: not RTP, from an address that is not the caller's, a payload type not negotiated. */
  dropped: Record<DropReason, number>;
  /** Caller packets dropped as duplicates or too late for the bot's stream. */
  latePackets: number;
  /** Caller audio replaced by silence (lost packets, pauses), in ms. */
  silenceFilledMs: number;
  /** Bot audio dropped because the playout queue was full, in ms. */
  queueDroppedMs: number;
  /** Bot audio (and key presses) not played because the stream is listen-only, in ms. */
  listenOnlyIgnoredMs: number;
}

/** The format in force, shared by the receive and send sides and updated in place by a re-offer; `remote` is the SDP's. */
export interface LegFormat {
  codec: G711Codec;
  payloadType: number;
  dtmfPayloadType: number | undefined;
  remote: { address: string; port: number };
}

/** Where the caller's media goes: the SDP's address until latching moves it; shared by both sides, updated in place. */
export interface RemoteAddress {
  address: string;
  port: number;
}
