// One call's RTP leg: symmetric RTP, G.711 <-> PCM16 at the bot's rate (or mu-law), and 20 ms playout of the bot's audio.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import { CallerReceiver } from './caller-receiver.js';
import type { CallerTimeline } from './caller-timeline.js';
import type { DtmfDigit } from './dtmf.js';
import { decodeG711 } from './g711.js';
import { LatencyHistogram } from './latency.js';
import { pcm16Samples } from './pcm16.js';
import { PlayoutQueue } from './playout.js';
import { RecorderTap } from './recorder-tap.js';
import type { FrameSink } from './recorder.js';
import { createResampler, type Resampler } from './resampler.js';
import { RtpSender } from './rtp-sender.js';
import {
  CARRIER_RATE,
  type LegFormat,
  type MediaFormat,
  type MediaSessionEvents,
  type MediaSessionOptions,
  type MediaStats,
  type RemoteAddress,
} from './session-types.js';

export type { CallerAudio, DropReason, LatencyPath, MediaFormat, MediaSessionEvents, MediaSessionOptions, MediaStats } from './session-types.js';

/** A joined peer's audio queued for this side: at most 240 ms, cut back to 120 ms (see playPeer). */
const PEER_MAX_SAMPLES = 1920;
const PEER_KEEP_SAMPLES = 960;

/** Bot mu-law messages up to this many samples decode without growing the buffer. */
const INITIAL_BOT_SAMPLES = 960;

export class MediaSession extends EventEmitter<MediaSessionEvents> {
  readonly port: number;
  readonly #counts = { queueDroppedMs: 0, listenOnlyIgnoredMs: 0 };
  readonly #opts: MediaSessionOptions;
  readonly #log: Logger;
  readonly #queue: PlayoutQueue;
  readonly #rx: CallerReceiver;
  /** The receiver's, held here too for the tick. */
  readonly #timeline: CallerTimeline;
  readonly #tx: RtpSender;
  /** bot_to_caller latency; the receiver keeps caller_to_bot. */
  readonly #botToCaller = new LatencyHistogram();
  readonly #fromBot: Resampler;
  /** Bot mu-law decoded for the playout queue; grows to the largest message seen. */
  #botSamples = new Int16Array(INITIAL_BOT_SAMPLES);
  /** The caller's audio for the recorder, taken a frame per tick; only when recording. */
  #recorded: RecorderTap | undefined;
  #carry: number | undefined;
  /** Where RTP goes: the SDP's address until latching moves it; the receiver and sender share it. */
  readonly #remote: RemoteAddress;
  /** As the last answer settled it, shared with the receiver and sender; `remote` is the SDP's, which latching may have overridden. */
  readonly #format: LegFormat;
  #listenWarned = false;
  /** The bot's audio and key presses are not played: a listen-only stream, or a caller joined to an agent. */
  #botMuted: boolean;
  #stopClock: (() => void) | undefined;
  #closed = false;
  #drainWaiters: Array<() => void> = [];

  constructor(options: MediaSessionOptions) {
    super();
    this.#opts = options;
    this.#log = options.log;
    this.#botMuted = options.listenOnly === true;
    this.port = options.rtp.port;
    this.#remote = { ...options.remote };
    this.#format = { codec: options.codec, payloadType: options.payloadType, dtmfPayloadType: options.dtmfPayloadType, remote: { ...options.remote } };
    this.#rx = new CallerReceiver(this, this.#format, this.#remote, options);
    this.#timeline = this.#rx.timeline;
    this.#tx = new RtpSender(options.rtp, this.#format, this.#remote);
    this.#setDirection(options.direction ?? 'sendrecv');
    this.#queue = new PlayoutQueue((options.maxQueueMs * CARRIER_RATE) / 1000, (receivedAt) => this.#observeBotToCaller(receivedAt));
    this.#fromBot = createResampler(options.botRate, CARRIER_RATE);
    const rx = this.#rx;
    options.rtp.socket.on('message', (packet, rinfo) => rx.receive(packet, rinfo.address, rinfo.port));
    // Failed sends surface here, one per packet: each distinct error is logged once.
    const seen = new Set<string>();
    options.rtp.socket.on('error', (err) => {
      if (seen.has(err.message)) return;
      seen.add(err.message);
      this.#log.warn({ err: err.message }, 'RTP socket error (repeats of it not logged)');
    });
  }

  get stats(): MediaStats {
    const rx = this.#rx;
    const { filledSamples, latePackets } = rx.timeline.stats;
    return {
      packetsIn: rx.packetsIn,
      packetsOut: this.#tx.packetsOut,
      ...this.#counts,
      packetsLost: rx.reception.lost,
      jitterMs: Math.round(rx.reception.jitterMs * 1000) / 1000,
      latency: { caller_to_bot: rx.latency.summary(), bot_to_caller: this.#botToCaller.summary() },
      dropped: { ...rx.dropped },
      latePackets,
      silenceFilledMs: (filledSamples * 1000) / CARRIER_RATE,
    };
  }

  /** Packets counted so far, cheaply, for metrics read while the call goes on. */
  get packetCounts(): { readonly in: number; readonly out: number; readonly lost: number } {
    return { in: this.#rx.packetsIn, out: this.#tx.packetsOut, lost: this.#rx.reception.lost };
  }

  /** Bot audio waiting to be played, in ms. */
  get queuedMs(): number {
    return (this.#queue.size * 1000) / CARRIER_RATE;
  }

  /** Starts sending a frame every 20 ms: the bot's audio when there is some, silence otherwise. */
  start(): void {
    if (this.#closed || this.#stopClock) return;
    this.#rx.start(performance.now());
    this.#stopClock = this.#opts.clock.add((skipped, now) => this.#tick(skipped, now));
  }

  /**
   * Queues the bot's PCM16LE audio (at the bot's rate); any byte count, odd ones carried to the next call.
   * `receivedAt` (performance.now() when its message arrived) measures the bot-to-caller latency.
   */
  playBotAudio(pcm: Buffer, receivedAt?: number): void {
    if (this.#closed) return;
    if (this.#botMuted) {
      this.#ignore((pcm.length * 500) / this.#opts.botRate, 'media');
      return;
    }
    let bytes = pcm;
    if (this.#carry !== undefined) {
      bytes = Buffer.concat([Buffer.of(this.#carry), pcm]);
      this.#carry = undefined;
    }
    if (bytes.length & 1) this.#carry = bytes[bytes.length - 1];
    const samples = pcm16Samples(bytes.subarray(0, bytes.length & ~1));
    this.#enqueue(this.#fromBot.process(samples), receivedAt);
  }

  /** Queues the bot's mu-law audio (8 kHz, whatever the bot's PCM rate); `receivedAt` as for playBotAudio. */
  playBotMulaw(mulaw: Buffer, receivedAt?: number): void {
    if (this.#closed) return;
    if (this.#botMuted) {
      this.#ignore((mulaw.length * 1000) / CARRIER_RATE, 'media');
      return;
    }
    if (this.#botSamples.length < mulaw.length) this.#botSamples = new Int16Array(mulaw.length);
    const count = decodeG711('PCMU', mulaw, this.#botSamples);
    this.#enqueue(this.#botSamples.subarray(0, count), receivedAt);
  }

  #enqueue(samples: Int16Array, receivedAt: number | undefined): void {
    const dropped = this.#queue.push(samples, receivedAt);
    if (dropped > 0) {
      this.#counts.queueDroppedMs += (dropped * 1000) / CARRIER_RATE;
      this.#log.warn({ droppedMs: (dropped * 1000) / CARRIER_RATE, maxQueueMs: this.#opts.maxQueueMs }, 'bot audio queue full: dropped the oldest audio');
    }
  }

  /** From the next tick on, `sink` gets one frame per channel every tick: the caller, and what the caller heard. */
  record(sink: FrameSink): void {
    this.#recorded = new RecorderTap(sink);
    this.#rx.tap = this.#recorded;
  }

  /** Resolves once everything queued (audio and key presses) has been sent: at the next frame if nothing is. */
  drained(): Promise<void> {
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  mark(name: string): void {
    this.#queue.mark(name);
    if (this.#queue.size === 0) this.#emitDueMarks();
  }

  /** Barge-in: drops queued bot audio so the next frame is silence; pending marks are answered. */
  clear(): void {
    // Joined to a peer, the queue holds the peer's audio, not the bot's.
    if (!this.#rx.joined) this.#queue.clear();
    this.#emitDueMarks();
  }

  /** Plays a key press to the caller as an RFC 4733 event; audio resumes after it. */
  sendDtmf(digit: DtmfDigit, durationMs: number): void {
    if (this.#botMuted) {
      this.#ignore(durationMs, 'dtmf');
      return;
    }
    if (this.#format.dtmfPayloadType === undefined) {
      this.#log.warn({ digit }, 'cannot send DTMF: the caller offered no telephone-event');
      return;
    }
    this.#tx.dtmf.enqueue(digit, durationMs);
  }

  /**
   * A bridge transfer: the bot is no longer played (its audio counted as listen-only ignored) and the caller's audio
   * also goes to `sink` (8 kHz, in order, silence for loss); `mix`, when given, turns it into what the bot hears.
   */
  join(sink: (samples: Int16Array) => void, mix?: (samples: Int16Array) => Int16Array): void {
    this.#botMuted = true;
    this.#queue.clear();
    this.#emitDueMarks();
    this.#rx.joined = { sink, mix };
  }

  /**
   * The peer's audio (8 kHz), played on this session's clock and codec. A peer whose clock runs fast would add delay
   * for ever: beyond PEER_MAX_SAMPLES queued, the oldest goes, down to PEER_KEEP_SAMPLES.
   */
  playPeer(samples: Int16Array): void {
    if (this.#closed) return;
    this.#enqueue(samples, undefined);
    if (this.#queue.size > PEER_MAX_SAMPLES) this.#queue.discard(this.#queue.size - PEER_KEEP_SAMPLES);
  }

  /** The peer's key press, re-sent with this side's telephone-event payload type. */
  relayDtmf(digit: DtmfDigit, durationMs: number): void {
    if (this.#closed) return;
    if (this.#format.dtmfPayloadType === undefined) this.#log.warn({ digit }, 'cannot relay DTMF: this side offered no telephone-event');
    else this.#tx.dtmf.enqueue(digit, durationMs);
  }

  /** Listen-only: what the bot sends is counted, and the first of it warned about. */
  #ignore(ms: number, what: string): void {
    if (!this.#listenWarned) {
      const why = this.#rx.joined ? 'the caller is joined to an agent' : 'listen-only stream';
      this.#log.warn({ what }, `${why}: the bot sent audio, which is not played (further ones only counted)`);
    }
    this.#listenWarned = true;
    this.#counts.listenOnlyIgnoredMs += ms;
  }

  /** A re-offer was answered: codec, payload types, address and directions as the answer says. */
  renegotiate(format: MediaFormat): void {
    const { codec, payloadType, dtmfPayloadType, remote, direction } = format;
    const was = this.#format.remote;
    // Updated in place: the receiver and sender hold these objects.
    this.#format.codec = codec;
    this.#format.payloadType = payloadType;
    this.#format.dtmfPayloadType = dtmfPayloadType;
    this.#format.remote = { ...remote };
    // The same SDP address keeps a latched source (NAT); a new one is sent to until packets latch us again.
    if (remote.address !== was.address || remote.port !== was.port) {
      this.#remote.address = remote.address;
      this.#remote.port = remote.port;
      this.#rx.restartSilence(true);
    }
    this.#setDirection(direction);
  }

  #setDirection(direction: MediaFormat['direction']): void {
    this.#tx.setSends(direction === 'sendrecv' || direction === 'sendonly');
    this.#rx.setReceives(direction === 'sendrecv' || direction === 'recvonly');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rx.closed = true;
    this.#stopClock?.();
    this.#stopClock = undefined;
    this.#opts.rtp.socket.removeAllListeners('message');
    this.#opts.rtp.socket.close();
    this.#opts.releasePort();
    this.removeAllListeners();
  }

  #observeBotToCaller(since: number): void {
    const ms = performance.now() - since;
    this.#botToCaller.observe(ms);
    this.#opts.onLatency?.('bot_to_caller', ms);
  }

  #tick(skipped: number, now: number): void {
    if (this.#closed) return;
    this.#timeline.tick(now);
    if (this.#opts.rtpTimeoutMs > 0 && this.#rx.timedOut(now, this.#opts.rtpTimeoutMs)) {
      this.emit('rtpTimeout');
      // A listener may have ended the call and closed this session.
      if (this.#closed) return;
    }
    const played = this.#tx.tick(skipped, this.#queue);
    this.#recorded?.tick(skipped, played, this.#tx.frame);
    this.#emitDueMarks();
    if (this.#drainWaiters.length > 0 && this.#queue.size === 0 && !this.#tx.dtmf.busy) {
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
    }
  }

  #emitDueMarks(): void {
    for (const name of this.#queue.takeDueMarks()) this.emit('markPlayed', name);
  }
}
