import { createSocket } from 'node:dgram';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeG711 } from '../../src/media/g711.js';
import { RTP_HEADER_BYTES, writeRtpHeader } from '../../src/media/rtp-packet.js';
import { negotiate } from '../../src/sdp/index.js';
import { StreamFramer } from '../../src/signaling/framing.js';
import type { SipRequest } from '../../src/signaling/message.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { parseCliArgs, type CliOptions } from '../../src/test-call/args.js';
import type { TestCallOptions } from '../../src/test-call/call-types.js';
import { placeTestCall } from '../../src/test-call/caller.js';
import { RtpRecorder } from '../../src/test-call/rtp-recorder.js';
import { parseCallTarget } from '../../src/test-call/target.js';
import { reply, SDP } from '../helpers/uac.js';

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

function callOptions(to: string, extra: Partial<TestCallOptions> = {}): TestCallOptions {
  const target = parseCallTarget(to);
  if (!target.ok) throw new Error(target.reason);
  return {
    target: target.value,
    from: '+918888888888',
    localAddress: '127.0.0.1',
    headers: [],
    audio: new Int16Array(1600),
    holdMs: 0,
    dtmf: [],
    dtmfAtMs: 0,
    ...extra,
  };
}

function request(data: Buffer): SipRequest {
  const parsed = parseMessage(data);
  if (!parsed.ok || parsed.message.kind !== 'request') throw new Error(`not a request: ${data.toString()}`);
  return parsed.message;
}

/** A bridge over TCP on loopback that answers each request with what `respond` returns. */
async function tcpBridge(
  respond: (request: SipRequest) => string | undefined,
): Promise<{ port: number; requests: SipRequest[]; sockets: net.Socket[]; close(): void }> {
  const requests: SipRequest[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const framer = new StreamFramer(65_535);
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.type !== 'message') continue;
        const req = request(event.data);
        requests.push(req);
        const answer = respond(req);
        if (answer) socket.write(answer);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, requests, sockets, close: () => server.close() };
}

describe('test call INVITE', () => {
  it("is shaped like Exotel's, offers PCMA, PCMU and telephone-event 96, and a refusal is ACKed and reported", async () => {
    const bridge = await tcpBridge((req) =>
      req.method === 'INVITE' ? reply(req, '486 Busy Here', 'b1', ['Warning: 399 bridge "the bot is busy"']) : undefined,
    );
    try {
      const to = `sip:+911234567890@127.0.0.1:${bridge.port}`;
      const headers = [
        ['x-exotel-callsid', 'mine'],
        ['X-Customer-Header', 'salesbot'],
      ] as const;
      const result = await placeTestCall(callOptions(to, { headers }));
      expect(result).toMatchObject({ outcome: 'refused', problem: '486 Busy Here: the bot is busy', callSid: 'mine' });
      expect(result.final).toEqual({ status: 486, reason: 'Busy Here', warning: 'the bot is busy' });
      expect(result.ladder.map((e) => `${e.direction} ${e.summary}`)).toEqual([`sent INVITE ${to}`, 'received 486 Busy Here', `sent ACK ${to}`]);
      expect(result.ladder[0]!.atMs).toBe(0);

      const invite = request(Buffer.from(result.ladder[0]!.text));
      expect(invite.uri).toBe(to);
      const via = invite.headers.get('via')!;
      expect(via).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK\w+;rport$/);
      expect(invite.headers.get('from')).toMatch(/^"\+918888888888" <sip:\+918888888888@exotelt\.pstn\.exotel\.com>;tag=\w+$/);
      expect(invite.headers.get('to')).toBe('<sip:+911234567890@127.0.0.1>');
      // Our TCP listener, as in the Via: the bridge may open a connection to it (RFC 3261 18.2.2).
      const listener = /127\.0\.0\.1:(\d+)/.exec(via)![1];
      expect(invite.headers.get('contact')).toBe(`<sip:+918888888888@127.0.0.1:${listener};transport=tcp>`);
      expect(invite.headers.get('user-agent')).toBe('sip-ws-bridge test-call');
      expect(invite.headers.getAll('x-exotel-callsid')).toEqual(['mine']);
      expect(invite.headers.get('x-exotel-accountsid')).toBe('test-call');
      expect(invite.headers.get('x-customer-header')).toBe('salesbot');
      const sdp = invite.body.toString();
      expect(sdp).toMatch(/^m=audio \d+ RTP\/AVP 8 0 96\r$/m);
      expect(sdp).toMatch(/^a=fmtp:96 0-15\r$/m);
      const offer = negotiate(sdp);
      expect(offer.ok && offer.audio).toMatchObject({ codec: 'PCMA', dtmfPayloadType: 96, remote: { address: '127.0.0.1' } });
      expect(bridge.requests.map((r) => r.method)).toEqual(['INVITE', 'ACK']);
    } finally {
      bridge.close();
    }
  });

  it('fails with the reason when nothing listens at the target', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await placeTestCall(callOptions(`sip:1@127.0.0.1:${port}`));
    expect(result.outcome).toBe('failed');
    expect(result.problem).toMatch(new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port} over TCP: .*ECONNREFUSED`));
  });

  it('cancels on abort before the answer: CANCEL once the bridge rings, then the 487 is ACKed', async () => {
    let invite: SipRequest | undefined;
    const bridge = await tcpBridge((req) => {
      if (req.method === 'INVITE') {
        invite = req;
        return reply(req, '180 Ringing', 'b3');
      }
      if (req.method === 'CANCEL') return reply(req, '200 OK', 'b3') + reply(invite!, '487 Request Terminated', 'b3');
      return undefined;
    });
    try {
      const to = `sip:+911234567890@127.0.0.1:${bridge.port}`;
      const hangUp = new AbortController();
      const onLadder = (entry: { summary: string }) => entry.summary === '180 Ringing' && hangUp.abort();
      const result = await placeTestCall(callOptions(to, { signal: hangUp.signal, onLadder }));
      expect(result).toMatchObject({ outcome: 'interrupted', problem: 'cancelled before the answer' });
      expect(result.ladder.map((e) => `${e.direction} ${e.summary}`)).toEqual([
        `sent INVITE ${to}`,
        'received 180 Ringing',
        `sent CANCEL ${to}`,
        'received 200 OK (CANCEL)',
        'received 487 Request Terminated',
        `sent ACK ${to}`,
      ]);
    } finally {
      bridge.close();
    }
  });

  it('reports a connection the bridge closes during the call (the dialog is lost) as failed', async () => {
    const bridge = await tcpBridge((req) => {
      if (req.method === 'INVITE') return reply(req, '200 OK', 'b4', ['Contact: <sip:127.0.0.1;transport=tcp>'], SDP);
      return undefined;
    });
    try {
      const to = `sip:+911234567890@127.0.0.1:${bridge.port}`;
      const call = placeTestCall(callOptions(to, { audio: new Int16Array(8000 * 10) }));
      // Once the ACK is in, the bridge goes away.
      for (let i = 0; i < 100 && !bridge.requests.some((r) => r.method === 'ACK'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      bridge.sockets.forEach((socket) => socket.destroy());
      const result = await call;
      expect(result).toMatchObject({ outcome: 'failed', problem: 'connection closed by the bridge' });
      expect(result.media).toBeDefined();
    } finally {
      bridge.close();
    }
  });

  it('over UDP: marks retransmissions, answers INFO, re-INVITE and BYE in the dialog, refuses a new INVITE', async () => {
    const bridge = createSocket('udp4');
    await new Promise<void>((resolve) => bridge.bind(0, '127.0.0.1', resolve));
    const port = bridge.address().port;
    const to = `sip:+911234567890@127.0.0.1:${port};transport=udp`;
    const responses: string[] = [];
    let invites = 0;
    let peer = { port: 0, address: '' };
    const send = (text: string) => bridge.send(text, peer.port, peer.address);
    /** A request from the bridge inside the dialog the 200 made. */
    let inDialog: (method: string, seq: number, extra?: string[], body?: string) => string = () => '';
    bridge.on('message', (data, rinfo) => {
      peer = rinfo;
      const parsed = parseMessage(data);
      if (!parsed.ok) return;
      const msg = parsed.message;
      if (msg.kind === 'response') {
        if (msg.status >= 200) responses.push(`${msg.status} ${msg.cseq.method}`);
        if (msg.cseq.method === 'INFO') send(inDialog('INVITE', 3, ['Content-Type: application/sdp'], SDP));
        if (msg.cseq.method === 'INVITE' && msg.status === 200) {
          send(inDialog('ACK', 3));
          // Nobody calls the caller: a new call is refused.
          send(['INVITE sip:+918888888888@127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKnew`, 'From: <sip:x@h>;tag=n', 'To: <sip:y@h>', 'Call-ID: new', 'CSeq: 1 INVITE', 'Contact: <sip:x@127.0.0.1>', 'Content-Length: 0', '', ''].join('\r\n'));
        }
        if (msg.cseq.method === 'INVITE' && msg.status === 403) send(inDialog('BYE', 4));
        return;
      }
      if (msg.method !== 'INVITE') return;
      // The first INVITE goes unanswered: the stack sends it again after T1.
      if (++invites === 1) return;
      const contact = `Contact: <sip:127.0.0.1:${port}>`;
      send(reply(msg, '100 Trying', undefined));
      send(reply(msg, '200 OK', 'b2', [contact], SDP.replace('41000', String(port + 1))));
      const from = msg.headers.get('from')!;
      const target = /<([^>]*)>/.exec(msg.headers.get('contact')!)![1];
      inDialog = (method, seq, extra = [], body = '') =>
        [
          `${method} ${target} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKb${seq}${method}`,
          `From: <sip:+911234567890@127.0.0.1>;tag=b2`,
          `To: ${from}`,
          `Call-ID: ${msg.callId}`,
          `CSeq: ${seq} ${method}`,
          ...extra,
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body,
        ].join('\r\n');
      setTimeout(() => send(inDialog('INFO', 2, ['Content-Type: application/dtmf-relay'], 'Signal=5\r\nDuration=100\r\n')), 20);
    });
    try {
      const result = await placeTestCall(callOptions(to, { audio: new Int16Array(8000 * 5) }));
      expect(result).toMatchObject({ outcome: 'completed', endedBy: 'bridge' });
      const ladder = result.ladder.map((e) => `${e.direction} ${e.summary}`);
      expect(ladder.slice(0, 5)).toEqual([
        `sent INVITE ${to}`,
        `sent INVITE ${to} (retransmission)`,
        'received 100 Trying',
        'received 200 OK (PCMA)',
        `sent ACK sip:127.0.0.1:${port}`,
      ]);
      expect(ladder).toContainEqual(expect.stringMatching(/^received INFO sip:\S+ \(key 5\)$/));
      expect(ladder).toContain('sent 200 OK (INFO)');
      expect(ladder).toContain('sent 200 OK (INVITE)');
      expect(ladder).toContain('sent 403 Forbidden (INVITE)');
      expect(ladder.slice(-2)).toEqual([expect.stringMatching(/^received BYE /), 'sent 200 OK (BYE)']);
      expect(responses).toEqual(['200 INFO', '200 INVITE', '403 INVITE', '200 BYE']);
    } finally {
      bridge.close();
    }
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
