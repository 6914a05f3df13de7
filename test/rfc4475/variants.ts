// Cases beyond RFC 4475's own messages, where the issue decided an outcome the RFC's message does not reach.
import { call, message, rfcSdp, type TortureMessage } from './common.js';

export const VARIANTS: readonly TortureMessage[] = [
  {
    section: '3.3.11',
    // RFC 4475's zeromf is an OPTIONS; the issue's decision is about calls: the bridge is the last hop, so an INVITE
    // with Max-Forwards: 0 is processed normally (RFC 3261 16.3 step 2 binds proxies, not a UAS).
    tag: 'zeromf-invite',
    build: (p) =>
      message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          'To: sip:user@example.com',
          'From: sip:caller@example.net;tag=3ghsd41',
          `Call-ID: zeromf-invite.jfasdlfnm2o2l43r5u0asdfas${p.u}`,
          'CSeq: 39234321 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw2349i-inv`,
          'Max-Forwards: 0',
          'Contact: <sip:caller@host1.example.com>',
          'Content-Type: application/sdp',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.1'),
      ),
    expect: call,
  },
];
