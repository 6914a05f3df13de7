// What the main thread and a media worker say to each other: a few messages per leg (its verbs, its events, its
// report) and one `stats` message per worker a second; never one per packet.
import type { StopReason, StreamStart } from '../bot/index.js';
import type { LatencyPath, MediaFormat } from '../media/index.js';
import type { HostLoad, HostSettings, LegOpenError, LegReport, LegSpec, LiveMedia, PeerBot, StreamLegEvents } from './types.js';

/** What a worker is started with (its `workerData`). */
export interface WorkerData {
  readonly index: number;
  /** The worker's own share of the RTP ports. */
  readonly settings: HostSettings;
}

/** Main thread -> worker. `id` names a leg, from its open on; the main thread picks it. */
export type ToWorker =
  | { readonly type: 'open'; readonly id: number; readonly spec: LegSpec }
  /** The call ended while its leg was opening. */
  | { readonly type: 'abort'; readonly id: number }
  | { readonly type: 'start'; readonly id: number; readonly format: MediaFormat; readonly start: StreamStart }
  | { readonly type: 'renegotiate'; readonly id: number; readonly format: MediaFormat }
  | { readonly type: 'callerDtmf'; readonly id: number; readonly digit: string; readonly durationMs: number }
  | { readonly type: 'sendEvent'; readonly id: number; readonly name: string; readonly fields: Readonly<Record<string, unknown>> }
  /** A bridge transfer's agent: its port (answered `peerOpened`), the join, its close. */
  | { readonly type: 'openPeer'; readonly id: number }
  | { readonly type: 'joinPeer'; readonly id: number; readonly format: MediaFormat; readonly bot: PeerBot }
  | { readonly type: 'renegotiatePeer'; readonly id: number; readonly format: MediaFormat }
  | { readonly type: 'peerSipDtmf'; readonly id: number; readonly digit: string; readonly durationMs: number }
  | { readonly type: 'closePeer'; readonly id: number }
  | { readonly type: 'close'; readonly id: number; readonly reason: StopReason }
  /** Every leg is closed: close the host, send the last stats, then `shutDown`. */
  | { readonly type: 'shutdown' }
  /** Tests: block the event loop for `ms`, as a hung worker's is. */
  | { readonly type: 'stall'; readonly ms: number };

/** A leg event as its name and arguments. */
export type LegEvent = { [E in keyof StreamLegEvents]: { readonly name: E; readonly args: StreamLegEvents[E] } }[keyof StreamLegEvents];

/** Worker -> main thread. */
export type FromWorker =
  | { readonly type: 'opened'; readonly id: number; readonly port: number; readonly botConnectMs: number }
  | { readonly type: 'openFailed'; readonly id: number; readonly kind: LegOpenError['kind']; readonly message: string }
  | { readonly type: 'event'; readonly id: number; readonly event: LegEvent }
  /** The answer to `openPeer`: the agent's port, or why there is none. */
  | { readonly type: 'peerOpened'; readonly id: number; readonly port: number }
  | { readonly type: 'peerOpenFailed'; readonly id: number; readonly message: string }
  | { readonly type: 'closed'; readonly id: number; readonly report: LegReport }
  | WorkerStats
  | { readonly type: 'shutDown' };

/** Once a second: the worker's load, its live legs' counters and what its observer saw since the last one. */
export interface WorkerStats {
  readonly type: 'stats';
  readonly load: Omit<HostLoad, 'name' | 'up'>;
  readonly live: ReadonlyArray<readonly [id: number, media: LiveMedia]>;
  readonly observed: ObservedBatch;
}

/** A second's worth of LegObserver calls; the latency arrays are transferred, not copied. */
export interface ObservedBatch {
  readonly botConnectMs: readonly number[];
  readonly dtmf: { readonly caller_to_bot: number; readonly bot_to_caller: number };
  readonly recordingErrors: number;
  readonly latency: Readonly<Record<LatencyPath, Float32Array>>;
  /** Latency observations beyond the cap (MAX_LATENCY_SAMPLES a path), not sent. */
  readonly latencyDropped: number;
}
