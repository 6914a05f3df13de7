// The carrier's media leg in tests: sends G.711 RTP on a 20 ms schedule and records what arrives, with timing.
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { FRAME_MS, FrameClock } from '../../src/media/clock.js';
import { DtmfSender, type DtmfDigit } from '../../src/media/dtmf.js';
import { decodeG711, encodeG711, G711_PAYLOAD_TYPE, type G711Codec } from '../../src/media/g711.js';
import { emptyRtpHeader, parseRtp, RTP_HEADER_BYTES, rtpPacket, writeRtpHeader } from '../../src/media/rtp-packet.js';

export interface ReceivedPacket {
  /** performance.now() at arrival. */
  readonly at: number;
  readonly payloadType: number;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly marker: boolean;
  readonly payload: Buffer;
  readonly from: string;
}

const SSRC = 0x11223344;
const FIRST_SEQ = 1000;
const FRAME_SAMPLES = 160;

export interface PacketTransform {
  protect?(packet: Buffer): Buffer;
  /** undefined for a packet that fails its check. */
  unprotect?(packet: Buffer): Buffer | undefined;
}

export class RtpPeer {
  readonly received: ReceivedPacket[] = [];
  /** Packets the transform refused (failed SRTP authentication). */
  rejected = 0;
  readonly #clock = new FrameClock();
  /** Ends the sends in progress: stops their frames (their promises then never settle). */
  readonly #sending = new Set<() => void>();
  #seq = FIRST_SEQ;
  #ts = 160_000;
  /** Wall-clock time the last send() ended at, to keep timestamps running between sends. */
  #clockEnd: number | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly transform: PacketTransform,
  ) {
    const header = emptyRtpHeader();
    socket.on('message', (wire, rinfo) => {
      const packet = transform.unprotect ? transform.unprotect(wire) : wire;
      if (!packet) {
        this.rejected++;
        return;
      }
      if (parseRtp(packet, header)) return;
      this.received.push({
        at: performance.now(),
        payloadType: header.payloadType,
        sequence: header.sequence,
        timestamp: header.timestamp,
        ssrc: header.ssrc,
        marker: header.marker,
        payload: Buffer.from(packet.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength)),
        from: `${rinfo.address}:${rinfo.port}`,
      });
    });
  }

  /** `transform` turns the leg into SRTP: packets are protected on the way out and checked on the way in. */
  static async open(transform: PacketTransform = {}): Promise<RtpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new RtpPeer(socket, transform);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /**
   * Streams `samples` (8 kHz) to `remote` as 20 ms packets on a drift-free schedule; resolves when all are sent.
   * Sequence numbers and timestamps continue across calls, the timestamp also counting the time between them (as a
   * real sender's clock does). `drop(i)` skips packet i as if the network lost it; `loop` repeats until stop().
   */
  send(
    remote: { address: string; port: number },
    codec: G711Codec,
    samples: Int16Array,
    options: { loop?: boolean; drop?: (packet: number) => boolean } = {},
  ): Promise<void> {
    const pt = G711_PAYLOAD_TYPE[codec];
    let offset = 0;
    let sent = 0;
    return this.#everyFrame(() => {
      if (offset + FRAME_SAMPLES > samples.length) {
        if (!options.loop) return false;
        offset = 0;
      }
      if (!options.drop?.(sent)) {
        const packet = Buffer.alloc(RTP_HEADER_BYTES + FRAME_SAMPLES);
        writeRtpHeader(packet, this.#seq === FIRST_SEQ, pt, this.#seq, this.#ts, SSRC);
        encodeG711(codec, samples, offset, FRAME_SAMPLES, packet, RTP_HEADER_BYTES);
        this.#send(packet, remote);
      }
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#ts = (this.#ts + FRAME_SAMPLES) >>> 0;
      offset += FRAME_SAMPLES;
      sent++;
      return true;
    });
  }

  /** Plays `digits` to `remote` as RFC 4733 events on `payloadType`, one packet per 20 ms; resolves when all are sent. */
  sendDtmf(remote: { address: string; port: number }, payloadType: number, digits: DtmfDigit[], durationMs: number): Promise<void> {
    const events = new DtmfSender(FRAME_SAMPLES);
    for (const digit of digits) events.enqueue(digit, durationMs);
    return this.#everyFrame(() => {
      if (!events.busy) return false;
      const event = events.next(this.#ts);
      if (event) {
        this.#send(rtpPacket(event.marker, payloadType, this.#seq, event.timestamp, SSRC, event.payload), remote);
        this.#seq = (this.#seq + 1) & 0xffff;
      }
      this.#ts = (this.#ts + FRAME_SAMPLES) >>> 0;
      return true;
    });
  }

  stop(): void {
    for (const stop of this.#sending) stop();
    this.#sending.clear();
  }

  /**
   * Runs `frame` now and then on every tick of the peer's 20 ms clock until it returns false; resolves then. The
   * timestamp also counts the time between two sends, as a real sender's clock does. Frames the clock skipped after
   * a stall of the test process are sent late rather than not at all, so the bridge hears every packet it is sent.
   */
  #everyFrame(frame: () => boolean): Promise<void> {
    const start = performance.now();
    if (this.#clockEnd !== undefined) this.#ts = (this.#ts + Math.round((start - this.#clockEnd) * 8)) >>> 0;
    let frames = 0;
    let remove: (() => void) | undefined;
    return new Promise((resolve) => {
      const step = (): boolean => {
        if (frame()) {
          frames++;
          return true;
        }
        remove?.();
        if (remove) this.#sending.delete(remove);
        this.#clockEnd = start + frames * FRAME_MS;
        resolve();
        return false;
      };
      if (!step()) return;
      remove = this.#clock.add((skipped) => {
        for (let i = 0; i <= skipped; i++) if (!step()) return;
      });
      this.#sending.add(remove);
    });
  }

  #send(packet: Buffer, remote: { address: string; port: number }): void {
    this.socket.send(this.transform.protect ? this.transform.protect(packet) : packet, remote.port, remote.address);
  }

  /** Received audio of one payload type, decoded to 8 kHz samples in arrival order. */
  audio(codec: G711Codec): Int16Array {
    const packets = this.received.filter((p) => p.payloadType === G711_PAYLOAD_TYPE[codec]);
    const out = new Int16Array(packets.reduce((n, p) => n + p.payload.length, 0));
    let offset = 0;
    for (const p of packets) offset += decodeG711(codec, p.payload, out, offset);
    return out;
  }

  close(): void {
    this.stop();
    this.socket.close();
  }
}
