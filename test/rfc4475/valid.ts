// RFC 4475 section 3.1.1: valid messages, written from the RFC. The top Via sends responses to the test's socket;
// c= lines point at loopback; Content-Length is computed ({CL}).
import { call, expectHeader, message, rfcSdp, status, type TortureMessage } from './common.js';

const UNUSUAL_USER = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*";
const INTMETH = "!interesting-Method0123456789_*+`.%indeed'~";
const LONG = 'longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong';
const CALLER = 'amazinglylongcallername'.repeat(5);

export const VALID: readonly TortureMessage[] = [
  {
    section: '3.1.1.1',
    tag: 'wsinv',
    build: (p) =>
      message(
        [
          'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
          'TO :',
          ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
          String.raw`from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>`,
          '  ;',
          '  tag = 98asjd8',
          'MaX-fOrWaRdS: 0068',
          `Call-ID: wsinv.ndaksdj@192.0.2.1${p.u}`,
          'Content-Length   : {CL}',
          'cseq: 0009',
          '  INVITE',
          'Via  : SIP  /   2.0',
          ` /${p.transport}`,
          `    ${p.sentBy};branch=390skdjuw`,
          's :',
          'NewFangledHeader:   newfangled value',
          ' continued newfangled value',
          'UnknownHeaderWithUnusualValue: ;;,,;;,;',
          'Content-Type: application/sdp',
          'Route:',
          ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
          'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
          '  branch  =   z9hG4bK9ikj8  ,',
          ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
          ' z9hG4bK30239',
          String.raw`m:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =`,
          '      newvalue ;',
          '  secondparam ; q = 0.33',
        ],
        rfcSdp('192.0.2.3'),
      ),
    // The To carries a tag, so this is a mid-dialog request for a dialog the bridge never had: 481 (RFC 3261
    // 12.2.2), echoing the tag that the folded, spaced "tag    = 1918181833n" must parse to.
    expect: { kind: 'status', status: [481], check: (r) => expectHeader(r, 'to', /tag\s*=\s*1918181833n/) },
  },
  {
    section: '3.1.1.2',
    tag: 'intmeth',
    build: (p) =>
      message([
        `${INTMETH} sip:${UNUSUAL_USER}:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0`,
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK-.!%66*_+\`'~`,
        `To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:${UNUSUAL_USER}@example.com>`,
        "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=" +
          '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439";tag=_token~1\'+`*%!-.',
        `Call-ID: intmeth.word%ZK-!.*_+'@word\`~)(><:\\/"][?}{${p.u}`,
        `CSeq: 139122385 ${INTMETH}`,
        'Max-Forwards: 255',
        "extensionHeader-!.%*+_`'~:\ufeff\u5927\u505c\u96fb",
        'Content-Length: {CL}',
      ]),
    expect: status(405),
  },
  {
    section: '3.1.1.3',
    tag: 'esc01',
    build: (p) =>
      message(
        [
          'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0',
          'To: sip:%75se%72@example.com',
          'From: <sip:I%20have%20spaces@example.net>;tag=938',
          'Max-Forwards: 87',
          `i: esc01.239409asdfakjkn23onasd0-3234${p.u}`,
          'CSeq: 234234 INVITE',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
          'C: application/sdp',
          'Contact:',
          '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
          'Content-Length: {CL}',
        ],
        rfcSdp('192.0.2.1'),
      ),
    expect: call,
  },
  {
    section: '3.1.1.4',
    tag: 'escnull',
    build: (p) =>
      message([
        'REGISTER sip:example.com SIP/2.0',
        'To: sip:null-%00-null@example.com',
        'From: sip:null-%00-null@example.com;tag=839923423',
        'Max-Forwards: 70',
        `Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd${p.u}`,
        'CSeq: 14398234 REGISTER',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Contact: <sip:%00@host5.example.com>',
        'Contact: <sip:%00%00@host5.example.com>',
        'L:{CL}',
      ]),
    // The bridge is no registrar.
    expect: status(405),
  },
  {
    section: '3.1.1.5',
    tag: 'esc02',
    build: (p) =>
      message([
        'RE%47IST%45R sip:registrar.example.com SIP/2.0',
        'To: "%Z%45" <sip:resource@example.com>',
        'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
        `Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf${p.u}`,
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK209%fzsnel234`,
        'CSeq: 29344 RE%47IST%45R',
        'Max-Forwards: 70',
        'Contact: <sip:alias1@host1.example.com>',
        'C%6Fntact: <sip:alias2@host2.example.com>',
        'Contact: <sip:alias3@host3.example.com>',
        'l: {CL}',
      ]),
    // RE%47IST%45R is an unknown method (escapes mean nothing in a method), not REGISTER.
    expect: status(405),
  },
  {
    section: '3.1.1.6',
    tag: 'lwsdisp',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: caller<sip:caller@example.com>;tag=323',
        'Max-Forwards: 70',
        `Call-ID: lwsdisp.1234abcd@funky.example.com${p.u}`,
        'CSeq: 60 OPTIONS',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'l: {CL}',
      ]),
    expect: status(200),
  },
  {
    section: '3.1.1.7',
    tag: 'longreq',
    build: (p) => {
      const vias: string[] = [];
      const names = ['v', 'V', 'Via', 'ViA', 'VIa', 'VIA', 'via', 'viA', 'vIa', 'vIA'];
      for (let n = 32; n >= 1; n--) {
        const i = 32 - n;
        const name = i < names.length ? `${names[i]}: ` : (['V :  ', 'v :  ', 'V  : ', 'v  : ', 'Via : ', 'Via  : '][i - names.length] ?? 'Via: ');
        vias.push(`${name}SIP/2.0/TCP sip${n}.example.com`);
      }
      return message(
        [
          'INVITE sip:user@example.com SIP/2.0',
          `To: "I have a user name of ${'extreme'.repeat(10)} proportion"<sip:user@example.com:6000;unknownparam1=very${LONG}value;` +
            `longparam${'name'.repeat(25)}=shortvalue;very${LONG}${'long'.repeat(5)}ParameterNameWithNoValue>`,
          `F: sip:${CALLER}@example.net;tag=12${'982'.repeat(50)}424;unknownheaderparam${'name'.repeat(20)}=` +
            `unknowheaderparam${'value'.repeat(15)};unknownValueless${'paramname'.repeat(10)}`,
          `Call-ID: longreq.one${'really'.repeat(20)}longcallid${p.u}`,
          'CSeq: 3882340 INVITE',
          `Unknown-${'LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong'}-Name: unknown-${LONG}-value; ` +
            `unknown-${LONG}-parameter-name = unknown-${LONG}-parameter-value`,
          // The RFC's top Via (sip33) is where the response goes, so it becomes the test's address.
          `Via: SIP/2.0/${p.transport} ${p.sentBy}`,
          ...vias,
          `Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very${'long'.repeat(50)}branchvalue`,
          'Max-Forwards: 70',
          `Contact: <sip:${CALLER}@host5.example.net>`,
          'Content-Type: application/sdp',
          'l: {CL}',
        ],
        rfcSdp('192.0.2.1'),
      );
    },
    expect: call,
  },
  {
    section: '3.1.1.8',
    tag: 'dblreq',
    build: (p) =>
      Buffer.concat([
        message([
          'REGISTER sip:example.com SIP/2.0',
          'To: sip:j.user@example.com',
          'From: sip:j.user@example.com;tag=43251j3j324',
          'Max-Forwards: 8',
          `I: dblreq.0ha0isndaksdj99sdfafnl3lk233412${p.u}`,
          'Contact: sip:j.user@host.example.com',
          'CSeq: 8 REGISTER',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw23492`,
          'Content-Length: 0',
        ]),
        // The extra octets after the REGISTER's (empty) body: an INVITE that a UDP receiver must discard.
        Buffer.from('\r\n'),
        message(
          [
            'INVITE sip:joe@example.com SIP/2.0',
            't: sip:joe@example.com',
            'From: sip:caller@example.net;tag=141334',
            'Max-Forwards: 8',
            `Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15${p.u}`,
            'CSeq: 8 INVITE',
            `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw380234`,
            'Content-Type: application/sdp',
            'Content-Length: {CL}',
          ],
          rfcSdp('192.0.2.15').replace('m=video', 'm =video') + '\r\n',
        ),
      ]),
    // Only the REGISTER is processed; nothing may answer the INVITE (checked in the test).
    expect: status(405),
    // On a stream the INVITE is a message of its own: only the REGISTER's answer is asserted.
    overTcp: status(405),
  },
  {
    section: '3.1.1.9',
    tag: 'semiuri',
    build: (p) =>
      message([
        'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0',
        'To: sip:j_user@example.com',
        'From: sip:caller@example.org;tag=33242',
        'Max-Forwards: 3',
        `Call-ID: semiuri.0ha0isndaksdj${p.u}`,
        'CSeq: 8 OPTIONS',
        'Accept: application/sdp, application/pkcs7-mime,',
        '        multipart/mixed, multipart/signed,',
        '        message/sip, message/sipfrag',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'l: {CL}',
      ]),
    expect: status(200),
  },
  {
    section: '3.1.1.10',
    tag: 'transports',
    build: (p) =>
      message([
        'OPTIONS sip:user@example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: <sip:caller@example.com>;tag=323',
        'Max-Forwards: 70',
        `Call-ID:  transports.kijh4akdnaqjkwendsasfdj${p.u}`,
        'Accept: application/sdp',
        'CSeq: 60 OPTIONS',
        `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bKkdjuw`,
        'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf',
        'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj',
        'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en',
        'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee',
        'l: {CL}',
      ]),
    expect: status(200),
  },
  {
    section: '3.1.1.11',
    tag: 'mpart01',
    build: (p) =>
      message(
        [
          'MESSAGE sip:kumiko@example.org SIP/2.0',
          `Via: SIP/2.0/${p.transport} ${p.sentBy};branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport`,
          'Max-Forwards: 70',
          'Route: <sip:127.0.0.1:5080>',
          'Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=',
          `Contact: <sip:fluffy@${p.sentBy}>`,
          'To: <sip:kumiko@example.org>',
          'From: <sip:fluffy@example.com>;tag=2fb0dcc9',
          `Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..${p.u}`,
          'CSeq: 1 MESSAGE',
          'Content-Transfer-Encoding: binary',
          'Content-Type: multipart/mixed;boundary=7a9cbec02ceef655',
          'Date: Sat, 15 Oct 2005 04:44:56 GMT',
          'User-Agent: SIPimp.org/0.2.5 (curses)',
          'Content-Length: {CL}',
        ],
        Buffer.concat([
          Buffer.from(
            '--7a9cbec02ceef655\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nHello\r\n' +
              '--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n',
          ),
          // The RFC's binary part (a PKCS#7 signature), octet for octet.
          Buffer.from(
            'MIIBUgYJKoZIhvcNAQcCoIIBQzCCAT8CAQExCTAHBgUrDgMCGjALBgkqhkiG9w0BBwExggEgMIIBHAIBATB8MHAxCzAJBgNVBAYTAlVTMRMwEQYDVQQIEwpDYWxpZm9ybmlh' +
              'MREwDwYDVQQHEwhTYW4gSm9zZTEOMAwGA1UEChMFc2lwaXQxKTAnBgNVBAsTIFNpcGl0IFRlc3QgQ2VydGlmaWNhdGUgQXV0aG9yaXR5AggBlQBxAjMBEzAHBgUrDgMC' +
              'GjANBgkqhkiG9w0BAQEFAASBgI70ZvlI8FIt0uWXjp2Vquny/hWgZllxYpLo2iqo2DUKaM7/rjy9K/8Wdd3VZI5ZPdZHKPJiIPfpQXSeMw2aFe2r25PRDEIQLntyidKc' +
              'wMmuLvvHwM/5Fy87An5PwCfhVG3ktqo6uz5mzMtd1sZLg4MUnLjm/xgtlE/le2W8mdAF',
            'base64',
          ),
          Buffer.from('\r\n--7a9cbec02ceef655--\r\n'),
        ]),
      ),
    // A valid MESSAGE; the bridge does not take MESSAGE requests.
    expect: status(405),
  },
];
