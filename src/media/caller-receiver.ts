// The caller side of a call's media: RTP validated and latched, then as mu-law to the bot, or decoded, timed, resampled
// and chunked as PCM16 for it.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import { CallerTimeline } from './caller-timeline.js';
import { PcmChunker } from './chunker.js';
import { DtmfReceiver } from './dtmf.js';
import { decodeG711, encodeG711, toMulaw } from './g711.js';
import { LatencyHistogram } from './latency.js';
import { RtpReception } from './reception.js';
import type { RecorderTap } from './recorder-tap.js';
import { createResampler, type Resampler } from './resampler.js';
import { emptyRtpHeader, parseRtp } from './rtp-packet.js';
import {
  CARRIER_RATE,
  FRAME_SAMPLES,
  type DropReason,
  type LegFormat,
  type MediaSessionEvents,
  type MediaSessionOptions,
  type RemoteAddress,
} from './session-types.js';

/** Largest G.711 payload we decode in one packet (120 ms). */
const MAX_PACKET_SAMPLES = 960;

/**
 * Each packet's samples, decoded: one buffer for every call of this thread, warm in the CPU's cache, where one per call
 * would be cold by the time its next packet comes. Safe to share: a packet is decoded and handed on (copied by
 * whatever keeps it) before the next one is read.
 */
const DECODED = new Int16Array(MAX_PACKET_SAMPLES);
/** The view for a 20 ms payload, nearly every packet's: not one view per packet. */
const DECODED_FRAME = DECODED.subarray(0, FRAME_SAMPLES);

export class CallerReceiver {
  readonly dropped: Record<DropReason, number> = { malformed: 0, foreignSource: 0, unexpectedPayloadType: 0 };
  packetsIn = 0;
  readonly reception = new RtpReception();
  readonly timeline: CallerTimeline;
  /** caller_to_bot latency: a chunk's completing packet's arrival -> the chunk handed to the bot. */
  readonly latency = new LatencyHistogram();
  /** Gets the caller's audio as well, while the call is recorded. */
  tap: RecorderTap | undefined;
  /** Joined to a peer (a bridge transfer): gets the caller's audio as well, and `mix` changes what the bot hears. */
  joined: { readonly sink: (samples: Int16Array) => void; readonly mix?: ((samples: Int16Array) => Int16Array) | undefined } | undefined;
  /** Set when the session closes: a callerMulaw listener may close it mid-packet. */
  closed = false;
  readonly #session: EventEmitter<MediaSessionEvents>;
  readonly #format: LegFormat;
  readonly #remote: RemoteAddress;
  readonly #opts: MediaSessionOptions;
  readonly #log: Logger;
  /** The PCM16 path to the bot (resampled and chunked); none for a bot that takes mu-law. */
  readonly #toBot: ((samples: Int16Array) => void) | undefined;
  readonly #dtmfIn = new DtmfReceiver();
  readonly #header = emptyRtpHeader();
  /** A PCMA payload transcoded for callerMulaw. */
  readonly #mulaw = Buffer.alloc(MAX_PACKET_SAMPLES);
  /** Arrival time of the caller packet being handled, while it is. */
  #arrival: number | undefined;
  #latched = false;
  #lastPacketAt = 0;
  #timedOut = false;
  /** The caller holds (sendonly, inactive): its silence is no reason to end the call. */
  #receives = true;

  constructor(
    session: EventEmitter<MediaSessionEvents>,
    format: LegFormat,
    remote: RemoteAddress,
    options: MediaSessionOptions,
  ) {
    this.#session = session;
    this.#format = format;
    this.#remote = remote;
    this.#opts = options;
    this.#log = options.log;
    const toBot = options.callerAudio === 'mulaw' ? undefined : this.#pcmPath(options);
    this.#toBot = toBot;
    this.timeline = new CallerTimeline((samples) => {
      this.tap?.write(samples);
      const joined = this.joined;
      if (!joined) return toBot?.(samples);
      joined.sink(samples);
      const heard = joined.mix ? joined.mix(samples) : samples;
      if (toBot) toBot(heard);
      // A mu-law bot hearing the mix gets it from here, not packet by packet.
      else if (joined.mix) this.#emitMulawSamples(heard);
    });
  }

  #pcmPath(options: MediaSessionOptions): (samples: Int16Array) => void {
    const resampler: Resampler = createResampler(CARRIER_RATE, options.botRate);
    const chunker = new PcmChunker((options.botRate * options.chunkMs) / 1000, (chunk) => {
      this.#session.emit('callerAudio', chunk);
      // Chunks of silence filled in on the clock have no packet to measure from.
      if (this.#arrival !== undefined) this.#observe(this.#arrival);
    });
    return (samples) => chunker.push(resampler.process(samples));
  }

  /** The clock starts: caller silence is timed from now. */
  start(now: number): void {
    this.timeline.start(now);
    this.#lastPacketAt = now;
  }

  /** The caller's silence is timed afresh: a new address to latch to, or the caller resumed sending. */
  restartSilence(unlatch: boolean): void {
    if (unlatch) this.#latched = false;
    this.#lastPacketAt = performance.now();
  }

  setReceives(receives: boolean): void {
    if (receives && !this.#receives) this.#lastPacketAt = performance.now();
    this.#receives = receives;
  }

  /** True once, the first tick the caller has been silent (while expected to send) for longer than `timeoutMs`. */
  timedOut(now: number, timeoutMs: number): boolean {
    if (!this.#receives || this.#timedOut || now - this.#lastPacketAt <= timeoutMs) return false;
    this.#timedOut = true;
    return true;
  }

  receive(packet: Buffer, address: string, port: number): void {
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
        this.#remote.address = address;
        this.#remote.port = port;
      }
    }
    const now = performance.now();
    this.#lastPacketAt = now;
    this.packetsIn++;
    this.reception.packet(header.ssrc, header.sequence, now, isAudio ? header.timestamp : undefined);
    const length = Math.min(header.payloadLength, MAX_PACKET_SAMPLES);
    if (isEvent) {
      const payload = packet.subarray(header.payloadOffset, header.payloadOffset + length);
      for (const { digit, durationMs } of this.#dtmfIn.packet(header.ssrc, header.timestamp, payload)) this.#session.emit('dtmf', digit, durationMs);
      return;
    }
    if (this.#session.listenerCount('callerMulaw') > 0 && !this.joined?.mix) {
      this.#emitMulaw(packet, header.payloadOffset, length);
      if (this.closed) return;
      // Each mu-law payload is a message to the bot: measured as a PCM16 chunk is.
      if (!this.#toBot) this.#observe(now);
    }
    // The timeline still runs for a mu-law bot (its late and filled counts; the recording's timing), on samples only
    // decoded when something reads them.
    if (this.#toBot || this.tap || this.joined) decodeG711(this.#format.codec, packet, DECODED, 0, header.payloadOffset, length);
    this.#arrival = now;
    this.timeline.packet(header.ssrc, header.timestamp, length === FRAME_SAMPLES ? DECODED_FRAME : DECODED.subarray(0, length), now);
    this.#arrival = undefined;
  }

  #observe(since: number): void {
    const ms = performance.now() - since;
    this.latency.observe(ms);
    this.#opts.onLatency?.('caller_to_bot', ms);
  }

  #emitMulawSamples(samples: Int16Array): void {
    const length = Math.min(samples.length, MAX_PACKET_SAMPLES);
    encodeG711('PCMU', samples, 0, length, this.#mulaw, 0);
    this.#session.emit('callerMulaw', this.#mulaw, 0, length);
  }

  #emitMulaw(packet: Buffer, offset: number, length: number): void {
    if (this.#format.codec === 'PCMU') {
      this.#session.emit('callerMulaw', packet, offset, length);
      return;
    }
    toMulaw(this.#format.codec, packet, offset, length, this.#mulaw);
    this.#session.emit('callerMulaw', this.#mulaw, 0, length);
  }

  #latchable(address: string): boolean {
    return this.#opts.latch === 'any' || address === this.#remote.address || this.#remote.address === '0.0.0.0';
  }

  /** Counts a dropped packet; the first of each kind is logged with its reason, the rest only counted. */
  #drop(reason: DropReason, detail: string): void {
    if (this.dropped[reason]++ === 0) this.#log.warn({ reason, detail }, 'dropped caller RTP (further ones of this kind only counted)');
  }
}
