// The carrier's media leg in tests: sends G.711 RTP on a 20 ms schedule and records what arrives, with timing.
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { DtmfSender, type DtmfDigit } from '../../src/media/dtmf.js';
import { decodeG711, encodeG711, G711_PAYLOAD_TYPE, type G711Codec } from '../../src/media/g711.js';
import { emptyRtpHeader, parseRtp, RTP_HEADER_BYTES, writeRtpHeader } from '../../src/media/rtp-packet.js';

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

export interface PacketTransform {
  protect?(packet: Buffer): Buffer;
  /** undefined for a packet that fails its check. */
  unprotect?(packet: Buffer): Buffer | undefined;
}

export class RtpPeer {
  readonly received: ReceivedPacket[] = [];
  /** Packets the transform refused (failed SRTP authentication). */
  rejected = 0;
  #sending: NodeJS.Timeout | undefined;
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
    const start = performance.now();
    if (this.#clockEnd !== undefined) this.#ts = (this.#ts + Math.round((start - this.#clockEnd) * 8)) >>> 0;
    let offset = 0;
    let sent = 0;
    return new Promise((resolve) => {
      const tick = () => {
        while (start + sent * 20 <= performance.now()) {
          if (offset + 160 > samples.length) {
            if (!options.loop) {
              this.#sending = undefined;
              this.#clockEnd = start + sent * 20;
              resolve();
              return;
            }
            offset = 0;
          }
          if (!options.drop?.(sent)) {
            const packet = Buffer.alloc(RTP_HEADER_BYTES + 160);
            writeRtpHeader(packet, this.#seq === FIRST_SEQ, pt, this.#seq, this.#ts, SSRC);
            encodeG711(codec, samples, offset, 160, packet, RTP_HEADER_BYTES);
            this.socket.send(this.transform.protect ? this.transform.protect(packet) : packet, remote.port, remote.address);
          }
          this.#seq = (this.#seq + 1) & 0xffff;
          this.#ts = (this.#ts + 160) >>> 0;
          offset += 160;
          sent++;
        }
        this.#sending = setTimeout(tick, Math.max(0, start + sent * 20 - performance.now()));
      };
      tick();
    });
  }

  /** Plays `digits` to `remote` as RFC 4733 events on `payloadType`, one packet per 20 ms; resolves when all are sent. */
  async sendDtmf(remote: { address: string; port: number }, payloadType: number, digits: DtmfDigit[], durationMs: number): Promise<void> {
    const events = new DtmfSender(160);
    for (const digit of digits) events.enqueue(digit, durationMs);
    while (events.busy) {
      const event = events.next(this.#ts);
      if (event) {
        const packet = Buffer.alloc(RTP_HEADER_BYTES + event.payload.length);
        writeRtpHeader(packet, event.marker, payloadType, this.#seq, event.timestamp, SSRC);
        event.payload.copy(packet, RTP_HEADER_BYTES);
        this.socket.send(this.transform.protect ? this.transform.protect(packet) : packet, remote.port, remote.address);
        this.#seq = (this.#seq + 1) & 0xffff;
      }
      this.#ts = (this.#ts + 160) >>> 0;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.#clockEnd = performance.now();
  }

  stop(): void {
    clearTimeout(this.#sending);
    this.#sending = undefined;
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
