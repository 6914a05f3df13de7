// RFC 4475 section 3.1.2 messages whose start line is the problem (Request-URI, spacing, version, method),
// written from the RFC, with the top Via naming the test's socket and c= lines on loopback.
import { message, rejectOrCall, rfcSdp, status, type TortureMessage } from './common.js';

export const START_LINE: readonly TortureMessage[] = [
  {
    section: '3.1.2.7',
    tag: 'ltgtruri',
    build: (p) =>
      message(
        [
          'INVITE <sip:user@example.com> SIP/2.0',
          'To: sip:user@example.com',
          'From: sip:caller@example.net;tag=39291',
          'Max-Forwards: 23',
          `Call-ID: ltgtruri.1@192.0.2.5${p.u}`,
          'CSeq: 1 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy}`,
          'Contact: <sip:caller@host5.example.net>',
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.5', { t: '3149328700 0' }),
      ),
    // Reasonable to reject with 400; a liberal element may ignore the brackets.
    expect: rejectOrCall,
  },
  {
    section: '3.1.2.8',
    tag: 'lwsruri',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com; lr SIP/2.0',
          'To: sip:user@example.com;tag=3xfe-9921883-z9f',
          'From: sip:caller@example.net;tag=231413434',
          'Max-Forwards: 5',
          `Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423${p.u}`,
          'CSeq: 2130706432 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw2395`,
          'Contact: <sip:caller@host1.example.net>',
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.1', { t: '3149328700 0' }),
      ),
    expect: status(400),
  },
  {
    section: '3.1.2.9',
    tag: 'lwsstart',
    build: (p) =>
      message(
        [
          'INVITE  sip:user@example.com  SIP/2.0',
          'Max-Forwards: 8',
          'To: sip:user@example.com',
          'From: sip:caller@example.net;tag=8814',
          `Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com${p.u}`,
          'CSeq: 1893884 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw3923`,
          'Contact: <sip:caller@host1.example.net>',
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.1'),
      ),
    // Reasonable to reject with 400; a liberal element may ignore the extra SP characters.
    expect: rejectOrCall,
  },
  {
    section: '3.1.2.10',
    tag: 'trws',
    build: (p) =>
      message([
        'OPTIONS sip:remote-target@example.com SIP/2.0  ',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK299342093`,
        'To: <sip:remote-target@example.com>',
        'From: <sip:local-resource@example.com>;tag=329429089',
        `Call-ID: trws.oicu34958239neffasdhr2345r${p.u}`,
        'Accept: application/sdp',
        'CSeq: 238923 OPTIONS',
        'Max-Forwards: 70',
        'Content-Length: {CL}',
      ]),
    // 400, or tolerate the trailing SP and answer the OPTIONS.
    expect: status(400, 200),
  },
  {
    section: '3.1.2.11',
    tag: 'escruri',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0',
          'To: sip:user@example.com',
          'From: sip:caller@example.net;tag=341518',
          'Max-Forwards: 7',
          'Contact: <sip:caller@host39923.example.net>',
          `Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5${p.u}`,
          'CSeq: 149209342 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.1'),
      ),
    // Reasonable to reject with 400; a liberal element may ignore the escaped headers.
    expect: rejectOrCall,
  },
  {
    section: '3.1.2.16',
    tag: 'badvers',
    build: (p) =>
      message([
        'OPTIONS sip:t.watson@example.org SIP/7.0',
        `Via:     SIP/7.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Max-Forwards:     70',
        'From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe',
        'To:      T. Watson <sip:t.watson@example.org>',
        `Call-ID: badvers.31417@c.example.com${p.u}`,
        'CSeq:    1 OPTIONS',
        'l: {CL}',
      ]),
    expect: status(505),
  },
  {
    section: '3.1.2.17',
    tag: 'mismatch01',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.com SIP/2.0',
        'To: sip:j.user@example.com',
        'From: sip:caller@example.net;tag=34525',
        'Max-Forwards: 6',
        `Call-ID: mismatch01.dj0234sxdfl3${p.u}`,
        'CSeq: 8 INVITE',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'l: {CL}',
      ]),
    expect: status(400),
  },
  {
    section: '3.1.2.18',
    tag: 'mismatch02',
    build: (p) =>
      message(
        [
          'NEWMETHOD sip:user@example.com SIP/2.0',
          'To: sip:j.user@example.com',
          'From: sip:caller@example.net;tag=34525',
          'Max-Forwards: 6',
          `Call-ID: mismatch02.dj0234sxdfl3${p.u}`,
          'CSeq: 8 INVITE',
          'Contact: <sip:caller@host.example.net>',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Content-Type: application/sdp',
          'l: {CL}',
        ],
        rfcSdp('192.0.2.1', { session: false }),
      ),
    // 501 preferred, 400 acceptable.
    expect: status(501, 400),
  },
];
