// RFC 3261 / RFC 4475 conformance of the pure pieces: stateless To tags, duplicated headers, request lines, URI
// schemes, body types and in-dialog routing.
import { describe, expect, it } from 'vitest';
import { inviteContentRefusal } from '../../src/signaling/content.js';
import { SipHeaders } from '../../src/signaling/message.js';
import { parseMessage, parseNameAddr } from '../../src/signaling/parser.js';
import { buildStatelessResponse } from '../../src/signaling/responses.js';
import { inDialogTarget } from '../../src/signaling/route-set.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));
const VIA = 'Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw';

/** RFC 4475 3.3.8 (multi01), with a body of the length it declares. */
const MULTI01 = crlf([
  'INVITE sip:user@company.com SIP/2.0',
  'Contact: <sip:caller@host25.example.net>',
  VIA,
  'Max-Forwards: 70',
  'CSeq: 5 INVITE',
  'Call-ID: multi01.98asdh@192.0.2.1',
  'CSeq: 59 INVITE',
  'Call-ID: multi01.98asdh@192.0.2.2',
  'From: sip:caller@example.com;tag=3413415',
  'To: sip:user@example.com',
  'To: sip:other@example.net',
  'From: sip:caller@example.net;tag=2923420123',
  'Content-Type: application/sdp',
  'l: 3',
  'Contact: <sip:caller@host36.example.net>',
  'Max-Forwards: 5',
  '',
  'v=0',
]);

function request(startLine: string, extra: string[] = []): Buffer {
  return crlf([startLine, VIA, 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'Call-ID: x', `CSeq: 1 ${startLine.split(' ')[0]}`, ...extra, 'Content-Length: 0', '', '']);
}

describe('stateless responses', () => {
  const headers = (to: string) => new SipHeaders([['Via', 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1'], ['From', '<sip:a@b>;tag=1'], ['To', to], ['Call-ID', 'x'], ['CSeq', '1 INVITE']]);
  const toOf = (to: string) => buildStatelessResponse(headers(to), 400, 'Bad Request', 'why').headers.find(([n]) => n === 'To')?.[1] ?? '';

  it('add a To tag made from the request, the same for a retransmission, and keep one that is there', () => {
    const to = toOf('<sip:c@d>');
    const parsed = parseNameAddr(to);
    expect(parsed.ok && parsed.value.params.get('tag')).toMatch(/^[0-9a-f]{12}$/);
    expect(toOf('<sip:c@d>')).toBe(to);
    expect(toOf('<sip:e@f>')).not.toBe(to);
    expect(toOf('<sip:c@d>;tag=theirs')).toBe('<sip:c@d>;tag=theirs');
  });
});

describe('headers a message may carry once', () => {
  it('refuses multi01 with 400 naming the duplicated header, and keeps the request to answer it', () => {
    const result = parseMessage(MULTI01);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result).toMatchObject({ status: 400, reason: 'duplicate Call-ID header' });
    expect(result.request?.method).toBe('INVITE');
  });

  it('names each single-valued header, compact forms included, and Contact only in an INVITE', () => {
    const cases: Array<[string, string[]]> = [
      ['CSeq', ['CSeq: 1 OPTIONS']],
      ['From', ['f: <sip:e@f>;tag=2']],
      ['To', ['t: <sip:c@d>']],
      ['Max-Forwards', ['Max-Forwards: 70', 'Max-Forwards: 69']],
      ['Content-Type', ['Content-Type: application/sdp', 'c: application/sdp']],
      ['Content-Length', ['l: 0']],
    ];
    for (const [name, extra] of cases) {
      const result = parseMessage(request('OPTIONS sip:a@b SIP/2.0', extra));
      expect(!result.ok && result.reason, name).toBe(`duplicate ${name} header`);
    }
    const contacts = ['Contact: <sip:a@192.0.2.1>, <sip:a@192.0.2.2>'];
    expect(parseMessage(request('REGISTER sip:b SIP/2.0', contacts)).ok).toBe(true);
    const invite = parseMessage(request('INVITE sip:a@b SIP/2.0', contacts));
    expect(!invite.ok && invite.reason).toBe('duplicate Contact header');
    const twoLines = parseMessage(request('INVITE sip:a@b SIP/2.0', ['Contact: <sip:a@192.0.2.1>', 'm: <sip:a@192.0.2.2>']));
    expect(!twoLines.ok && twoLines.reason).toBe('duplicate Contact header');
  });
});

describe('request lines', () => {
  it('answers whitespace inside the Request-URI (RFC 4475 lwsruri) with 400 and the reason', () => {
    const result = parseMessage(request('INVITE sip:user@example.com; lr SIP/2.0'));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(400);
    expect(result.reason).toBe('whitespace in the Request-URI "sip:user@example.com; lr"');
    expect(result.request?.method).toBe('INVITE');
  });

  it('takes a request line with spaces after SIP/2.0 (RFC 4475 trws)', () => {
    const result = parseMessage(request('OPTIONS sip:remote-target@example.com SIP/2.0  '));
    expect(result.ok && result.message.kind === 'request' && result.message.uri).toBe('sip:remote-target@example.com');
  });

  it('answers a Request-URI of an unknown scheme (RFC 4475 unkscm) with 416, a URI that is not one with 400', () => {
    const unknown = parseMessage(request('OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0'));
    expect(!unknown.ok && unknown.status).toBe(416);
    expect(!unknown.ok && unknown.reason).toBe('unsupported URI scheme "nobodyKnowsThisScheme"');
    expect(!unknown.ok && unknown.request?.method).toBe('OPTIONS');
    const notUri = parseMessage(request('OPTIONS <sip:a@b> SIP/2.0'));
    expect(!notUri.ok && notUri.status).toBe(400);
  });
});

describe('INVITE content (RFC 3261 8.2.3)', () => {
  const headers = (...lines: Array<[string, string]>) => new SipHeaders(lines);
  const sdp = Buffer.from('v=0\r\n');

  it('takes SDP, with or without Accept allowing it', () => {
    expect(inviteContentRefusal(headers(['Content-Type', 'application/sdp']), sdp)).toBeUndefined();
    expect(inviteContentRefusal(headers(['Content-Type', 'Application/SDP; charset=utf-8'], ['Accept', 'text/plain, application/*']), sdp)).toBeUndefined();
    expect(inviteContentRefusal(headers(['Accept', '*/*;q=0.1']), Buffer.alloc(0))).toBeUndefined();
  });

  it('refuses another body type with 415 and Accept: application/sdp', () => {
    for (const type of ['text/plain', 'multipart/mixed;boundary=unique-boundary-1', undefined]) {
      const refusal = inviteContentRefusal(headers(...(type ? [['Content-Type', type] as [string, string]] : [])), sdp);
      expect(refusal?.status, type).toBe(415);
      expect(refusal?.phrase).toBe('Unsupported Media Type');
      expect(refusal?.headers).toEqual([['Accept', 'application/sdp']]);
    }
    expect(inviteContentRefusal(headers(['Content-Type', 'text/plain']), sdp)?.reason).toBe('unsupported body type text/plain; only application/sdp is understood');
  });

  it('refuses with 406 when Accept excludes application/sdp, or is empty', () => {
    for (const accept of ['text/plain', 'application/sdp;q=0', 'application/isup, text/*', '']) {
      const refusal = inviteContentRefusal(headers(['Content-Type', 'application/sdp'], ['Accept', accept]), sdp);
      expect(refusal?.status, accept).toBe(406);
      expect(refusal?.phrase).toBe('Not Acceptable');
    }
  });
});

describe('in-dialog routing (RFC 3261 12.2.1.1)', () => {
  const target = 'sip:caller@192.0.2.9:5070;transport=tcp';

  it('loose: Request-URI is the remote target, Route the whole route set, sent to the first route', () => {
    const routes = ['<sip:edge2.example.com;lr>', '<sip:edge1.example.com;lr>'];
    expect(inDialogTarget(routes, target, 'udp')).toEqual({
      uri: target,
      routes,
      hop: { protocol: 'udp', host: 'edge2.example.com', port: 5060 },
    });
    expect(inDialogTarget([], target, 'udp')).toEqual({ uri: target, routes: [], hop: { protocol: 'tcp', host: '192.0.2.9', port: 5070 } });
  });

  it('strict: Request-URI is the first route (without method or headers), the remote target the last Route', () => {
    const routes = ['<sip:proxy.example.com:5080;transport=udp;method=INVITE?x=y>', '<sip:edge1.example.com;lr>'];
    expect(inDialogTarget(routes, target, 'tcp')).toEqual({
      uri: 'sip:proxy.example.com:5080;transport=udp',
      routes: ['<sip:edge1.example.com;lr>', `<${target}>`],
      hop: { protocol: 'udp', host: 'proxy.example.com', port: 5080 },
    });
  });
});
