// Splits a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 18.3), with RFC 5626 keep-alives.
import { SipHeaders } from './message.js';
import { contentLengthOf, findHeaderEnd } from './parser.js';

export type FrameEvent =
  | { type: 'message'; data: Buffer }
  /** A CRLFCRLF keep-alive ping; the peer expects a CRLF pong. */
  | { type: 'ping' }
  /**
   * The stream cannot be framed any more; the connection must be closed. `head` is the message's header block when
   * it arrived whole, so that the request can still be answered (400 with the reason) before the close.
   */
  | { type: 'error'; reason: string; head?: Buffer };

export class StreamFramer {
  #buffer: Buffer = Buffer.alloc(0);
  #failed = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of a message not yet complete. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Feeds bytes; returns the events they complete, in order. After an error nothing more is framed. */
  push(chunk: Buffer): FrameEvent[] {
    if (this.#failed) return [];
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const events: FrameEvent[] = [];
    for (;;) {
      const event = this.#next();
      if (!event) break;
      events.push(event);
      if (event.type === 'error') {
        this.#failed = true;
        this.#buffer = Buffer.alloc(0);
        break;
      }
    }
    return events;
  }

  #next(): FrameEvent | undefined {
    const buf = this.#buffer;
    let start = 0;
    while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    if (start > 0) {
      const isPing = start >= 4 && buf.subarray(0, 4).equals(CRLFCRLF);
      this.#buffer = buf.subarray(isPing ? 4 : start);
      if (isPing) return { type: 'ping' };
      return this.#next();
    }
    if (buf.length === 0) return undefined;
    const end = findHeaderEnd(buf);
    if (!end) {
      return buf.length > this.maxMessageBytes
        ? { type: 'error', reason: `header block exceeds ${this.maxMessageBytes} bytes` }
        : undefined;
    }
    const lines = buf.toString('latin1', 0, end.index).split(/\r?\n/);
    const fields: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith(' ') || line.startsWith('\t')) continue;
      const colon = line.indexOf(':');
      if (colon > 0) fields.push([line.slice(0, colon).trim(), line.slice(colon + 1)]);
    }
    const length = contentLengthOf(new SipHeaders(fields));
    const head = buf.subarray(0, end.index + end.length);
    if (!length.ok) return { type: 'error', reason: length.reason, head };
    if (length.value === undefined) return { type: 'error', reason: 'missing Content-Length on a stream transport', head };
    const total = end.index + end.length + length.value;
    if (total > this.maxMessageBytes) {
      return { type: 'error', reason: `message of ${total} bytes exceeds ${this.maxMessageBytes}` };
    }
    if (buf.length < total) return undefined;
    this.#buffer = buf.subarray(total);
    return { type: 'message', data: buf.subarray(0, total) };
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
