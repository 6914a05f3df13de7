// One call's RTP leg: symmetric RTP, G.711 <-> PCM16 at the bot's rate (or mu-law), and 20 ms playout of the bot's audio.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import { CallerTimeline } from './caller-timeline.js';
import { PcmChunker } from './chunker.js';
import { FRAME_MS, type FrameClock } from './clock.js';
import { DtmfReceiver, DtmfSender, EVENT_PAYLOAD_BYTES, type DtmfDigit } from './dtmf.js';
import { decodeG711, encodeG711, toMulaw, type G711Codec } from './g711.js';
import { LatencyHistogram, type LatencySummary } from './latency.js';
import { pcm16Samples } from './pcm16.js';
import { PlayoutQueue } from './playout.js';
import type { BoundRtpSocket } from './ports.js';
import { RtpReception } from './reception.js';
import { FrameRing, type FrameSink } from './recorder.js';
import { createResampler, type PcmRate, type Resampler } from './resampler.js';
import { emptyRtpHeader, parseRtp, RTP_HEADER_BYTES, writeRtpHeader } from './rtp-packet.js';

const CARRIER_RATE = 8000;
const FRAME_SAMPLES = (CARRIER_RATE * FRAME_MS) / 1000;
/** Largest G.711 payload we decode in one packet (120 ms). */
const MAX_PACKET_SAMPLES = 960;
const PACKET_BYTES = RTP_HEADER_BYTES + FRAME_SAMPLES;
const SILENCE = new Int16Array(FRAME_SAMPLES);

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
}

/**
 * caller_to_bot: arrival of the RTP packet that completes a chunk -> that chunk handed to the bot's socket.
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

export class MediaSession extends EventEmitter<MediaSessionEvents> {
  readonly port: number;
  readonly #counts = { packetsIn: 0, packetsOut: 0, queueDroppedMs: 0, listenOnlyIgnoredMs: 0 };
  readonly #dropped: Record<DropReason, number> = { malformed: 0, foreignSource: 0, unexpectedPayloadType: 0 };
  #lastPacketAt = 0;
  #timedOut = false;
  readonly #opts: MediaSessionOptions;
  readonly #log: Logger;
  readonly #queue: PlayoutQueue;
  readonly #chunker: PcmChunker;
  readonly #timeline: CallerTimeline;
  readonly #reception = new RtpReception();
  readonly #latency: Record<LatencyPath, LatencyHistogram> = { caller_to_bot: new LatencyHistogram(), bot_to_caller: new LatencyHistogram() };
  /** Arrival time of the caller packet being handled, while it is. */
  #arrival: number | undefined;
  readonly #dtmfIn = new DtmfReceiver();
  readonly #dtmfOut = new DtmfSender(FRAME_SAMPLES);
  readonly #toBot: Resampler;
  readonly #fromBot: Resampler;
  readonly #header = emptyRtpHeader();
  readonly #decoded = new Int16Array(MAX_PACKET_SAMPLES);
  /** A PCMA payload transcoded for callerMulaw. */
  readonly #mulaw = Buffer.alloc(MAX_PACKET_SAMPLES);
  /** Bot mu-law decoded for the playout queue; grows to the largest message seen. */
  #botSamples = new Int16Array(MAX_PACKET_SAMPLES);
  #decodedView = this.#decoded.subarray(0, FRAME_SAMPLES);
  readonly #frame = new Int16Array(FRAME_SAMPLES);
  /** The caller's audio for the recorder, taken a frame per tick; only when recording. */
  #recorded: { ring: FrameRing; caller: Int16Array; sink: FrameSink } | undefined;
  /** The next audio packet's buffer: reused unless the socket still holds it in its send queue. */
  #packet = Buffer.alloc(PACKET_BYTES);
  #carry: number | undefined;
  #remote: { address: string; port: number };
  /** As the last answer settled it; `remote` is the SDP's, which latching may have overridden. */
  #format: { codec: G711Codec; payloadType: number; dtmfPayloadType: number | undefined; remote: { address: string; port: number } };
  /** Held (recvonly, inactive): no RTP goes out. */
  #sends = true;
  /** The caller holds (sendonly, inactive): its silence is no reason to end the call. */
  #receives = true;
  #latched = false;
  #listenWarned = false;
  #stopClock: (() => void) | undefined;
  #closed = false;
  #drainWaiters: Array<() => void> = [];
  readonly #ssrc = randomInt(2 ** 32);
  #sequence = randomInt(2 ** 16);
  #timestamp = randomInt(2 ** 32);
  #first = true;

  constructor(options: MediaSessionOptions) {
    super();
    this.#opts = options;
    this.#log = options.log;
    this.port = options.rtp.port;
    this.#remote = { ...options.remote };
    this.#format = { codec: options.codec, payloadType: options.payloadType, dtmfPayloadType: options.dtmfPayloadType, remote: { ...options.remote } };
    this.#setDirection(options.direction ?? 'sendrecv');
    this.#queue = new PlayoutQueue((options.maxQueueMs * CARRIER_RATE) / 1000, (receivedAt) => this.#observe('bot_to_caller', receivedAt));
    this.#toBot = createResampler(CARRIER_RATE, options.botRate);
    this.#fromBot = createResampler(options.botRate, CARRIER_RATE);
    this.#chunker = new PcmChunker((options.botRate * options.chunkMs) / 1000, (chunk) => {
      this.emit('callerAudio', chunk);
      // Chunks of silence filled in on the clock have no packet to measure from.
      if (this.#arrival !== undefined) this.#observe('caller_to_bot', this.#arrival);
    });
    this.#timeline = new CallerTimeline((samples) => {
      this.#recorded?.ring.write(samples);
      this.#chunker.push(this.#toBot.process(samples));
    });
    options.rtp.socket.on('message', (packet, rinfo) => this.#receive(packet, rinfo.address, rinfo.port));
    // Failed sends surface here, one per packet: each distinct error is logged once.
    const seen = new Set<string>();
    options.rtp.socket.on('error', (err) => {
      if (seen.has(err.message)) return;
      seen.add(err.message);
      this.#log.warn({ err: err.message }, 'RTP socket error (repeats of it not logged)');
    });
  }

  get stats(): MediaStats {
    const { filledSamples, latePackets } = this.#timeline.stats;
    return {
      ...this.#counts,
      packetsLost: this.#reception.lost,
      jitterMs: Math.round(this.#reception.jitterMs * 1000) / 1000,
      latency: { caller_to_bot: this.#latency.caller_to_bot.summary(), bot_to_caller: this.#latency.bot_to_caller.summary() },
      dropped: { ...this.#dropped },
      latePackets,
      silenceFilledMs: (filledSamples * 1000) / CARRIER_RATE,
    };
  }

  /** Packets counted so far, cheaply, for metrics read while the call goes on. */
  get packetCounts(): { readonly in: number; readonly out: number; readonly lost: number } {
    return { in: this.#counts.packetsIn, out: this.#counts.packetsOut, lost: this.#reception.lost };
  }

  /** Bot audio waiting to be played, in ms. */
  get queuedMs(): number {
    return (this.#queue.size * 1000) / CARRIER_RATE;
  }

  /** Starts sending a frame every 20 ms: the bot's audio when there is some, silence otherwise. */
  start(): void {
    if (this.#closed || this.#stopClock) return;
    this.#timeline.start(performance.now());
    this.#lastPacketAt = performance.now();
    this.#stopClock = this.#opts.clock.add((skipped) => this.#tick(skipped));
  }

  /**
   * Queues the bot's PCM16LE audio (at the bot's rate); any byte count, odd ones carried to the next call.
   * `receivedAt` (performance.now() when its message arrived) measures the bot-to-caller latency.
   */
  playBotAudio(pcm: Buffer, receivedAt?: number): void {
    if (this.#closed) return;
    if (this.#opts.listenOnly) {
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
    if (this.#opts.listenOnly) {
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
    this.#recorded = { ring: new FrameRing(), caller: new Int16Array(FRAME_SAMPLES), sink };
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
    this.#queue.clear();
    this.#emitDueMarks();
  }

  /** Plays a key press to the caller as an RFC 4733 event; audio resumes after it. */
  sendDtmf(digit: DtmfDigit, durationMs: number): void {
    if (this.#opts.listenOnly) {
      this.#ignore(durationMs, 'dtmf');
      return;
    }
    if (this.#format.dtmfPayloadType === undefined) {
      this.#log.warn({ digit }, 'cannot send DTMF: the caller offered no telephone-event');
      return;
    }
    this.#dtmfOut.enqueue(digit, durationMs);
  }

  /** Listen-only: what the bot sends is counted, and the first of it warned about. */
  #ignore(ms: number, what: string): void {
    if (!this.#listenWarned) this.#log.warn({ what }, 'listen-only stream: the bot sent audio, which is not played (further ones only counted)');
    this.#listenWarned = true;
    this.#counts.listenOnlyIgnoredMs += ms;
  }

  /** A re-offer was answered: codec, payload types, address and directions as the answer says. */
  renegotiate(format: MediaFormat): void {
    const { codec, payloadType, dtmfPayloadType, remote, direction } = format;
    const was = this.#format.remote;
    this.#format = { codec, payloadType, dtmfPayloadType, remote: { ...remote } };
    // The same SDP address keeps a latched source (NAT); a new one is sent to until packets latch us again.
    if (remote.address !== was.address || remote.port !== was.port) {
      this.#remote = { ...remote };
      this.#latched = false;
      this.#lastPacketAt = performance.now();
    }
    this.#setDirection(direction);
  }

  #setDirection(direction: MediaFormat['direction']): void {
    const sends = direction === 'sendrecv' || direction === 'sendonly';
    // The first packet after a pause carries the marker bit (RFC 3551 4.1).
    if (sends && !this.#sends) this.#first = true;
    this.#sends = sends;
    const receives = direction === 'sendrecv' || direction === 'recvonly';
    if (receives && !this.#receives) this.#lastPacketAt = performance.now();
    this.#receives = receives;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopClock?.();
    this.#stopClock = undefined;
    this.#opts.rtp.socket.removeAllListeners('message');
    this.#opts.rtp.socket.close();
    this.#opts.releasePort();
    this.removeAllListeners();
  }

  #receive(packet: Buffer, address: string, port: number): void {
    const header = this.#header;
    const problem = parseRtp(packet, header);
    if (problem) {
      this.#drop('malformed', `${problem} (${packet.length} bytes from ${address}:${port})`);
      return;
    }
    const fromRemote = address === this.#remote.address && port === this.#remote.port;
    if (this.#latched ? !fromRemote : !this.#latchable(address)) {
      this.#drop('foreignSource', `from ${address}:${port}, expected ${this.#remote.address}${this.#latched ? `:${this.#remote.port}` : ''}`);
      return;
    }
    const isAudio = header.payloadType === this.#format.payloadType;
    const isEvent = header.payloadType === this.#format.dtmfPayloadType;
    if (!isAudio && !isEvent) {
      this.#drop('unexpectedPayloadType', `payload type ${header.payloadType}`);
      return;
    }
    if (!this.#latched) {
      // Symmetric RTP (RFC 4961): answer wherever the caller's media really comes from, for NAT.
      this.#latched = true;
      if (!fromRemote) {
        this.#log.info({ from: `${address}:${port}`, sdp: `${this.#remote.address}:${this.#remote.port}` }, 'RTP latched to source address');
        this.#remote = { address, port };
      }
    }
    const now = performance.now();
    this.#lastPacketAt = now;
    this.#counts.packetsIn++;
    this.#reception.packet(header.ssrc, header.sequence, now, isAudio ? header.timestamp : undefined);
    const length = Math.min(header.payloadLength, MAX_PACKET_SAMPLES);
    if (isEvent) {
      const payload = packet.subarray(header.payloadOffset, header.payloadOffset + length);
      for (const { digit, durationMs } of this.#dtmfIn.packet(header.ssrc, header.timestamp, payload)) this.emit('dtmf', digit, durationMs);
      return;
    }
    if (this.listenerCount('callerMulaw') > 0) this.#emitMulaw(packet, header.payloadOffset, length);
    if (this.#closed) return;
    decodeG711(this.#format.codec, packet, this.#decoded, 0, header.payloadOffset, length);
    // A view per payload size (nearly always 20 ms), not one per packet.
    if (this.#decodedView.length !== length) this.#decodedView = this.#decoded.subarray(0, length);
    this.#arrival = now;
    this.#timeline.packet(header.ssrc, header.timestamp, this.#decodedView, now);
    this.#arrival = undefined;
  }

  #emitMulaw(packet: Buffer, offset: number, length: number): void {
    if (this.#format.codec === 'PCMU') {
      this.emit('callerMulaw', packet, offset, length);
      return;
    }
    toMulaw(this.#format.codec, packet, offset, length, this.#mulaw);
    this.emit('callerMulaw', this.#mulaw, 0, length);
  }

  #observe(path: LatencyPath, since: number): void {
    const ms = performance.now() - since;
    this.#latency[path].observe(ms);
    this.#opts.onLatency?.(path, ms);
  }

  #latchable(address: string): boolean {
    return this.#opts.latch === 'any' || address === this.#remote.address || this.#remote.address === '0.0.0.0';
  }

  /** Counts a dropped packet; the first of each kind is logged with its reason, the rest only counted. */
  #drop(reason: DropReason, detail: string): void {
    if (this.#dropped[reason]++ === 0) this.#log.warn({ reason, detail }, 'dropped caller RTP (further ones of this kind only counted)');
  }

  #tick(skipped: number): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#timeline.tick(now);
    if (this.#opts.rtpTimeoutMs > 0 && this.#receives && !this.#timedOut && now - this.#lastPacketAt > this.#opts.rtpTimeoutMs) {
      this.#timedOut = true;
      this.emit('rtpTimeout');
      // A listener may have ended the call and closed this session.
      if (this.#closed) return;
    }
    // Skipped frames are skipped time: their audio goes too, or the bot's audio would fall further behind each stall.
    this.#timestamp = (this.#timestamp + skipped * FRAME_SAMPLES) >>> 0;
    if (skipped > 0) this.#queue.discard(skipped * FRAME_SAMPLES);
    const event = this.#dtmfOut.next(this.#timestamp);
    let sent: boolean;
    let played = false;
    if (event) {
      const packet = Buffer.alloc(RTP_HEADER_BYTES + EVENT_PAYLOAD_BYTES);
      writeRtpHeader(packet, event.marker, this.#format.dtmfPayloadType!, this.#sequence, event.timestamp, this.#ssrc);
      event.payload.copy(packet, RTP_HEADER_BYTES);
      sent = this.#send(packet);
    } else {
      this.#queue.pull(this.#frame);
      const packet = this.#packet;
      writeRtpHeader(packet, this.#first, this.#format.payloadType, this.#sequence, this.#timestamp, this.#ssrc);
      encodeG711(this.#format.codec, this.#frame, 0, FRAME_SAMPLES, packet, RTP_HEADER_BYTES);
      sent = this.#send(packet);
      played = sent;
      // Sent at once almost always (the kernel has copied it); a queued send keeps its buffer, so take a new one.
      if (this.#opts.rtp.socket.getSendQueueCount() > 0) this.#packet = Buffer.alloc(PACKET_BYTES);
    }
    // Sequence numbers count packets sent; the timestamp counts time, held or not.
    if (sent) {
      this.#first = false;
      this.#sequence = (this.#sequence + 1) & 0xffff;
    }
    this.#timestamp = (this.#timestamp + FRAME_SAMPLES) >>> 0;
    if (this.#recorded) this.#record(skipped, played);
    this.#emitDueMarks();
    if (this.#drainWaiters.length > 0 && this.#queue.size === 0 && !this.#dtmfOut.busy) {
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
    }
  }

  /** A frame per channel to the recorder: skipped frames as silence, then this tick's (the caller heard silence unless audio went out). */
  #record(skipped: number, played: boolean): void {
    const { ring, caller, sink } = this.#recorded!;
    for (let i = 0; i < Math.min(skipped, 50); i++) sink.frame(SILENCE, SILENCE);
    ring.read(caller);
    sink.frame(caller, played ? this.#frame : SILENCE);
  }

  #send(packet: Buffer): boolean {
    if (!this.#sends || this.#remote.port === 0 || this.#remote.address === '0.0.0.0') return false;
    this.#opts.rtp.socket.send(packet, this.#remote.port, this.#remote.address);
    this.#counts.packetsOut++;
    return true;
  }

  #emitDueMarks(): void {
    for (const name of this.#queue.takeDueMarks()) this.emit('markPlayed', name);
  }
}
