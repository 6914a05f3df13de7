// The caller's RTP out: 20 ms G.711 packets on the media layer's FrameClock, key presses as RFC 4733 events among them.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { FRAME_MS, FrameClock } from '../media/clock.js';
import { DtmfSender, type DtmfDigit } from '../media/dtmf.js';
import { encodeG711, type G711Codec } from '../media/g711.js';
import { RTP_HEADER_BYTES, rtpPacket, writeRtpHeader } from '../media/rtp-packet.js';

const FRAME_SAMPLES = 160;
const DTMF_DURATION_MS = 100;
/** From one key press's start to the next: the press, its three End packets, then a pause. */
const DTMF_INTERVAL_MS = 250;

/** The answered media: what to send and on which payload types. */
export interface RtpFormat {
  readonly codec: G711Codec;
  readonly payloadType: number;
  /** Without it, key presses cannot be sent. */
  readonly dtmfPayloadType?: number;
}

export interface SendPlan {
  /** 8 kHz mono. */
  readonly audio: Int16Array;
  /** Silence after the audio and key presses, before the sender is done. */
  readonly holdMs: number;
  readonly dtmf: readonly DtmfDigit[];
  /** When the first key is pressed, in ms from the first packet. */
  readonly dtmfAtMs: number;
}

export class RtpSender {
  packetsSent = 0;
  digitsSent = 0;
  /** Settles when the audio, the key presses and the hold have all been sent, or on stop(). */
  readonly done: Promise<void>;
  readonly #dtmf = new DtmfSender(FRAME_SAMPLES);
  /** The keys to press: none when the answer has no telephone-event. */
  readonly #keys: readonly DtmfDigit[];
  readonly #ssrc = randomInt(2 ** 32);
  #sequence = randomInt(2 ** 16);
  #timestamp = randomInt(2 ** 32);
  /** The caller's own 20 ms clock: one call, so none to share. */
  readonly #clock = new FrameClock();
  #stopClock: (() => void) | undefined;
  #frame = 0;
  #finish!: () => void;
  /** The frame at which everything but the hold had been sent. */
  #playedOutAt: number | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly remote: { readonly address: string; readonly port: number },
    private readonly format: RtpFormat,
    private readonly plan: SendPlan,
  ) {
    this.#keys = format.dtmfPayloadType === undefined ? [] : plan.dtmf;
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  start(): void {
    // The first packet goes out at once, the others on the clock's ticks.
    if (this.#step()) return;
    this.#stopClock = this.#clock.add((skipped) => {
      // The caller's audio is what the call tests: frames a stall of this process made the clock skip go out late,
      // not never, so the bridge still hears all of it.
      for (let i = 0; i <= skipped; i++) if (this.#step()) return;
    });
  }

  stop(): void {
    this.#stopClock?.();
    this.#stopClock = undefined;
    this.#finish();
  }

  /** Sends the next frame; true (and stopped) when there is none left to send. */
  #step(): boolean {
    if (this.#finished(this.#frame)) {
      this.stop();
      return true;
    }
    this.#sendFrame(this.#frame++);
    return false;
  }

  /** Whether the sender is done by this frame; notes the frame where the hold starts. */
  #finished(frame: number): boolean {
    const audioDone = frame * FRAME_SAMPLES >= this.plan.audio.length;
    if (this.#playedOutAt === undefined && audioDone && this.digitsSent === this.#keys.length && !this.#dtmf.busy) this.#playedOutAt = frame;
    return this.#playedOutAt !== undefined && (frame - this.#playedOutAt) * FRAME_MS >= this.plan.holdMs;
  }

  #sendFrame(frame: number): void {
    const { codec, payloadType, dtmfPayloadType } = this.format;
    const { dtmfAtMs, audio } = this.plan;
    if (this.digitsSent < this.#keys.length && dtmfAtMs + this.digitsSent * DTMF_INTERVAL_MS <= frame * FRAME_MS) {
      this.#dtmf.enqueue(this.#keys[this.digitsSent++]!, DTMF_DURATION_MS);
    }
    // A key press takes the place of the audio of its frames, as a phone's keypad tone does.
    const event = this.#dtmf.next(this.#timestamp);
    let packet: Buffer;
    if (event) {
      packet = rtpPacket(event.marker, dtmfPayloadType!, this.#sequence, event.timestamp, this.#ssrc, event.payload);
    } else {
      const samples = new Int16Array(FRAME_SAMPLES);
      const offset = frame * FRAME_SAMPLES;
      if (offset < audio.length) samples.set(audio.subarray(offset, offset + FRAME_SAMPLES));
      packet = Buffer.alloc(RTP_HEADER_BYTES + FRAME_SAMPLES);
      writeRtpHeader(packet, frame === 0, payloadType, this.#sequence, this.#timestamp, this.#ssrc);
      encodeG711(codec, samples, 0, FRAME_SAMPLES, packet, RTP_HEADER_BYTES);
    }
    this.socket.send(packet, this.remote.port, this.remote.address);
    this.packetsSent++;
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + FRAME_SAMPLES) >>> 0;
  }
}
