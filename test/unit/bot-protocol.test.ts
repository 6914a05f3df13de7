import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectedMessage, markMessage, mediaMessage, parseBotMessage, startMessage, stopMessage } from '../../src/bot/protocols/exotel.js';

describe('AgentStream messages to the bot', () => {
  it('are byte-for-byte the shapes Exotel sends, every scalar a string', () => {
    expect(connectedMessage()).toBe('{"event":"connected"}');
    expect(
      JSON.parse(
        startMessage(1, { streamSid: 's1', callSid: 'c1', accountSid: 'a1', from: '+9188', to: '+9112', customParameters: { k: 'v' }, sampleRate: 16000 }),
      ),
    ).toEqual({
      event: 'start',
      sequence_number: '1',
      stream_sid: 's1',
      start: {
        stream_sid: 's1',
        call_sid: 'c1',
        account_sid: 'a1',
        from: '+9188',
        to: '+9112',
        custom_parameters: { k: 'v' },
        media_format: { encoding: 'audio/x-raw', sample_rate: '16000', bit_rate: '16' },
      },
    });
    expect(JSON.parse(mediaMessage(2, 's1', 1, 100, 'AAE='))).toEqual({
      event: 'media',
      sequence_number: '2',
      stream_sid: 's1',
      media: { chunk: '1', timestamp: '100', payload: 'AAE=' },
    });
    expect(JSON.parse(markMessage(12, 's1', 'greeting'))).toEqual({ event: 'mark', sequence_number: '12', stream_sid: 's1', mark: { name: 'greeting' } });
    expect(JSON.parse(stopMessage(40, 's1', 'c1', 'a1', 'callended'))).toEqual({
      event: 'stop',
      sequence_number: '40',
      stream_sid: 's1',
      stop: { call_sid: 'c1', account_sid: 'a1', reason: 'callended' },
    });
  });
});

describe('messages from the bot', () => {
  it('accepts media, mark and clear with stream_sid or streamSid, numeric sequence numbers and extra fields', () => {
    const media = parseBotMessage('{"event":"media","streamSid":"s","sequence_number":3,"media":{"payload":"AAEC","chunk":"4","timestamp":"80","sequenceNumber":"3"}}');
    expect(media).toEqual({ ok: true, message: { event: 'media', audio: { encoding: 'pcm16', bytes: Buffer.from([0, 1, 2]) } } });
    expect(parseBotMessage('{"event":"mark","stream_sid":"s","mark":{"name":"done"}}')).toEqual({ ok: true, message: { event: 'mark', name: 'done' } });
    expect(parseBotMessage('{"event":"clear","streamSid":"s"}')).toEqual({ ok: true, message: { event: 'clear' } });
  });

  it('explains what is wrong with a bad message instead of throwing', () => {
    const reason = (text: string) => {
      const r = parseBotMessage(text);
      return r.ok ? 'accepted' : r.reason;
    };
    expect(reason('{not json')).toMatch(/^not JSON: /);
    expect(reason('{"event":"media","media":{"payload":"@@@"}}')).toBe('media.payload: payload is not base64');
    expect(reason('{"event":"media","media":{}}')).toMatch(/^media\.payload: /);
    expect(reason('{"event":"mark","mark":{"name":""}}')).toMatch(/^mark\.name: /);
    expect(reason('[1,2]')).toBe('message: Invalid input: expected object, received array');
    expect(reason('{"media":{"payload":""}}')).toMatch(/^event: /);
    expect(reason('null')).toMatch(/.+/);
    const unknown = parseBotMessage('{"event":"hangup"}');
    expect(unknown).toEqual({ ok: false, reason: 'unknown event "hangup"', ignorable: true });
  });

  it('takes a media payload exactly when it is standard base64 that decodes to whole bytes', () => {
    const standard = /^[A-Za-z0-9+/]*={0,2}$/;
    const wholeBytes = (p: string) => (p.length - (p.match(/=*$/)?.[0].length ?? 0)) % 4 !== 1;
    const payload = fc.string({ unit: fc.constantFrom(...'AZaz09+/=-_ @.\n\té'), maxLength: 16 });
    fc.assert(
      fc.property(payload, (p) => {
        const parsed = parseBotMessage(JSON.stringify({ event: 'media', media: { payload: p } }));
        if (standard.test(p) && wholeBytes(p)) expect(parsed).toEqual({ ok: true, message: { event: 'media', audio: { encoding: 'pcm16', bytes: Buffer.from(p, 'base64') } } });
        else expect(parsed).toEqual({ ok: false, reason: 'media.payload: payload is not base64' });
      }),
      { numRuns: 20_000 },
    );
  });
});
