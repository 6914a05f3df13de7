import { describe, expect, it } from 'vitest';
import { StreamFramer } from '../../src/signaling/framing.js';
import type { SipRequest } from '../../src/signaling/message.js';
import { parseMessage, parseNameAddr, parseUri, parseVia } from '../../src/signaling/parser.js';
import { warningText, warningValue } from '../../src/signaling/responses.js';
import { serializeRequest, serializeResponse } from '../../src/signaling/serializer.js';
import { exotelInvite } from '../helpers/sip-messages.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));

function parseRequest(buf: Buffer): SipRequest {
  const result = parseMessage(buf);
  if (!result.ok) throw new Error(`expected a message, got: ${result.reason}`);
  if (result.message.kind !== 'request') throw new Error('expected a request');
  return result.message;
}

describe('SIP parser', () => {
  it('parses an Exotel-shaped INVITE with its SDP and X- headers', () => {
    const msg = parseRequest(exotelInvite({ callId: 'abc@182.76.143.61', headers: [['X-Customer-Header', 'salesbot']] }));
    expect(msg.method).toBe('INVITE');
    expect(msg.uri).toBe('sip:+911234567890@127.0.0.1:5070;transport=tcp');
    expect(msg.callId).toBe('abc@182.76.143.61');
    expect(msg.cseq).toEqual({ seq: 1, method: 'INVITE' });
    expect(msg.from.displayName).toBe('+918888888888');
    expect(msg.from.uri).toBe('sip:+918888888888@exotelt.pstn.exotel.com');
    expect(msg.from.params.get('tag')).toBe('exo-1');
    expect(msg.headers.get('x-customer-header')).toBe('salesbot');
    expect(msg.headers.get('X-Exotel-CallSid')).toBe('call-sid-1');
    expect(msg.body.toString()).toContain('m=audio 37456 RTP/AVP 8 0 96');
    expect(msg.body.length).toBe(Number(msg.headers.get('content-length')));
  });

  it('expands compact header names and keeps multiple Via values in order', () => {
    const msg = parseRequest(
      crlf([
        'OPTIONS sip:bridge@127.0.0.1 SIP/2.0',
        'v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK-b',
        'Via: SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK-c;received=192.0.2.9',
        'f: <sip:a@example.com>;tag=1',
        't: sip:b@example.com',
        'i: compact-1',
        'CSeq: 7 OPTIONS',
        'm: <sip:a@10.0.0.1>',
        'l: 0',
        '',
        '',
      ]),
    );
    expect(msg.via.map((v) => `${v.transport} ${v.host}:${v.port ?? '-'} ${v.params.get('branch')}`)).toEqual([
      'UDP 10.0.0.1:5060 z9hG4bK-a',
      'TCP 10.0.0.2:- z9hG4bK-b',
      'TLS [2001:db8::1]:5061 z9hG4bK-c',
    ]);
    expect(msg.callId).toBe('compact-1');
    expect(msg.headers.get('Contact')).toBe('<sip:a@10.0.0.1>');
    expect(msg.to.uri).toBe('sip:b@example.com');
  });

  it('unfolds continuation lines and tolerates whitespace around colons, slashes and equals signs', () => {
    const msg = parseRequest(
      crlf([
        'INVITE sip:bot@bridge.example.com;unknownparam SIP/2.0',
        'TO :',
        ' sip:bot@bridge.example.com ;   tag    = 42x',
        'from   : "A \\"quoted\\" name"   <sip:caller@example.com>',
        '  ;',
        '  tag = 98asjd8',
        'MaX-fOrWaRdS: 0068',
        'Call-ID: folded.1@192.0.2.1',
        'cseq: 0009',
        '  INVITE',
        'Via  : SIP  /   2.0',
        ' /UDP',
        '    192.0.2.2;rport;branch=z9hG4bKfold',
        'Subject: first part',
        '\tsecond part',
        'Contact: <sip:caller@192.0.2.2>',
        'Content-Length: 0',
        '',
        '',
      ]),
    );
    expect(msg.to.params.get('tag')).toBe('42x');
    expect(msg.to.uri).toBe('sip:bot@bridge.example.com');
    expect(msg.from.displayName).toBe('A "quoted" name');
    expect(msg.from.params.get('tag')).toBe('98asjd8');
    expect(msg.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(msg.via[0].host).toBe('192.0.2.2');
    expect(msg.via[0].params.has('rport')).toBe(true);
    expect(msg.headers.get('subject')).toBe('first part second part');
    expect(msg.headers.get('max-forwards')).toBe('0068');
  });

  it('accepts unusual but legal characters in methods and URIs', () => {
    const uri = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:pass$wo~d@example.com";
    const parsed = parseUri(uri);
    expect(parsed.ok && parsed.value.host).toBe('example.com');
    expect(parsed.ok && parsed.value.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    const msg = parseRequest(
      crlf([
        `!interesting-Method0123456789_*+\`.%indeed'~ ${uri} SIP/2.0`,
        'Via: SIP/2.0/UDP host1.example.com;rport;branch=z9hG4bK-.!%66*_+`\'~',
        'To: <sip:a@example.com>',
        'From: token1~` token2\'+_ <sip:mundane@example.com>;tag=_token~1\'+`*%!-.',
        'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{',
        "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~",
        'Content-Length: 0',
        '',
        '',
      ]),
    );
    expect(msg.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(msg.from.displayName).toBe("token1~` token2'+_");
  });

  it('returns an error, never throws, for malformed messages', () => {
    const cases: Array<[string, Buffer]> = [
      ['garbage', Buffer.from('garbage\r\n\r\n')],
      ['empty', Buffer.alloc(0)],
      ['binary', Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a, 0x80])],
      ['header without colon', crlf(['INVITE sip:a@b SIP/2.0', 'Via SIP/2.0/UDP x', '', ''])],
      ['bad Via', crlf(['INVITE sip:a@b SIP/2.0', 'Via: junk', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>', 'Call-ID: x', 'CSeq: 1 INVITE', '', ''])],
      ['bad CSeq', crlf(['BYE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>', 'Call-ID: x', 'CSeq: x', '', ''])],
      ['unterminated name-addr', crlf(['BYE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b;tag=1', 'To: <sip:a@b>', 'Call-ID: x', 'CSeq: 1 BYE', '', ''])],
      ['huge Content-Length', crlf(['BYE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>', 'Call-ID: x', 'CSeq: 1 BYE', 'Content-Length: 9999', '', 'short'])],
      ['non-numeric Content-Length', crlf(['BYE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'Content-Length: abc', '', ''])],
      ['request URI in brackets', crlf(['INVITE <sip:user@company.com> SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', '', ''])],
      ['status out of range', Buffer.from('SIP/2.0 999 Nope\r\n\r\n')],
    ];
    for (const [name, buf] of cases) {
      const result = parseMessage(buf);
      expect(result.ok, name).toBe(false);
      expect(!result.ok && result.reason.length, name).toBeGreaterThan(0);
    }
  });

  it('keeps enough of a malformed request to answer it, and tells the reason', () => {
    const result = parseMessage(crlf(['INVITE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '']));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe('missing Call-ID header');
    expect(result.status).toBe(400);
    expect(result.request?.method).toBe('INVITE');
    expect(result.request?.headers.get('via')).toContain('z9hG4bK77');
  });

  it('answers an unsupported SIP version with 505', () => {
    const result = parseMessage(crlf(['INVITE sip:a@b SIP/7.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', '', '']));
    expect(!result.ok && result.status).toBe(505);
  });

  it('rejects a CSeq whose method differs from the request', () => {
    const result = parseMessage(crlf(['BYE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>', 'Call-ID: x', 'CSeq: 1 INVITE', '', '']));
    expect(!result.ok && result.reason).toMatch(/does not match/);
  });

  it('parses URIs, Via and name-addr values on their own', () => {
    const uri = parseUri('sips:+911234567890@[2001:db8::2]:443;transport=tls;lr');
    expect(uri.ok && uri.value).toMatchObject({ scheme: 'sips', user: '+911234567890', host: '[2001:db8::2]', port: 443 });
    expect(uri.ok && [...uri.value.params.entries()]).toEqual([
      ['transport', 'tls'],
      ['lr', null],
    ]);
    expect(parseUri('http://example.com').ok).toBe(false);
    expect(parseUri('sip:a@host:99999').ok).toBe(false);
    const via = parseVia('SIP/2.0/TCP 182.76.143.61:5060;branch=z9hG4bKx;rport');
    expect(via.ok && via.value).toMatchObject({ transport: 'TCP', host: '182.76.143.61', port: 5060 });
    const addr = parseNameAddr('"+918888888888" <sip:+918888888888@exotelt.pstn.exotel.com>;tag=abc');
    expect(addr.ok && addr.value.displayName).toBe('+918888888888');
    expect(addr.ok && addr.value.params.get('tag')).toBe('abc');
  });

  it('serializes with a computed Content-Length that the parser reads back', () => {
    const req = serializeRequest({
      method: 'BYE',
      uri: 'sip:a@127.0.0.1:5060',
      headers: [
        ['Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc'],
        ['From', '<sip:b@127.0.0.1>;tag=1'],
        ['To', '<sip:a@127.0.0.1>;tag=2'],
        ['Call-ID', 'ser-1'],
        ['CSeq', '1 BYE'],
        ['Content-Length', '999'],
      ],
    });
    expect(req.toString()).toContain('Content-Length: 0\r\n\r\n');
    expect(req.toString()).not.toContain('999');
    expect(parseMessage(req).ok).toBe(true);
    const res = serializeResponse({ status: 200, reason: 'OK', headers: [['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'], ['From', '<sip:a@b>;tag=1'], ['To', '<sip:a@b>;tag=2'], ['Call-ID', 'c'], ['CSeq', '1 INVITE']], body: 'v=0\r\n' });
    const parsed = parseMessage(res);
    expect(parsed.ok && parsed.message.kind === 'response' && parsed.message.body.toString()).toBe('v=0\r\n');
  });
});

describe('stream framing', () => {
  const invite = exotelInvite({ callId: 'frame-1' });

  it('splits back-to-back messages and reassembles byte-by-byte input', () => {
    const framer = new StreamFramer(65535);
    const both = Buffer.concat([invite, invite]);
    const messages: Buffer[] = [];
    for (const byte of both) {
      for (const event of framer.push(Buffer.of(byte))) {
        expect(event.type).toBe('message');
        if (event.type === 'message') messages.push(event.data);
      }
    }
    expect(messages).toHaveLength(2);
    expect(messages[0]!.equals(invite)).toBe(true);
    expect(parseMessage(messages[1]!).ok).toBe(true);
  });

  it('reports CRLFCRLF keep-alives as pings and ignores lone CRLF pongs', () => {
    const framer = new StreamFramer(65535);
    const events = framer.push(Buffer.concat([Buffer.from('\r\n\r\n'), invite, Buffer.from('\r\n')]));
    expect(events.map((e) => e.type)).toEqual(['ping', 'message']);
  });

  it('fails the stream on a missing or bad Content-Length, or an oversize message', () => {
    expect(new StreamFramer(65535).push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n'))[0]).toMatchObject({ type: 'error', reason: 'missing Content-Length on a stream transport' });
    expect(new StreamFramer(65535).push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n'))[0]?.type).toBe('error');
    expect(new StreamFramer(1000).push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nContent-Length: 5000\r\n\r\n'))[0]?.type).toBe('error');
    expect(new StreamFramer(1000).push(Buffer.alloc(2000, 'a'))[0]?.type).toBe('error');
  });
});

describe('Warning header', () => {
  it('carries any text there and back: quotes and backslashes escaped, then unescaped', () => {
    const text = 'bot said "no" \\ twice';
    const value = warningValue(399, text);
    expect(value).toBe('399 sip-ws-bridge "bot said \\"no\\" \\\\ twice"');
    expect(warningText(value)).toBe(text);
    expect(warningText('399 carrier.example unquoted')).toBe('399 carrier.example unquoted');
  });
});
