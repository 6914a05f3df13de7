// The caller's RTP in: the bridge's audio decoded to 8 kHz and placed by RTP timestamp, so gaps stay gaps; reception stats.
import { DtmfReceiver } from '../media/dtmf.js';
import { decodeG711 } from '../media/g711.js';
import { RtpReception } from '../media/reception.js';
import { emptyRtpHeader, parseRtp } from '../media/rtp-packet.js';
import type { RtpFormat } from './rtp-sender.js';

const SAMPLES_PER_MS = 8;
/** A timestamp this far (10 s) from where its arrival puts it means the sender's clock jumped: place by arrival instead. */
const MAX_TIMESTAMP_JUMP = 10 * 8000;

export interface ReceptionReport {
  /** RTP packets on the answered payload types. */
  readonly packets: number;
  /** RFC 3550: expected (from sequence numbers) minus received. */
  readonly lost: number;
  /** Packets that came after one with a higher sequence number. */
  readonly outOfOrder: number;
  /** RFC 3550 interarrival jitter of the audio. */
  readonly jitterMs: number;
  /** Time between the arrivals of consecutive audio packets. */
  readonly gapMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Keys pressed toward the caller (the bot's dtmf), in order. */
  readonly dtmf: string;
  /** Datagrams that are not RTP or carry a payload type that was not answered. */
  readonly ignored: number;
}

export class RtpRecorder {
  readonly #header = emptyRtpHeader();
  readonly #reception = new RtpReception();
  readonly #dtmfIn = new DtmfReceiver();
  readonly #arrivals: number[] = [];
  #packets = 0;
  #ignored = 0;
  #dtmf = '';
  /** Arrival of the first audio packet: the recording's time zero. */
  #origin: number | undefined;
  /** Where a timestamp of the current stream lands in the recording. */
  #anchor: { ssrc: number; timestamp: number; position: number } | undefined;
  #samples = new Int16Array(8000 * 10);
  #length = 0;

  constructor(private readonly format: RtpFormat) {}

  /** The audio so far, 8 kHz, from the first packet on. */
  get recording(): Int16Array {
    return this.#samples.subarray(0, this.#length);
  }

  /** A datagram that arrived at `arrivalMs` (performance.now()). */
  packet(data: Buffer, arrivalMs: number): void {
    const header = this.#header;
    const problem = parseRtp(data, header);
    const isAudio = header.payloadType === this.format.payloadType;
    const isEvent = header.payloadType === this.format.dtmfPayloadType;
    if (problem || (!isAudio && !isEvent)) {
      this.#ignored++;
      return;
    }
    this.#packets++;
    this.#reception.packet(header.ssrc, header.sequence, arrivalMs, isAudio ? header.timestamp : undefined);
    const payload = data.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength);
    if (isEvent) {
      for (const { digit } of this.#dtmfIn.packet(header.ssrc, header.timestamp, payload)) this.#dtmf += digit;
      return;
    }
    this.#arrivals.push(arrivalMs);
    this.#origin ??= arrivalMs;
    const byArrival = Math.round((arrivalMs - this.#origin) * SAMPLES_PER_MS);
    if (this.#anchor?.ssrc !== header.ssrc) this.#anchor = { ssrc: header.ssrc, timestamp: header.timestamp, position: byArrival };
    // The difference of two 32-bit timestamps, wrapped to a signed number.
    let position = this.#anchor.position + ((header.timestamp - this.#anchor.timestamp) | 0);
    if (Math.abs(position - byArrival) > MAX_TIMESTAMP_JUMP) {
      this.#anchor = { ssrc: header.ssrc, timestamp: header.timestamp, position: byArrival };
      position = byArrival;
    }
    const decoded = new Int16Array(payload.length);
    decodeG711(this.format.codec, payload, decoded);
    this.#write(position, decoded);
  }

  report(): ReceptionReport {
    const gaps = this.#arrivals.slice(1).map((at, i) => at - this.#arrivals[i]!).sort((a, b) => a - b);
    const quantile = (q: number) => (gaps.length === 0 ? 0 : gaps[Math.max(0, Math.ceil(q * gaps.length) - 1)]!);
    return {
      packets: this.#packets,
      lost: this.#reception.lost,
      outOfOrder: this.#reception.outOfOrder,
      jitterMs: this.#reception.jitterMs,
      gapMs: { p50: quantile(0.5), p99: quantile(0.99), max: gaps.at(-1) ?? 0 },
      dtmf: this.#dtmf,
      ignored: this.#ignored,
    };
  }

  #write(position: number, samples: Int16Array): void {
    const skip = Math.max(0, -position);
    if (skip >= samples.length) return;
    const end = position + samples.length;
    if (end > this.#samples.length) {
      const grown = new Int16Array(Math.max(end, 2 * this.#samples.length));
      grown.set(this.#samples.subarray(0, this.#length));
      this.#samples = grown;
    }
    this.#samples.set(skip > 0 ? samples.subarray(skip) : samples, position + skip);
    this.#length = Math.max(this.#length, end);
  }
}
