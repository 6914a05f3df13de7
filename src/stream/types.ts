// The stream leg's contract: what a call hands a leg (plain data, so a worker thread can build it), what it can ask of
// it, what the leg tells the call, and the hosts that run legs (this thread, or one of N media workers).
import type { BotProtocolName, BotSampleRate, StopReason, StreamStart } from '../bot/index.js';
import type { LatencyPath, MediaFormat, MediaStats, RecordingChannels, RecordingResult } from '../media/index.js';
import type { BotMessageStats } from '../bot/index.js';

/** Everything one leg needs, as structured-clonable data (no functions, no sockets, no URL objects). */
export interface LegSpec {
  readonly callSid: string;
  readonly streamSid: string;
  /** Log bindings for the leg's log lines (call_sid, direction, ...). */
  readonly log: Readonly<Record<string, string>>;
  readonly bot: {
    /** The bot's WebSocket URL (href). */
    readonly url: string;
    readonly protocol: BotProtocolName;
    readonly headers?: Readonly<Record<string, string>>;
    readonly sampleRate: BotSampleRate;
    /** The URL came from a call header: every address its name resolves to is held to the bot address policy. */
    readonly checkAddresses: boolean;
    /** Connection attempts after the first (bot.connectRetries, or fewer). */
    readonly connectRetries: number;
    /** Send `connected` as soon as the socket opens (outbound calls); otherwise it goes with `start`. */
    readonly announce: boolean;
  };
  /** The bot hears the caller; nothing it sends is played. */
  readonly listenOnly: boolean;
  /** Record the call from `start` on (the file is the leg's; uploading it is the call's business). */
  readonly recording?: LegRecording;
}

export interface LegRecording {
  readonly dir: string;
  readonly channels: RecordingChannels;
  readonly flushMs: number;
}

/** Settings shared by every leg of a host: from the config, fixed for the process. Structured-clonable. */
export interface HostSettings {
  /** Address the RTP sockets bind to, and the host's share of media.rtpPorts. */
  readonly address: string;
  readonly rtpPorts: { readonly min: number; readonly max: number };
  readonly maxQueueMs: number;
  readonly latch: 'sdp-ip' | 'any';
  readonly rtpTimeoutMs: number;
  readonly chunkMs: number;
  readonly bot: {
    readonly connectTimeoutMs: number;
    readonly maxMessageBytes: number;
    readonly drainTimeoutMs: number;
    readonly pingIntervalMs: number;
    readonly dtmfDurationMs: number;
    readonly onDrop: 'hangup' | 'reconnect';
    /** Non-public networks (CIDR) a bot URL from a call header may reach all the same (bot.urlHeader.allowedNetworks). */
    readonly allowedNetworks: readonly string[];
  };
  /** pino level for the leg's log lines. */
  readonly logLevel: string;
}

/** Why a leg could not be opened: no RTP port (503), the bot unreachable or refused by the address policy (480), the
 * host gone (503), or the call ended meanwhile (`aborted`). */
export class LegOpenError extends Error {
  constructor(
    readonly kind: 'ports' | 'bot' | 'host' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

/** A leg ended the call by itself: the bot closed and its audio drained, the caller's RTP stopped, the worker died. */
export interface LegEnd {
  readonly by: 'bot' | 'system';
  readonly reason: string;
}

/** A message from the bot that the call, not the media, acts on. */
export type BotControlMessage = { readonly type: 'transfer'; readonly body: unknown };

export interface StreamLegEvents {
  /** The caller pressed a key, as an RFC 4733 event (SIP INFO ones reach the call through its dialog). */
  callerDtmf: [digit: string, durationMs: number];
  /** The bot closed its stream: its queued audio plays out, then `end` follows. */
  draining: [];
  end: [end: LegEnd];
  botMessage: [message: BotControlMessage];
  /** The joined agent's RTP stopped (its RTP timeout): the agent is gone. */
  peerEnd: [reason: string];
  /** The joined agent pressed a key (RFC 4733); it has been re-sent to the caller. */
  peerDtmf: [digit: string, durationMs: number];
}

/** Who the bot is once the caller is joined to an agent: stopped (`stop` transferred), or hearing both, listen-only. */
export type PeerBot = 'stop' | 'listen';

/** What a leg leaves behind; `media` is absent for a leg never started (the call was not answered). */
export interface LegReport {
  readonly media?: MediaStats;
  /** A bridge transfer's agent, when one was joined: its side's media, as it closed. */
  readonly peerMedia?: MediaStats;
  readonly botMessagesRefused?: BotMessageStats;
  readonly recording?: RecordingResult;
}

/** Counters read while the call goes on; in a worker, as of its last report (once a second). */
export interface LiveMedia {
  readonly packets: { readonly in: number; readonly out: number; readonly lost: number };
  readonly queuedMs: number;
}

/**
 * One call's media and bot stream: its RTP socket (bound when opened, so its port can go in the SDP), the media
 * session (from `start`) and the bot's WebSocket (connected when opened). The call controls it through these methods
 * and hears it through the events; audio never passes through the call.
 */
export interface StreamLeg {
  readonly port: number;
  /** How long the bot's WebSocket took to open. */
  readonly botConnectMs: number;
  readonly live: LiveMedia | undefined;
  /** The call was answered: media flows with this format and the bot gets `start`; recording begins if asked. */
  start(format: MediaFormat, start: StreamStart): void;
  /** A re-offer's answer changed the format. */
  renegotiate(format: MediaFormat): void;
  /** A key press from SIP INFO, for the bot (and a joined agent, as RFC 4733). */
  callerDtmf(digit: string, durationMs: number): void;
  /** A bridge event to the bot (e.g. `transfer_status`). */
  sendEvent(name: string, fields: Readonly<Record<string, unknown>>): void;
  /**
   * A bridge transfer's agent: binds a second RTP port on this leg's host (for the agent INVITE's offer); once.
   * Rejects when no port is free or the leg is closed.
   */
  openPeer(): Promise<number>;
  /** The agent answered with `format`: caller and agent are joined in this leg; the bot is stopped or listens. */
  joinPeer(format: MediaFormat, bot: PeerBot): void;
  /** The agent's re-offer was answered: its media takes this format (hold, a new address or codec). */
  renegotiatePeer(format: MediaFormat): void;
  /** A key press from the joined agent's SIP INFO, for the caller as RFC 4733. */
  peerSipDtmf(digit: string, durationMs: number): void;
  /** Drops the agent's RTP (busy, no answer, failure, or gone); before a join the caller stays with the bot. Once. */
  closePeer(): void;
  /** Stops the bot stream with `stop` (when started, else closes it), releases the port(s); once. Never rejects. */
  close(reason: StopReason): Promise<LegReport>;
  on<E extends keyof StreamLegEvents>(event: E, listener: (...args: StreamLegEvents[E]) => void): this;
  once<E extends keyof StreamLegEvents>(event: E, listener: (...args: StreamLegEvents[E]) => void): this;
  off<E extends keyof StreamLegEvents>(event: E, listener: (...args: StreamLegEvents[E]) => void): this;
}

/** Metric observations a host passes on (a worker's in batches, once a second). */
export interface LegObserver {
  botConnected(ms: number): void;
  dtmf(direction: 'caller_to_bot' | 'bot_to_caller'): void;
  latency(path: LatencyPath, ms: number): void;
  recordingError?(): void;
  /** Latency observations a media worker did not send (beyond its per-second cap), so they are not lost silently. */
  latencyDropped?(count: number): void;
}

/** The overload limits (limits.maxClockLagMs, limits.maxEventLoopUtilization): a host past one gets new legs last, and
 * new calls are refused while every host that is up is past one. */
export interface HostLimits {
  /** 0: the clock's lateness never counts. */
  readonly maxClockLagMs: number;
  /** 0-1; 1: never over. */
  readonly maxEventLoopUtilization: number;
}

/** How busy a host is, for admission, /health and /metrics. */
export interface HostLoad {
  /** `in-process`, or `worker-N`. */
  readonly name: string;
  readonly legs: number;
  /** The host's 20 ms clock lateness (90th percentile over the last 2 s), ms. */
  readonly clockLagMs: number;
  /** Its event loop's utilisation, 0-1. */
  readonly busy: number;
  readonly rtpPortsInUse: number;
  /** Cumulative over every leg the host has run, ended ones included. */
  readonly packets: { readonly in: number; readonly out: number; readonly lost: number };
  /** Bot audio queued in its live legs, ms. */
  readonly queuedMs: number;
  /** The most bot audio queued in one of its live legs, ms (bridge_bot_queue_max_seconds). */
  readonly maxQueuedMs: number;
  /** The V8 heap in use by the host's own isolate (the worker thread's, or the main thread's in-process), bytes. */
  readonly heapUsedBytes: number;
  /** A worker being restarted after it died: takes no legs meanwhile. */
  readonly up: boolean;
}

/** Where legs run: this thread (`media.workers: 0`) or a pool of worker threads. */
export interface MediaHost {
  /** Binds an RTP port and connects the bot; rejects with LegOpenError. `signal` aborts an open in progress. */
  open(spec: LegSpec, signal: AbortSignal): Promise<StreamLeg>;
  /** One entry per host (per worker), as of now (in-process) or its last report (workers). */
  load(): readonly HostLoad[];
  /** Ends nothing: closes the hosts once their legs are closed (call it after every call has ended). */
  close(): Promise<void>;
}
