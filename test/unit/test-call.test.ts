import { describe, expect, it } from 'vitest';
import { encodeG711 } from '../../src/media/g711.js';
import { RTP_HEADER_BYTES, writeRtpHeader } from '../../src/media/rtp-packet.js';
import { negotiate } from '../../src/sdp/index.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { serializeRequest } from '../../src/signaling/serializer.js';
import { parseCliArgs, type CliOptions } from '../../src/test-call/args.js';
import { inviteRequest, newLeg, sdpOffer, withCustomHeaders } from '../../src/test-call/requests.js';
import { RtpRecorder } from '../../src/test-call/rtp-recorder.js';
import { parseCallTarget } from '../../src/test-call/target.js';

function options(argv: string[]): CliOptions {
  const parsed = parseCliArgs(argv);
  if (!parsed.ok) throw new Error(parsed.reason);
  if (parsed.value === 'help') throw new Error('help');
  return parsed.value;
}

function refusal(argv: string[]): string {
  const parsed = parseCliArgs(argv);
  if (parsed.ok) throw new Error('accepted');
  return parsed.reason;
}

describe('test call command line', () => {
  it('dials over TCP unless the URI asks for UDP, with the defaults documented', () => {
    const uri = 'sip:+911234567890@127.0.0.1:5070';
    expect(options(['--to', uri, '--play', 'a.wav'])).toEqual({
      target: { uri, transport: 'tcp', host: '127.0.0.1', port: 5070, user: '+911234567890' },
      play: 'a.wav',
      dtmf: [],
      dtmfAtMs: 1000,
      holdMs: 1000,
      headers: [],
      localIp: '127.0.0.1',
      from: '+918888888888',
      verbose: false,
    });
    const udp = options(['--to', 'sip:bot@[::1];transport=UDP', '--play', 'a.wav', '--local-ip', '::1', '--record', 'o.wav', '-v']);
    expect(udp.target).toEqual({ uri: 'sip:bot@[::1];transport=UDP', transport: 'udp', host: '::1', port: 5060, user: 'bot' });
    expect(udp).toMatchObject({ record: 'o.wav', localIp: '::1', verbose: true });
  });

  it('takes key presses, times and repeated headers', () => {
    const headers = ['--header', 'X-Customer-Header=salesbot', '--header', 'X-UUI=a=b'];
    const o = options(['--to', 'sip:1@h', '--play', 'a.wav', '--dtmf', '12#*a', '--dtmf-at', '250', '--hold', '0', ...headers]);
    expect(o).toMatchObject({ dtmf: ['1', '2', '#', '*', 'A'], dtmfAtMs: 250, holdMs: 0 });
    expect(o.headers).toEqual([
      ['X-Customer-Header', 'salesbot'],
      ['X-UUI', 'a=b'],
    ]);
    expect(parseCliArgs(['--help'])).toEqual({ ok: true, value: 'help' });
  });

  it('refuses what it cannot do, saying why', () => {
    expect(refusal(['--play', 'a.wav'])).toBe('--to is required');
    expect(refusal(['--to', 'sip:1@h'])).toBe('--play is required');
    expect(refusal(['--to', 'sip:1@h;transport=tls', '--play', 'a.wav'])).toBe(
      '--to: transport=tls is not supported: use tcp (the default) or udp',
    );
    expect(refusal(['--to', 'sips:1@h', '--play', 'a.wav'])).toBe('--to: sips: URIs are not supported: use sip:USER@HOST:PORT');
    expect(refusal(['--to', 'http://h', '--play', 'a.wav'])).toMatch(/^--to: unsupported URI/);
    expect(refusal(['--to', 'sip:1@h', '--play', 'a.wav', '--dtmf', '12x'])).toBe('--dtmf: "X" is not a key (0-9, *, #, A-D)');
    expect(refusal(['--to', 'sip:1@h', '--play', 'a.wav', '--hold', '1s'])).toBe('--hold "1s" is not a whole number of ms');
    const noValue = refusal(['--to', 'sip:1@h', '--play', 'a.wav', '--header', 'X-Customer-Header']);
    expect(noValue).toMatch(/^--header "X-Customer-Header": expected NAME=VALUE/);
    expect(refusal(['--to', 'sip:1@h', '--play', 'a.wav', '--header', 'Bad Name=1'])).toMatch(/^--header "Bad Name=1": expected NAME=VALUE/);
    expect(refusal(['--to', 'sip:1@h', '--play', 'a.wav', '--local-ip', 'localhost'])).toBe('--local-ip "localhost" is not an IP address');
    expect(refusal(['--to', 'sip:1@h', '--play', 'a.wav', '--volume', '3'])).toMatch(/Unknown option '--volume'/);
  });
});

describe('test call INVITE', () => {
  it("is shaped like Exotel's and offers PCMA, PCMU and telephone-event 96", () => {
    const target = parseCallTarget('sip:+911234567890@127.0.0.1:5070');
    if (!target.ok) throw new Error(target.reason);
    const leg = newLeg(target.value, { address: '127.0.0.1', port: 40000 }, '+918888888888');
    const headers = withCustomHeaders(
      [
        ['X-Exotel-CallSid', 'generated'],
        ['X-Exotel-AccountSid', 'test-call'],
      ],
      [
        ['x-exotel-callsid', 'mine'],
        ['X-Customer-Header', 'salesbot'],
      ],
    );
    const parsed = parseMessage(serializeRequest(inviteRequest(leg, 'z9hG4bK-1', sdpOffer('127.0.0.1', 30000), headers)));
    if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('INVITE does not parse');
    const invite = parsed.message;
    expect(invite.uri).toBe('sip:+911234567890@127.0.0.1:5070');
    expect(invite.headers.get('via')).toBe('SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK-1;rport');
    expect(invite.headers.get('from')).toMatch(/^"\+918888888888" <sip:\+918888888888@exotelt\.pstn\.exotel\.com>;tag=\w+$/);
    expect(invite.headers.get('to')).toBe('<sip:+911234567890@127.0.0.1>');
    expect(invite.headers.get('contact')).toBe('<sip:+918888888888@127.0.0.1:40000;transport=tcp>');
    expect(invite.headers.getAll('x-exotel-callsid')).toEqual(['mine']);
    expect(invite.headers.get('x-exotel-accountsid')).toBe('test-call');
    expect(invite.headers.get('x-customer-header')).toBe('salesbot');
    const sdp = invite.body.toString();
    expect(sdp).toMatch(/^m=audio 30000 RTP\/AVP 8 0 96\r$/m);
    expect(sdp).toMatch(/^a=fmtp:96 0-15\r$/m);
    const offer = negotiate(sdp);
    expect(offer.ok && offer.audio).toMatchObject({ codec: 'PCMA', dtmfPayloadType: 96, remote: { address: '127.0.0.1', port: 30000 } });
  });
});

describe('test call recording', () => {
  const format = { codec: 'PCMA', payloadType: 8, dtmfPayloadType: 96 } as const;

  function packet(sequence: number, timestamp: number, value: number, ssrc = 7): Buffer {
    const out = Buffer.alloc(RTP_HEADER_BYTES + 160);
    writeRtpHeader(out, false, 8, sequence, timestamp, ssrc);
    encodeG711('PCMA', new Int16Array(160).fill(value), 0, 160, out, RTP_HEADER_BYTES);
    return out;
  }

  it('places audio by RTP timestamp: a lost packet stays a gap, a late one fills its own place', () => {
    const recorder = new RtpRecorder(format);
    recorder.packet(packet(65534, 4294967000, 1000), 0);
    recorder.packet(packet(65535, 4294967160, 2000), 20);
    // sequence 0 is lost; 2 arrives before 1; the timestamp wraps.
    recorder.packet(packet(2, 4294967000 + 640, 4000), 60);
    recorder.packet(packet(1, 4294967000 + 480, 3000), 61);
    recorder.packet(Buffer.from('not rtp'), 62);
    const audio = recorder.recording;
    expect(audio).toHaveLength(800);
    const level = (frame: number) => Math.round(audio[frame * 160 + 80]! / 1000);
    expect([0, 1, 2, 3, 4].map(level)).toEqual([1, 2, 0, 3, 4]);
    expect(recorder.report()).toMatchObject({ packets: 4, lost: 1, outOfOrder: 1, ignored: 1, gapMs: { p50: 20, max: 40 } });
  });

  it('places a new stream (another SSRC) by its arrival time', () => {
    const recorder = new RtpRecorder(format);
    recorder.packet(packet(1, 1000, 1000, 1), 0);
    recorder.packet(packet(9, 123456, 2000, 2), 100);
    expect(recorder.recording).toHaveLength(800 + 160);
    expect(Math.round(recorder.recording[880]! / 1000)).toBe(2);
    expect(recorder.recording[400]).toBe(0);
  });
});
