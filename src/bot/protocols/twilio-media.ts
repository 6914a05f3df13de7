// Twilio's `media` message for the caller's audio, written straight into the bytes ws sends: fifty of them a second
// per call. A frame built as a string costs ws a UTF-8 copy and two writes to the socket (header, payload); bytes
// are masked into one buffer with the header and written once.

const ZERO = 0x30; // '0'

const HEAD = Buffer.from('{"event":"media","sequenceNumber":"');
const CHUNK = Buffer.from('","media":{"track":"inbound","chunk":"');
const TIMESTAMP = Buffer.from('","timestamp":"');
const PAYLOAD = Buffer.from('","payload":"');
/** Digits of the three counters, at most (2^53 has 16). */
const COUNTERS_BYTES = 3 * 16;

export class TwilioMediaWriter {
  /** `"},"streamSid":"<sid>"}`: the end of every frame of the stream. */
  readonly #tail: Buffer;
  readonly #fixedBytes: number;

  constructor(streamSid: string) {
    this.#tail = Buffer.from(`"},"streamSid":${JSON.stringify(streamSid)}}`);
    this.#fixedBytes = HEAD.length + CHUNK.length + TIMESTAMP.length + PAYLOAD.length + COUNTERS_BYTES + this.#tail.length;
  }

  /**
   * The message for `length` mu-law bytes of `bytes` from `offset`, in a buffer of its own (a slice of Node's pool): ws
   * may hold a frame it has not written yet, so the bytes are not reused.
   */
  write(sequenceNumber: number, chunk: number, timestampMs: number, bytes: Buffer, offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(this.#fixedBytes + Math.ceil(length / 3) * 4);
    out.set(HEAD, 0);
    let at = writeDigits(out, HEAD.length, sequenceNumber);
    out.set(CHUNK, at);
    at = writeDigits(out, at + CHUNK.length, chunk);
    out.set(TIMESTAMP, at);
    at = writeDigits(out, at + TIMESTAMP.length, timestampMs);
    out.set(PAYLOAD, at);
    at += PAYLOAD.length;
    // Node's encoder is as fast as one written here; the string it makes is short-lived and ASCII.
    at += out.write(bytes.toString('base64', offset, offset + length), at, 'latin1');
    out.set(this.#tail, at);
    return out.subarray(0, at + this.#tail.length);
  }
}

/** A non-negative integer's decimal digits at `at`; returns the offset after them. */
function writeDigits(out: Buffer, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let rest = value;
  for (let i = at + digits - 1; i >= at; i--) {
    out[i] = ZERO + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return at + digits;
}
