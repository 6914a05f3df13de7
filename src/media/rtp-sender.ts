// The send side of a call's media: one RTP packet per clock tick, a key press event when one is due, else a frame of bot audio.
import { randomInt } from 'node:crypto';
import { DtmfSender } from './dtmf.js';
import { encodeG711 } from './g711.js';
import type { PlayoutQueue } from './playout.js';
import type { BoundRtpSocket } from './ports.js';
import { RTP_HEADER_BYTES, rtpPacket, writeRtpHeader } from './rtp-packet.js';
import { FRAME_SAMPLES, type LegFormat, type RemoteAddress } from './session-types.js';

const PACKET_BYTES = RTP_HEADER_BYTES + FRAME_SAMPLES;

/**
 * The frame being sent and its packet: one of each for every call of this thread (warm in the CPU's cache; one per call
 * would be cold by its next tick). A tick fills, encodes and sends them before the next call's tick runs.
 */
const FRAME = new Int16Array(FRAME_SAMPLES);
/** Replaced when a socket keeps it queued (see tick). */
let packetBuffer = Buffer.alloc(PACKET_BYTES);

export class RtpSender {
  packetsOut = 0;
  readonly dtmf = new DtmfSender(FRAME_SAMPLES);
  /** The frame this tick took from the playout queue; valid until the next call's tick. */
  readonly frame = FRAME;
  readonly #socket: BoundRtpSocket['socket'];
  readonly #format: LegFormat;
  readonly #remote: RemoteAddress;
  /** Held (recvonly, inactive): no RTP goes out. */
  #sends = true;
  readonly #ssrc = randomInt(2 ** 32);
  #sequence = randomInt(2 ** 16);
  #timestamp = randomInt(2 ** 32);
  #first = true;

  constructor(rtp: BoundRtpSocket, format: LegFormat, remote: RemoteAddress) {
    this.#socket = rtp.socket;
    this.#format = format;
    this.#remote = remote;
  }

  setSends(sends: boolean): void {
    // The first packet after a pause carries the marker bit (RFC 3551 4.1).
    if (sends && !this.#sends) this.#first = true;
    this.#sends = sends;
  }

  /** Sends this tick's packet, after `skipped` frames the clock missed; true when bot audio (this.frame) went out. */
  tick(skipped: number, queue: PlayoutQueue): boolean {
    // Skipped frames are skipped time: their audio goes too, or the bot's audio would fall further behind each stall.
    this.#timestamp = (this.#timestamp + skipped * FRAME_SAMPLES) >>> 0;
    if (skipped > 0) queue.discard(skipped * FRAME_SAMPLES);
    const event = this.dtmf.next(this.#timestamp);
    let sent: boolean;
    let played = false;
    if (event) {
      sent = this.#send(rtpPacket(event.marker, this.#format.dtmfPayloadType!, this.#sequence, event.timestamp, this.#ssrc, event.payload));
    } else {
      queue.pull(FRAME);
      const packet = packetBuffer;
      writeRtpHeader(packet, this.#first, this.#format.payloadType, this.#sequence, this.#timestamp, this.#ssrc);
      encodeG711(this.#format.codec, FRAME, 0, FRAME_SAMPLES, packet, RTP_HEADER_BYTES);
      sent = this.#send(packet);
      played = sent;
      // Sent at once almost always (the kernel has copied it); a queued send keeps its buffer, so take a new one.
      if (this.#socket.getSendQueueCount() > 0) packetBuffer = Buffer.alloc(PACKET_BYTES);
    }
    // Sequence numbers count packets sent; the timestamp counts time, held or not.
    if (sent) {
      this.#first = false;
      this.#sequence = (this.#sequence + 1) & 0xffff;
    }
    this.#timestamp = (this.#timestamp + FRAME_SAMPLES) >>> 0;
    return played;
  }

  #send(packet: Buffer): boolean {
    if (!this.#sends || this.#remote.port === 0 || this.#remote.address === '0.0.0.0') return false;
    this.#socket.send(packet, this.#remote.port, this.#remote.address);
    this.packetsOut++;
    return true;
  }
}
