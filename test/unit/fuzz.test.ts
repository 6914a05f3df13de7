// Property-based tests over everything that reads bytes from the outside: SIP parsing and stream framing, SDP, RTP,
// telephone-events, the caller timeline and bot messages. Each must return an answer, never throw.
// The suite runs about 120,000 cases; `npm run fuzz` multiplies that by FUZZ_SCALE (default there: 20).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBotMessage } from '../../src/bot/protocols/exotel.js';
import { CallerTimeline } from '../../src/media/caller-timeline.js';
import { DtmfReceiver } from '../../src/media/dtmf.js';
import { emptyRtpHeader, parseRtp } from '../../src/media/rtp-packet.js';
import { negotiate } from '../../src/sdp/index.js';
import { StreamFramer } from '../../src/signaling/framing.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { exotelInvite, sdpOffer } from '../helpers/sip-messages.js';

const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const params = (numRuns: number) => ({ numRuns: runs(numRuns), ...(seed !== undefined && { seed }) });

const VALID_SIP = [
  exotelInvite({ callId: 'fuzz-1', headers: [['X-Customer-Header', 'salesbot']] }),
  Buffer.from('BYE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:a@y>;tag=2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n'),
  Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK-2\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:a@y>;tag=2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n'),
];

/** Ways a message gets damaged on the wire or by a hostile peer. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), text: fc.constantFrom(':', ';', ',', '<', '>', '"', '\\', '\r\n', '\n', ' \t', '=', '@', '[', 'Content-Length: 99999\r\n', 'Via: \r\n', '\r\n\r\n', '\u00e9\u{1F600}') }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of mutations) {
    const at = buf.length === 0 ? 0 : m.at % buf.length;
    switch (m.kind) {
      case 'flip':
        if (buf.length > 0) buf[at] = m.value;
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.length)]);
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
      case 'duplicate':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at, at + m.length), buf.subarray(at)]);
        break;
      case 'text':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.text), buf.subarray(at)]);
        break;
    }
  }
  return buf;
}

function checkParse(buf: Buffer): void {
  const result = parseMessage(buf);
  if (result.ok) {
    expect(result.message.via.length).toBeGreaterThan(0);
    expect(result.message.body.length).toBeLessThanOrEqual(buf.length);
  } else {
    expect(typeof result.reason).toBe('string');
    expect([400, 416, 505]).toContain(result.status);
  }
}

describe('SIP parser under hostile input', () => {
  it('answers random bytes with an error, never an exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => checkParse(Buffer.from(bytes))), params(25_000));
  });

  it('answers damaged messages with a message or an error, never an exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_SIP), fc.array(mutation, { minLength: 1, maxLength: 6 }), (valid, mutations) => checkParse(mutate(valid, mutations))),
      params(40_000),
    );
  });

  it('copes with huge headers, thousands of headers, and non-UTF-8', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        (valueLength, headerCount, junk) => {
          const lines = ['OPTIONS sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK-x', `Subject: ${'s'.repeat(valueLength)}`];
          for (let i = 0; i < headerCount; i++) lines.push(`X-H${i}: v`);
          checkParse(Buffer.concat([Buffer.from(lines.join('\r\n')), Buffer.from(junk), Buffer.from('\r\n\r\n')]));
        },
      ),
      params(200),
    );
  });
});

describe('stream framing under hostile input', () => {
  const chunked = (buf: Buffer, cuts: number[]) => {
    const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let last = 0;
    for (const p of [...points, buf.length]) {
      chunks.push(buf.subarray(last, p));
      last = p;
    }
    return chunks;
  };

  it('frames valid messages identically however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...VALID_SIP), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
        const framer = new StreamFramer(65_535);
        const out: Buffer[] = [];
        for (const chunk of chunked(Buffer.concat(messages), cuts)) {
          for (const event of framer.push(chunk)) if (event.type === 'message') out.push(event.data);
        }
        expect(out.map((b) => b.toString())).toEqual(messages.map((m) => m.toString()));
      }),
      params(5_000),
    );
  });

  it('turns damaged streams into messages or one error, never an exception', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...VALID_SIP), { minLength: 1, maxLength: 4 }), fc.array(mutation, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, mutations, cuts) => {
        const framer = new StreamFramer(4096);
        let errors = 0;
        for (const chunk of chunked(mutate(Buffer.concat(messages), mutations), cuts)) {
          for (const event of framer.push(chunk)) {
            if (event.type === 'error') errors++;
            if (event.type === 'message') checkParse(event.data);
          }
        }
        expect(errors).toBeLessThanOrEqual(1);
      }),
      params(10_000),
    );
  });
});

describe('SDP, RTP, telephone-events and bot messages under hostile input', () => {
  it('answers any offer with an answer, 400 or 488', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 500 }),
          fc.array(mutation, { maxLength: 6 }).map((m) => mutate(Buffer.from(sdpOffer()), m).toString('latin1')),
        ),
        (text) => {
          const result = negotiate(text);
          if (!result.ok) expect([400, 488]).toContain(result.status);
        },
      ),
      params(20_000),
    );
  });

  it('parses RTP headers within the packet or says why not', () => {
    const header = emptyRtpHeader();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const packet = Buffer.from(bytes);
        if (parseRtp(packet, header) === undefined) expect(header.payloadOffset + header.payloadLength).toBeLessThanOrEqual(packet.length);
      }),
      params(10_000),
    );
  });

  it('keeps the DTMF receiver and caller timeline sane on random packets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ssrc: fc.nat(), ts: fc.nat(), payload: fc.uint8Array({ maxLength: 8 }), samples: fc.integer({ min: 0, max: 960 }), dt: fc.integer({ min: 0, max: 3000 }) }), { maxLength: 30 }),
        (packets) => {
          const dtmf = new DtmfReceiver();
          let delivered = 0;
          const timeline = new CallerTimeline((s) => (delivered += s.length));
          let now = 0;
          timeline.start(now);
          for (const p of packets) {
            now += p.dt;
            for (const d of dtmf.packet(p.ssrc, p.ts, Buffer.from(p.payload))) expect(d.digit).toMatch(/^[0-9*#A-D]$/);
            timeline.packet(p.ssrc, p.ts, new Int16Array(p.samples), now);
            timeline.tick(now);
          }
          // The stream never runs ahead of the wall clock by more than what arrived in the last packet plus jitter.
          expect(delivered).toBeLessThanOrEqual(8 * (now + 60) + 960 * (packets.length + 1));
        },
      ),
      params(5_000),
    );
  });

  it('answers any bot message with a message or a reason', () => {
    const valid = ['{"event":"media","media":{"payload":"AAEC"}}', '{"event":"mark","mark":{"name":"m"}}', '{"event":"clear"}', '{"event":"dtmf","dtmf":{"digit":"5"}}'];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.json(),
          fc.tuple(fc.constantFrom(...valid), fc.array(mutation, { maxLength: 4 })).map(([v, m]) => mutate(Buffer.from(v), m).toString()),
        ),
        (text) => {
          const result = parseBotMessage(text);
          if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
        },
      ),
      params(10_000),
    );
  });
});
