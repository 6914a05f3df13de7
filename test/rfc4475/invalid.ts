// RFC 4475 section 3.1.2: invalid messages, written from the RFC. Where a response must come back, the top Via
// names the test's socket; where the Via's own shape is the test, that shape is kept around the test's address.
import { ignored, message, rejectOrCall, rfcSdp, status, type TortureMessage } from './common.js';

export const INVALID: readonly TortureMessage[] = [
  {
    section: '3.1.2.1',
    tag: 'badinv01',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'To: sip:j.user@example.com',
          'From: sip:caller@example.net;tag=134161461246',
          'Max-Forwards: 7',
          `Call-ID: badinv01.0ha0isndaksdjasdf3234nas${p.u}`,
          'CSeq: 8 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};;,;,,`,
          'Contact: "Joe" <sip:joe@example.org>;;;;',
          'Content-Length: {CL}',
          'Content-Type: application/sdp',
        ],
        rfcSdp('192.0.2.15'),
      ),
    expect: status(400),
  },
  {
    section: '3.1.2.2',
    tag: 'clerr',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'Max-Forwards: 80',
          'To: sip:j.user@example.com',
          'From: sip:caller@example.net;tag=93942939o2',
          'Contact: <sip:caller@hungry.example.net>',
          `Call-ID: clerr.0ha0isndaksdjweiafasdk3${p.u}`,
          'CSeq: 8 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK-39234-23523`,
          'Content-Type: application/sdp',
          'Content-Length: 9999',
        ],
        rfcSdp('192.0.2.155'),
      ),
    // Over UDP the datagram is all there is: 400. On a stream the receiver waits for the rest of the 9999 octets.
    expect: status(400),
    overTcp: ignored,
  },
  {
    section: '3.1.2.3',
    tag: 'ncl',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'Max-Forwards: 254',
          'To: sip:j.user@example.com',
          'From: sip:caller@example.net;tag=32394234',
          `Call-ID: ncl.0ha0isndaksdj2193423r542w35${p.u}`,
          'CSeq: 0 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Contact: <sip:caller@example53.example.net>',
          'Content-Type: application/sdp',
          'Content-Length: -999',
        ],
        rfcSdp('192.0.2.53'),
      ),
    expect: status(400),
  },
  {
    section: '3.1.2.4',
    tag: 'scalar02',
    build: (p) =>
      message([
        'REGISTER sip:example.com SIP/2.0',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK342sdfoi3`,
        'To: <sip:user@example.com>',
        'From: <sip:user@example.com>;tag=239232jh3',
        'CSeq: 36893488147419103232 REGISTER',
        `Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32${p.u}`,
        'Max-Forwards: 300',
        `Expires: 1${'0'.repeat(100)}`,
        'Contact: <sip:user@host129.example.com>',
        '  ;expires=280297596632815',
        'Content-Length: 0',
      ]),
    // 400 for the CSeq; Max-Forwards and expiry values alone could have been tolerated.
    expect: status(400),
  },
  {
    section: '3.1.2.6',
    tag: 'quotbal',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'To: "Mr. J. User <sip:j.user@example.com>',
          'From: sip:caller@example.net;tag=93334',
          'Max-Forwards: 10',
          `Call-ID: quotbal.aksdj${p.u}`,
          'Contact: <sip:caller@host59.example.net>',
          'CSeq: 8 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw39234`,
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.15'),
      ),
    // "should return 400"; an element may infer the closing quote.
    expect: rejectOrCall,
  },
  {
    section: '3.1.2.12',
    tag: 'baddate',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'To: sip:user@example.com',
          'From: sip:caller@example.net;tag=2234923',
          'Max-Forwards: 70',
          `Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234${p.u}`,
          'CSeq: 1392934 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Date: Fri, 01 Jan 2010 16:00:00 EST',
          'Contact: <sip:caller@host5.example.net>',
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.5'),
      ),
    // Acceptable to reject as malformed; a liberal element ignores the Date, which SIP processing does not use.
    expect: rejectOrCall,
  },
  {
    section: '3.1.2.13',
    tag: 'regbadct',
    build: (p) =>
      message([
        'REGISTER sip:example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:user@example.com;tag=998332',
        'Max-Forwards: 70',
        `Call-ID: regbadct.k345asrl3fdbv@10.0.0.1${p.u}`,
        'CSeq: 1 REGISTER',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E',
        'l: {CL}',
      ]),
    // 400 for the Contact; a liberal element infers the brackets, and then the bridge (no registrar) says 405.
    expect: status(400, 405),
  },
  {
    section: '3.1.2.14',
    tag: 'badaspec',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.org SIP/2.0',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdju43234`,
        'Max-Forwards: 70',
        'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423',
        'To: "Watson, Thomas" < sip:t.watson@example.org >',
        `Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3${p.u}`,
        'Accept: application/sdp',
        'CSeq: 3923239 OPTIONS',
        'l: {CL}',
      ]),
    // Reasonable to reject with 400; a liberal element may ignore the spaces.
    expect: status(400, 200),
  },
  {
    section: '3.1.2.15',
    tag: 'baddn',
    build: (p) =>
      message([
        'OPTIONS sip:t.watson@example.org SIP/2.0',
        `Via:     SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Max-Forwards:      70',
        'From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
        'To:      Watson, Thomas <sip:t.watson@example.org>',
        `Call-ID: baddn.31415@c.example.com${p.u}`,
        'Accept: application/sdp',
        'CSeq:    3923239 OPTIONS',
        'l: {CL}',
      ]),
    expect: status(400),
  },
];
