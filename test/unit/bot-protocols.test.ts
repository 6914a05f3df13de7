// The protocol modules alone: what each encodes, and each refusing bad bot input with a reason (never throwing).
import { describe, expect, it } from 'vitest';
import { createBotProtocol, routeCall, type BotProtocolName, type StreamStart } from '../../src/bot/index.js';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { TextFrame } from '../../src/bot/protocols/index.js';

const START: StreamStart = { streamSid: 'MZ1', callSid: 'CA1', accountSid: 'AC1', from: '+911', to: '+912', customParameters: { k: 'v' }, sampleRate: 8000 };
const text = (s: string) => Buffer.from(s);
const json = (o: object) => Buffer.from(JSON.stringify(o));

describe('bot protocols refuse bad input with a reason', () => {
  const cases: Record<BotProtocolName, Array<[string, Buffer, boolean]>> = {
    exotel: [
      ['not JSON', text('{'), false],
      ['binary', Buffer.alloc(4), true],
      ['bad base64', json({ event: 'media', media: { payload: '***' } }), false],
      ['wrong shape', json({ event: 'mark', mark: {} }), false],
    ],
    twilio: [
      ['not JSON', text('nope'), false],
      ['binary', Buffer.alloc(4), true],
      ['bad base64', json({ event: 'media', streamSid: 'MZ1', media: { payload: 'a-b_' } }), false],
      ['media without payload', json({ event: 'media', media: {} }), false],
      ['wrong shape', json({ event: 'mark', mark: { name: 3 } }), false],
      ['no event', json({ foo: 1 }), false],
    ],
    raw: [
      ['not JSON', text('nope'), false],
      ['half a sample', Buffer.alloc(3), true],
      ['bad digit', json({ event: 'dtmf', digit: 'X' }), false],
      ['wrong shape', json({ event: 'mark' }), false],
    ],
  };
  for (const [name, list] of Object.entries(cases) as Array<[BotProtocolName, Array<[string, Buffer, boolean]>]>) {
    for (const [what, data, binary] of list) {
      it(`${name}: ${what}`, () => {
        const parsed = createBotProtocol(name).decode(data, binary);
        expect(parsed.ok).toBe(false);
        if (!parsed.ok) expect(parsed.reason.length).toBeGreaterThan(3);
      });
    }
  }

  it('an unknown event is ignorable in each', () => {
    for (const name of ['exotel', 'twilio', 'raw'] as const) {
      const parsed = createBotProtocol(name).decode(json({ event: 'hello' }), false);
      expect(parsed).toMatchObject({ ok: false, ignorable: true });
    }
  });
});

describe('twilio', () => {
  it('decodes media as mu-law bytes (the media layer converts them), and marks and clear', () => {
    const twilio = createBotProtocol('twilio');
    const mulaw = Buffer.from([0xff, 0x00, 0x7f, 0x80]);
    const parsed = twilio.decode(json({ event: 'media', streamSid: 'MZ1', media: { payload: mulaw.toString('base64') } }), false);
    expect(parsed).toEqual({ ok: true, message: { event: 'media', audio: { encoding: 'mulaw', bytes: mulaw } } });
    expect(twilio.decode(json({ event: 'mark', streamSid: 'MZ1', mark: { name: 'a' } }), false)).toEqual({ ok: true, message: { event: 'mark', name: 'a' } });
    expect(twilio.decode(json({ event: 'clear', streamSid: 'MZ1' }), false)).toEqual({ ok: true, message: { event: 'clear' } });
  });

  it('counts sequenceNumber from 1 after connected, chunks and timestamps per 20 ms frame', () => {
    const twilio = createBotProtocol('twilio');
    expect(JSON.parse(String(twilio.connected()))).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(JSON.parse(String(twilio.start(START))).sequenceNumber).toBe('1');
    const frame = Buffer.alloc(170, 0x55);
    const first = JSON.parse(String(twilio.mulaw(frame, 10, 160)));
    const second = JSON.parse(String(twilio.mulaw(frame, 10, 160)));
    expect(first).toEqual({ event: 'media', sequenceNumber: '2', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: frame.subarray(10).toString('base64') }, streamSid: 'MZ1' });
    expect(second.media).toMatchObject({ chunk: '2', timestamp: '20' });
    expect(() => twilio.media(Buffer.alloc(320))).toThrow(/mu-law/);
    expect(JSON.parse(String(twilio.stop('callended')))).toEqual({ event: 'stop', sequenceNumber: '4', streamSid: 'MZ1', stop: { accountSid: 'AC1', callSid: 'CA1' } });
  });
});

describe('twilio media frames', () => {
  it('are text frames whose bytes are the JSON a string would be, across digit counts and payload lengths', () => {
    const twilio = createBotProtocol('twilio');
    twilio.start({ ...START, streamSid: 'MZ"1\\' });
    const audio = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff));
    let samples = 0;
    for (let n = 1; n <= 120; n++) {
      const length = [160, 1, 2, 3, 161][n % 5]!;
      const frame = twilio.mulaw(audio, n % 7, length);
      expect(frame).toBeInstanceOf(TextFrame);
      const expected = {
        event: 'media',
        sequenceNumber: String(n + 1),
        media: { track: 'inbound', chunk: String(n), timestamp: String(Math.round(samples / 8)), payload: audio.toString('base64', n % 7, (n % 7) + length) },
        streamSid: 'MZ"1\\',
      };
      expect(JSON.parse((frame as TextFrame).bytes.toString('utf8'))).toEqual(expected);
      samples += length;
    }
  });
});

describe('protocol and headers config', () => {
  it('refuses twilio at a rate other than 8000, on a route or for the default bot', () => {
    const route = { header: 'X-A', equals: 'b', url: 'ws://bot/', protocol: 'twilio', sampleRate: 16000 };
    expect(() => parseConfig({ routes: [route] }, 'test')).toThrow(ConfigError);
    expect(() => parseConfig({ bot: { protocol: 'twilio', sampleRate: 24000 } }, 'test')).toThrow(/8000/);
    expect(() => parseConfig({ bot: { headers: { 'Bad Name': 'x' } } }, 'test')).toThrow(ConfigError);
    expect(() => parseConfig({ bot: { headers: { Authorization: 'a\r\nb' } } }, 'test')).toThrow(ConfigError);
    expect(parseConfig({ bot: { protocol: 'raw' } }, 'test').bot.protocol).toBe('raw');
  });

  it('routes a call with its route protocol and the default headers under the route ones; twilio at 8000', () => {
    const route = routeCall([['X-A', 'b']], {
      routes: [{ header: 'X-A', equals: 'b', url: new URL('ws://bot/?sample-rate=16000'), protocol: 'twilio', headers: { Authorization: 'Bearer r' } }],
      defaultSampleRate: 16000,
      defaultHeaders: { Authorization: 'Bearer d', 'X-Key': 'k' },
    });
    expect(route).toMatchObject({ ok: true, protocol: 'twilio', sampleRate: 8000, headers: { Authorization: 'Bearer r', 'X-Key': 'k' } });
    expect(routeCall([], { routes: [], defaultUrl: new URL('ws://d/'), defaultSampleRate: 8000 })).toMatchObject({ ok: true, protocol: 'exotel', headers: {} });
  });
});
