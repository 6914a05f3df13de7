// RFC 4475 responses (3.1.1.12, 3.1.1.13, 3.1.2.5, 3.1.2.19, 3.3.10), written from the RFC and sent to the bridge, whose
// UAS has no transaction for them: each must be dropped without an answer.
import { ignored, message, rfcSdp, type TortureMessage } from './common.js';

export const RESPONSES: readonly TortureMessage[] = [
  {
    section: '3.1.1.12',
    tag: 'unreason',
    build: (p) =>
      message(
        [
          'SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e ' +
            '\u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435',
          'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923',
          `Call-ID: unreason.1234ksdfak3j2erwedfsASdf${p.u}`,
          'CSeq: 35 INVITE',
          'From: sip:user@example.com;tag=11141343',
          'To: sip:user@example.edu;tag=2229',
          'Content-Length: {CL}',
          'Content-Type: application/sdp',
          'Contact: <sip:user@host198.example.com>',
        ],
        rfcSdp('192.0.2.198'),
      ),
    // A response matching no transaction of the bridge's: dropped.
    expect: ignored,
  },
  {
    section: '3.1.1.13',
    tag: 'noreason',
    build: (p) =>
      message([
        'SIP/2.0 100 ',
        'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe',
        `Call-ID: noreason.asndj203insdf99223ndf${p.u}`,
        'CSeq: 35 INVITE',
        'From: <sip:user@example.com>;tag=39ansfi3',
        'To: <sip:user@example.edu>;tag=902jndnke3',
        'Content-Length: {CL}',
        'Contact: <sip:user@host105.example.com>',
      ]),
    expect: ignored,
  },
  {
    section: '3.1.2.5',
    tag: 'scalarlg',
    build: (p) =>
      message([
        'SIP/2.0 503 Service Unavailable',
        'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129',
        'To: <sip:user@example.com>',
        'From: <sip:other@example.net>;tag=2easdjfejw',
        'CSeq: 9292394834772304023312 OPTIONS',
        `Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r${p.u}`,
        'Retry-After: 949302838503028349304023988',
        'Warning: 1812 overture "In Progress"',
        'Content-Length: {CL}',
      ]),
    expect: ignored,
  },
  {
    section: '3.1.2.19',
    tag: 'bigcode',
    build: (p) =>
      message([
        'SIP/2.0 4294967301 better not break the receiver',
        'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe',
        `Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i${p.u}`,
        'CSeq: 353494 INVITE',
        'From: <sip:user@example.com>;tag=39ansfi3',
        'To: <sip:user@example.edu>;tag=902jndnke3',
        'Content-Length: {CL}',
        'Contact: <sip:user@host105.example.com>',
      ]),
    expect: ignored,
  },
  {
    section: '3.3.10',
    tag: 'bcast',
    build: (p) =>
      message(
        [
          'SIP/2.0 200 OK',
          'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923',
          'Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23',
          `Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf${p.u}`,
          'CSeq: 35 INVITE',
          'From: sip:user@example.com;tag=11141343',
          'To: sip:user@example.edu;tag=2229',
          'Content-Length: {CL}',
          'Content-Type: application/sdp',
          'Contact: <sip:user@host28.example.com>',
        ],
        rfcSdp('192.0.2.198'),
      ),
    expect: ignored,
  },
];
