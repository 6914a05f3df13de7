// RFC 4733 telephone-events: digits out of the caller's event packets, and event packets for digits the bot sends.

export type DtmfDigit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#' | 'A' | 'B' | 'C' | 'D';

const DIGITS: readonly DtmfDigit[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'];

export function isDtmfDigit(text: string): text is DtmfDigit {
  return (DIGITS as readonly string[]).includes(text);
}

const EVENT_PAYLOAD_BYTES = 4;
const CLOCK_RATE = 8000;
/** Recently reported events: the End packet is sent three times (and may arrive late). */
const REMEMBERED_EVENTS = 8;

export interface ReceivedDigit {
  readonly digit: DtmfDigit;
  readonly durationMs: number;
}

/**
 * Turns telephone-event packets into digits: one per event (an SSRC and start timestamp), reported on its first End
 * packet and never again. The marker bit is not relied on; some carriers omit it. If an event's End packets are all
 * lost, the digit is reported when the next event starts.
 */
export class DtmfReceiver {
  readonly #reported: string[] = [];
  #open: { event: string; digit: DtmfDigit; duration: number } | undefined;

  /** Returns the digits this packet completes (at most two: a previous event that never ended, and this one). */
  packet(ssrc: number, timestamp: number, payload: Buffer): ReceivedDigit[] {
    if (payload.length < EVENT_PAYLOAD_BYTES) return [];
    const code = payload[0]!;
    const end = (payload[1]! & 0x80) !== 0;
    const duration = payload.readUInt16BE(2);
    const event = `${ssrc}:${timestamp}`;
    if (code >= DIGITS.length || this.#reported.includes(event)) return [];
    const out: ReceivedDigit[] = [];
    const open = this.#open;
    if (open && open.event !== event) {
      out.push(this.#report(open.event, open.digit, open.duration));
      this.#open = undefined;
    }
    if (end) {
      out.push(this.#report(event, DIGITS[code]!, duration));
      this.#open = undefined;
    } else {
      this.#open = { event, digit: DIGITS[code]!, duration };
    }
    return out;
  }

  #report(event: string, digit: DtmfDigit, duration: number): ReceivedDigit {
    this.#reported.push(event);
    if (this.#reported.length > REMEMBERED_EVENTS) this.#reported.shift();
    return { digit, durationMs: Math.round((duration * 1000) / CLOCK_RATE) };
  }
}

/** One packet of an outgoing event. */
export interface EventPacket {
  readonly marker: boolean;
  /** The event's start timestamp: every packet of an event carries it. */
  readonly timestamp: number;
  readonly payload: Buffer;
}

const END_REPEATS = 3;
const VOLUME = 10;
/**
 * Frames without an event between two key presses: a gateway that plays the events as tones needs a pause to hear
 * two presses of one key as two (ITU-T Q.24 asks detectors for 40 ms at least).
 */
const PAUSE_FRAMES = 3;

/**
 * Plays digits as RFC 4733 events, one packet per 20 ms frame: a start packet with the marker bit, updates with
 * a growing duration, then the final duration three times with the End bit. Digits queue behind each other,
 * PAUSE_FRAMES apart.
 */
export class DtmfSender {
  readonly #queue: Array<{ digit: DtmfDigit; frames: number }> = [];
  #current: { code: number; frames: number; sent: number; ends: number; timestamp: number } | undefined;
  #pause = 0;

  constructor(private readonly frameSamples: number) {}

  get busy(): boolean {
    return this.#current !== undefined || this.#queue.length > 0;
  }

  enqueue(digit: DtmfDigit, durationMs: number): void {
    this.#queue.push({ digit, frames: Math.max(2, Math.round(durationMs / ((this.frameSamples * 1000) / CLOCK_RATE))) });
  }

  /** The packet for this frame, or undefined when no digit is playing. `timestamp` is this frame's RTP time. */
  next(timestamp: number): EventPacket | undefined {
    if (!this.#current) {
      if (this.#pause > 0) {
        this.#pause--;
        return undefined;
      }
      const next = this.#queue.shift();
      if (!next) return undefined;
      this.#current = { code: DIGITS.indexOf(next.digit), frames: next.frames, sent: 0, ends: 0, timestamp };
    }
    const c = this.#current;
    const payload = Buffer.alloc(EVENT_PAYLOAD_BYTES);
    payload[0] = c.code;
    const marker = c.sent === 0;
    if (c.sent < c.frames - 1) {
      c.sent++;
      payload[1] = VOLUME;
      payload.writeUInt16BE(c.sent * this.frameSamples, 2);
    } else {
      c.ends++;
      payload[1] = 0x80 | VOLUME;
      payload.writeUInt16BE(c.frames * this.frameSamples, 2);
      if (c.ends === END_REPEATS) {
        this.#current = undefined;
        this.#pause = PAUSE_FRAMES;
      }
    }
    return { marker, timestamp: c.timestamp, payload };
  }
}
