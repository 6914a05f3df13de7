// In-test bots for the other protocols: a WebSocket server that records text frames (parsed) and binary frames apart,
// with the Twilio Media Streams shapes checked on arrival and helpers to answer like a Twilio or raw-PCM bot.
import type { IncomingMessage } from 'node:http';
import { expect } from 'vitest';
import type { WebSocket } from 'ws';
import { decodeG711, encodeG711 } from '../../src/media/g711.js';
import { TestBot } from './bot.js';
import { Waiters } from './waiters.js';

export interface WireMessage {
  readonly event: string;
  readonly [key: string]: unknown;
}

export interface TwilioMedia extends WireMessage {
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly media: { readonly track: string; readonly chunk: string; readonly timestamp: string; readonly payload: string };
}

export class WireConnection {
  /** Text frames, parsed, in order. */
  readonly messages: WireMessage[] = [];
  /** Binary frames, in order. */
  readonly binary: Buffer[] = [];
  /** Every frame's kind in order: 't' text, 'b' binary. */
  readonly order: Array<'t' | 'b'> = [];
  closed = false;
  readonly #waiters = new Waiters();

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
  ) {
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      if (isBinary) {
        this.binary.push(Buffer.from(bytes));
        this.order.push('b');
      } else {
        this.messages.push(JSON.parse(bytes.toString()) as WireMessage);
        this.order.push('t');
      }
      this.#waiters.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.#waiters.wake();
    });
  }

  get url(): URL {
    return new URL(this.request.url ?? '/', 'ws://bot');
  }

  events(name: string): WireMessage[] {
    return this.messages.filter((m) => m.event === name);
  }

  /** Twilio: the base64-decoded media payloads (mu-law bytes), concatenated in order. */
  mulawPayloads(): Buffer {
    return Buffer.concat((this.events('media') as TwilioMedia[]).map((m) => Buffer.from(m.media.payload, 'base64')));
  }

  /** Twilio: the caller's audio decoded from mu-law. */
  twilioAudio(): Int16Array {
    const bytes = this.mulawPayloads();
    const out = new Int16Array(bytes.length);
    decodeG711('PCMU', bytes, out);
    return out;
  }

  /** Raw: the binary frames as samples. */
  rawAudio(): Int16Array {
    const bytes = Buffer.concat(this.binary);
    return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  }

  until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return this.#waiters.until(predicate, timeoutMs, () => `bot: timed out waiting for ${what}; got events ${this.messages.map((m) => m.event).join(',')}`);
  }

  waitForEvent(event: string, timeoutMs = 10_000): Promise<void> {
    return this.until(() => this.messages.some((m) => m.event === event), `"${event}"`, timeoutMs);
  }

  send(message: object | string): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendBinary(bytes: Buffer): void {
    this.ws.send(bytes, { binary: true });
  }

  /** Twilio: 8 kHz samples as `media` messages of 20 ms mu-law each. */
  sendTwilioAudio(streamSid: string, samples: Int16Array): void {
    for (let offset = 0; offset + 160 <= samples.length; offset += 160) {
      const bytes = Buffer.alloc(160);
      encodeG711('PCMU', samples, offset, 160, bytes, 0);
      this.send({ event: 'media', streamSid, media: { payload: bytes.toString('base64') } });
    }
  }
}

/** A bot of the other protocols: the test bot's server, with connections that keep text and binary frames apart. */
export type WireBot = TestBot<WireConnection>;

export function startWireBot(): Promise<WireBot> {
  return TestBot.serve('/stream', (ws, request) => new WireConnection(ws, request));
}

const DIGITS = /^\d+$/;

/** Checks every message the bridge sent a Twilio bot against Twilio's documented shapes; returns the streamSid. */
export function expectTwilioShapes(conn: WireConnection, expected: { callSid: string; customParameters: Record<string, string> }): string {
  const [connected, start, ...rest] = conn.messages;
  expect(connected).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  const streamSid = String(start?.streamSid);
  expect(start).toEqual({
    event: 'start',
    sequenceNumber: '1',
    streamSid,
    start: {
      accountSid: expect.any(String),
      streamSid,
      callSid: expected.callSid,
      tracks: ['inbound'],
      customParameters: expected.customParameters,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  });
  let chunk = 0;
  rest.forEach((m, i) => {
    expect(m.sequenceNumber, `sequenceNumber of message ${i + 3}`).toBe(String(i + 2));
    expect(m.streamSid).toBe(streamSid);
    switch (m.event) {
      case 'media': {
        const media = (m as TwilioMedia).media;
        expect(Object.keys(m).sort()).toEqual(['event', 'media', 'sequenceNumber', 'streamSid']);
        expect(Object.keys(media).sort()).toEqual(['chunk', 'payload', 'timestamp', 'track']);
        expect(media.track).toBe('inbound');
        expect(media.chunk).toBe(String(++chunk));
        expect(media.timestamp).toMatch(DIGITS);
        expect(Buffer.from(media.payload, 'base64').length).toBe(160);
        break;
      }
      case 'dtmf':
        expect(m).toEqual({ event: 'dtmf', sequenceNumber: m.sequenceNumber, streamSid, dtmf: { track: 'inbound_track', digit: expect.stringMatching(/^[0-9*#A-D]$/) } });
        break;
      case 'mark':
        expect(m).toEqual({ event: 'mark', sequenceNumber: m.sequenceNumber, streamSid, mark: { name: expect.any(String) } });
        break;
      case 'stop':
        expect(m).toEqual({ event: 'stop', sequenceNumber: m.sequenceNumber, streamSid, stop: { accountSid: start!.start && (start!.start as { accountSid: string }).accountSid, callSid: expected.callSid } });
        break;
      default:
        throw new Error(`unexpected event ${m.event}`);
    }
  });
  return streamSid;
}
