// RFC 4475 sections 3.2 (transaction layer), 3.3 (application layer) and 3.4 (backward compatibility), written
// from the RFC, with the top Via naming the test's socket and c= lines on loopback.
import { expectHeader, message, rfcSdp, status, type TortureMessage } from './common.js';

export const SEMANTICS: readonly TortureMessage[] = [
  {
    section: '3.2.1',
    tag: 'badbranch',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.org;tag=33242',
        'Max-Forwards: 3',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK`,
        'Accept: application/sdp',
        `Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n${p.u}`,
        'CSeq: 8 OPTIONS',
        'l: {CL}',
      ]),
    // Reject with 400, or fall back to RFC 2543 transaction matching and answer.
    expect: status(400, 200),
  },
  {
    section: '3.3.1',
    tag: 'insuf',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'CSeq: 193942 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdj.insuf`,
          'Content-Type: application/sdp',
          'l: {CL}',
        ],
        rfcSdp('192.0.2.95'),
      ),
    expect: status(400),
    noTo: true,
  },
  {
    section: '3.3.2',
    tag: 'unkscm',
    build: (p) =>
      message([
        'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=384',
        'Max-Forwards: 3',
        `Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34${p.u}`,
        'CSeq: 3923423 OPTIONS',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw39234`,
        'Content-Length: {CL}',
      ]),
    expect: status(416),
  },
  {
    section: '3.3.3',
    tag: 'novelsc',
    build: (p) =>
      message([
        'OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=384',
        'Max-Forwards: 3',
        `Call-ID: novelsc.asdfasser0q239nwsdfasdkl34${p.u}`,
        'CSeq: 3923423 OPTIONS',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw39234`,
        'Content-Length: {CL}',
      ]),
    // The bridge never accepts soap.beep Request-URIs, so it is an unknown scheme to it.
    expect: status(416),
  },
  {
    section: '3.3.4',
    tag: 'unksm2',
    build: (p) =>
      message([
        'REGISTER sip:example.com SIP/2.0',
        'To: isbn:2983792873',
        'From: <http://www.example.com>;tag=3234233',
        `Call-ID: unksm2.daksdj@hyphenated-host.example.com${p.u}`,
        'CSeq: 234902 REGISTER',
        'Max-Forwards: 70',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Contact: <name:John_Smith>',
        'l: {CL}',
      ]),
    // Syntactically valid; a registrar would say 400 (the To is no SIP AOR); the bridge, no registrar, may say 405.
    expect: status(405, 400),
  },
  {
    section: '3.3.5',
    tag: 'bext01',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.com SIP/2.0',
        'To: sip:j_user@example.com',
        'From: sip:caller@example.net;tag=242etr',
        'Max-Forwards: 6',
        `Call-ID: bext01.0ha0isndaksdj${p.u}`,
        'Require: nothingSupportsThis, nothingSupportsThisEither',
        'Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis',
        'CSeq: 8 OPTIONS',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Content-Length: {CL}',
      ]),
    // A UAS ignores Proxy-Require and names the unsupported Require values.
    expect: {
      kind: 'status',
      status: [420],
      check: (r) => {
        expectHeader(r, 'unsupported', /nothingSupportsThis\b.*nothingSupportsThisEither/);
        if (/noProxiesSupportThis/.test(r.get('unsupported') ?? '')) throw new Error('Unsupported lists the Proxy-Require values');
      },
    },
  },
  {
    section: '3.3.6',
    tag: 'invut',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'Contact: <sip:caller@host5.example.net>',
          'To: sip:j.user@example.com',
          'From: sip:caller@example.net;tag=8392034',
          'Max-Forwards: 70',
          `Call-ID: invut.0ha0isndaksdjadsfij34n23d${p.u}`,
          'CSeq: 235448 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Content-Type: application/unknownformat',
          'Content-Length: {CL}',
        ],
        '<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n',
      ),
    expect: { kind: 'status', status: [415], check: (r) => expectHeader(r, 'accept', /application\/sdp/) },
  },
  {
    section: '3.3.7',
    tag: 'regaut01',
    build: (p) =>
      message([
        'REGISTER sip:example.com SIP/2.0',
        'To: sip:j.user@example.com',
        'From: sip:j.user@example.com;tag=87321hj23128',
        'Max-Forwards: 8',
        `Call-ID: regaut01.0ha0isndaksdj${p.u}`,
        'CSeq: 9338 REGISTER',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Authorization: NoOneKnowsThisScheme opaque-data=here',
        'Content-Length:{CL}',
      ]),
    // Well-formed; the unknown Authorization scheme is ignored and the REGISTER refused as usual by a non-registrar.
    expect: status(405),
  },
  {
    section: '3.3.8',
    tag: 'multi01',
    build: (p) =>
      message(
        [
          'INVITE sip:user@company.com SIP/2.0',
          'Contact: <sip:caller@host25.example.net>',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Max-Forwards: 70',
          'CSeq: 5 INVITE',
          `Call-ID: multi01.98asdh@192.0.2.1${p.u}`,
          'CSeq: 59 INVITE',
          `Call-ID: multi01.98asdh@192.0.2.2${p.u}`,
          'From: sip:caller@example.com;tag=3413415',
          'To: sip:user@example.com',
          'To: sip:other@example.net',
          'From: sip:caller@example.net;tag=2923420123',
          'Content-Type: application/sdp',
          'l: {CL}',
          'Contact: <sip:caller@host36.example.net>',
          'Max-Forwards: 5',
        ],
        `${rfcSdp('192.0.2.25')}\r\n`,
      ),
    // The decision: 400 with a Warning that names a duplicated single-value header.
    expect: { kind: 'status', status: [400], check: (r) => expectHeader(r, 'warning', /CSeq|Call-ID|\bTo\b|\bFrom\b|Max-Forwards/i) },
  },
  {
    section: '3.3.9',
    tag: 'mcl01',
    build: (p) =>
      message(
        [
          'OPTIONS sip:user@example.com SIP/2.0',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK293423`,
          'To: sip:user@example.com',
          'From: sip:other@example.net;tag=3923942',
          `Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf${p.u}`,
          'CSeq: 15932 OPTIONS',
          'Content-Length: 13',
          'Max-Forwards: 60',
          'Content-Length: 5',
          'Content-Type: text/plain',
        ],
        "There's no way to know how many octets are supposed to be here.\r\n\r\n",
      ),
    expect: status(400),
  },
  {
    section: '3.3.11',
    tag: 'zeromf',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=3ghsd41',
        `Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas${p.u}`,
        'CSeq: 39234321 OPTIONS',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw2349i`,
        'Max-Forwards: 0',
        'Content-Length: {CL}',
      ]),
    // An endpoint processes it as if Max-Forwards were still positive.
    expect: status(200),
  },
  ...(['cparam01', 'cparam02'] as const).map(
    (tag, i): TortureMessage => ({
      section: `3.3.${12 + i}`,
      tag,
      build: (p) =>
        message([
          'REGISTER sip:example.com SIP/2.0',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Max-Forwards: 70',
          `From: sip:watson@example.com;tag=${i === 0 ? 'DkfVgjkrtMwaerKKpe' : '838293'}`,
          'To: sip:watson@example.com',
          `Call-ID: ${tag}.70710@saturn.example.com${p.u}`,
          `CSeq: ${2 + i} REGISTER`,
          i === 0 ? 'Contact: sip:+19725552222@gw1.example.net;unknownparam' : 'Contact: <sip:+19725552222@gw1.example.net;unknownparam>',
          'l: {CL}',
        ]),
      expect: status(405),
    }),
  ),
  {
    section: '3.3.14',
    tag: 'regescrt',
    build: (p) =>
      message([
        'REGISTER sip:example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:user@example.com;tag=8',
        'Max-Forwards: 70',
        `Call-ID: regescrt.k345asrl3fdbv@192.0.2.1${p.u}`,
        'CSeq: 14398234 REGISTER',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>',
        'L:{CL}',
      ]),
    expect: status(405),
  },
  {
    section: '3.3.15',
    tag: 'sdp01',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'To: sip:j_user@example.com',
          'Contact: <sip:caller@host15.example.net>',
          'From: sip:caller@example.net;tag=234',
          'Max-Forwards: 5',
          `Call-ID: sdp01.ndaksdj9342dasdd${p.u}`,
          'Accept: text/nobodyKnowsThis',
          'CSeq: 8 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'Content-Length: {CL}',
          'Content-Type: application/sdp',
        ],
        rfcSdp('192.0.2.5'),
      ),
    expect: status(406),
  },
  {
    section: '3.4.1',
    tag: 'inv2543',
    build: (p) =>
      message(
        [
          'INVITE sip:UserB@example.com SIP/2.0',
          `Via: SIP/2.0/${p.transport} ${p.sentBy}`,
          'From: <sip:+13035551111@ift.client.example.net;user=phone>',
          'Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>',
          'To: sip:+16505552222@ss1.example.net;user=phone',
          `Call-ID: inv2543.1717@ift.client.example.com${p.u}`,
          'CSeq: 56 INVITE',
          'Content-Type: application/sdp',
          // No Content-Length over UDP, as in RFC 2543: the body is the rest of the datagram. A stream cannot be
          // framed without one (RFC 3261 18.3), so the TCP run states it.
          ...(p.transport === 'TCP' ? ['Content-Length: {CL}'] : []),
        ],
        'v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0\r\n',
      ),
    // Legal RFC 2543 (no branch, no From tag, no Max-Forwards, no Contact), which RFC 4475 leaves to elements "that want
    // to maintain backwards compatibility". The bridge does not: without a Contact it has no target for its BYE (RFC
    // 3261 8.1.1.8 makes Contact mandatory in an INVITE), so it refuses with 400 and says why.
    expect: status(400),
  },
];
