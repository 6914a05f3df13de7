// RFC 3261 / RFC 4475 conformance on the wire (issue 14): To tags, Max-Forwards 0, CRLF keep-alives, duplicated
// headers, bad request lines, 415/416/406, and strict routing of the bridge's BYE.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipMessage } from '../../src/signaling/message.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { metrics } from '../helpers/bridge-http.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, okTo, sdpOffer } from '../helpers/sip-messages.js';

let bot: TestBot;
let slowBot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  slowBot = await TestBot.start({ handshakeDelayMs: 1500 });
  bridge = await startTestBridge({
    bot: { defaultUrl: bot.url },
    routes: [{ header: 'X-Test-Bot', equals: 'slow', url: slowBot.url }],
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await slowBot?.close();
});

const udp = () => ({ host: '127.0.0.1', port: bridge.sip.udp!.port });
const tcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request(method: string, client: SipTestClient, options: { startLine?: string; extra?: string[]; branch?: string } = {}): string {
  return [
    options.startLine ?? `${method} sip:bridge@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${client.transport.toUpperCase()} 127.0.0.1:${client.localPort};branch=${options.branch ?? `z9hG4bK-${Math.random().toString(36).slice(2)}`};rport`,
    'Max-Forwards: 70',
    'From: <sip:carrier@127.0.0.1>;tag=c1',
    'To: <sip:bridge@127.0.0.1>',
    `Call-ID: ${method}-${Math.random()}`,
    `CSeq: 1 ${method}`,
    ...(options.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** An Exotel-shaped INVITE from `client`, edited by `edit`. */
function invite(client: SipTestClient, callId: string, edit: (text: string) => string = (t) => t, headers: Array<[string, string]> = []): string {
  const transport = client.transport.toUpperCase() as 'UDP' | 'TCP';
  const port = client.transport === 'udp' ? udp().port : tcp().port;
  return edit(exotelInvite({ callId, transport, port, localPort: client.localPort, headers }).toString());
}

const toTag = (m: SipMessage) => m.to.params.get('tag');
const refusedMalformed = async () => (await metrics(bridge.httpPort)).get('bridge_sip_refused_total{reason="malformed"}') ?? 0;

describe('To tags (RFC 3261 8.2.6.2)', () => {
  it('puts one in every response but 100 Trying, and the same one in a retransmitted response', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      const options = request('OPTIONS', client, { branch: 'z9hG4bK-tag-options' });
      client.send(options);
      const ok = await client.response(200, 'OPTIONS');
      expect(toTag(ok)).toMatch(/^[0-9a-f]{12}$/);
      client.send(options);
      await client.waitFor((m) => m.kind === 'response' && m.cseq.method === 'OPTIONS', 'retransmitted 200', 5000, client.received.indexOf(ok) + 1);
      const copies = client.raw.filter((r) => r.toString().startsWith('SIP/2.0 200 OK') && r.toString().includes('z9hG4bK-tag-options'));
      expect(copies.length).toBe(2);
      expect(copies[1]!.equals(copies[0]!)).toBe(true);

      client.send(request('SUBSCRIBE', client));
      client.send(request('BYE', client));
      client.send(request('OPTIONS', client, { extra: ['Require: 100rel'] }).replace(/CSeq: 1 OPTIONS/, 'CSeq: 2 OPTIONS'));
      for (const [status, method] of [[405, 'SUBSCRIBE'], [481, 'BYE'], [420, 'OPTIONS']] as const) {
        expect(toTag(await client.response(status, method)), `${status} ${method}`).toMatch(/^[0-9a-f]{12}$/);
      }

      client.send(request('OPTIONS', client).replace(/Call-ID: .*\r\n/, ''));
      const stateless = await client.waitForRaw(/^SIP\/2\.0 400 Bad Request\r\n[\s\S]*missing Call-ID/);
      expect(stateless).toMatch(/\r\nTo: <sip:bridge@127\.0\.0\.1>;tag=[0-9a-f]{12}\r\n/);

      const body = sdpOffer();
      client.send(request('INVITE', client, { extra: ['Content-Type: application/sdp'] }).replace('Content-Length: 0\r\n\r\n', `Content-Length: ${body.length}\r\n\r\n${body}`));
      const trying = await client.response(100, 'INVITE');
      expect(toTag(trying)).toBeUndefined();
      const noContact = await client.response(400, 'INVITE');
      expect(noContact.headers.get('warning')).toContain('missing Contact header');
      expect(toTag(noContact)).toMatch(/^[0-9a-f]{12}$/);
    } finally {
      client.close();
    }
  });

  it('gives the 200 to a CANCEL the tag of the INVITE it cancels', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      const text = invite(client, 'cancel-tag', (t) => t.replace('z9hG4bK-exo-1', 'z9hG4bK-cancel-tag'), [['X-Test-Bot', 'slow']]);
      client.send(text);
      await client.response(100, 'INVITE');
      client.send(
        text
          .replace(/^INVITE/, 'CANCEL')
          .replace('CSeq: 1 INVITE', 'CSeq: 1 CANCEL')
          .replace(/Content-Type: application\/sdp\r\nContent-Length: \d+\r\n\r\n[\s\S]*$/, 'Content-Length: 0\r\n\r\n'),
      );
      const cancelled = await client.response(200, 'CANCEL');
      const terminated = await client.response(487, 'INVITE');
      expect(toTag(terminated)).toMatch(/^[0-9a-f]{12}$/);
      expect(toTag(cancelled)).toBe(toTag(terminated));
      client.send(inDialogRequest('ACK', client, terminated, 1));
      await waitForIdle(bridge);
    } finally {
      client.close();
    }
  });
});

describe('Max-Forwards', () => {
  it('processes an INVITE with Max-Forwards: 0 addressed to it (RFC 4475 zeromf): the call is set up', async () => {
    const client = await SipTestClient.open('tcp', tcp());
    try {
      const botIndex = bot.connections.length;
      client.send(invite(client, 'zero-mf', (t) => t.replace('Max-Forwards: 70', 'Max-Forwards: 0')));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      expect(client.count((m) => m.kind === 'response' && m.status === 483)).toBe(0);
      await waitForIdle(bridge);
    } finally {
      client.close();
    }
  });
});

describe('CRLF keep-alives (RFC 5626)', () => {
  it('ignores CRLFs over UDP: no answer, no refusal counted', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      const before = await refusedMalformed();
      client.send('\r\n\r\n');
      client.send('\r\n');
      await sleep(300);
      expect(client.raw).toEqual([]);
      expect(await refusedMalformed()).toBe(before);
      client.send(request('OPTIONS', client));
      await client.response(200, 'OPTIONS');
    } finally {
      client.close();
    }
  });

  it('answers a double-CRLF ping on TCP with one CRLF pong', async () => {
    const socket = net.connect(tcp());
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.write('\r\n\r\n');
      await sleep(300);
      expect(Buffer.concat(received).toString()).toBe('\r\n');
    } finally {
      socket.destroy();
    }
  });
});

describe('headers a message may carry once', () => {
  it('refuses an INVITE with duplicated single-valued headers (RFC 4475 multi01) with 400 naming one, and starts no bot stream', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      const botsBefore = bot.connections.length;
      const body = sdpOffer();
      client.send(
        [
          'INVITE sip:user@127.0.0.1 SIP/2.0',
          `Contact: <sip:caller@127.0.0.1:${client.localPort}>`,
          `Via: SIP/2.0/UDP 127.0.0.1:${client.localPort};branch=z9hG4bKmulti01;rport`,
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
          `l: ${body.length}`,
          `Contact: <sip:caller@127.0.0.1:${client.localPort}>`,
          'Max-Forwards: 5',
          '',
          body,
        ].join('\r\n'),
      );
      const refused = await client.waitForRaw(/^SIP\/2\.0 400 Bad Request\r\n/);
      expect(refused).toMatch(/\r\nWarning: 399 sip-ws-bridge "duplicate Call-ID header"\r\n/);
      expect(refused).toMatch(/\r\nCall-ID: multi01\.98asdh@192\.0\.2\.1\r\n/);
      await sleep(300);
      expect(client.raw.map((r) => r.toString().split('\r\n')[0])).toEqual(['SIP/2.0 400 Bad Request']);
      expect(bot.connections.length).toBe(botsBefore);
      await waitForIdle(bridge);
    } finally {
      client.close();
    }
  });
});

describe('request lines', () => {
  it('answers whitespace in the Request-URI (RFC 4475 lwsruri) with 400 and takes spaces after SIP/2.0 (trws)', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      client.send(request('INVITE', client, { startLine: 'INVITE sip:user@example.com; lr SIP/2.0' }));
      const bad = await client.waitForRaw(/^SIP\/2\.0 400 Bad Request\r\n/);
      expect(bad).toMatch(/\r\nWarning: 399 sip-ws-bridge "whitespace in the Request-URI \\"sip:user@example.com; lr\\""\r\n/);
      client.send(request('OPTIONS', client, { startLine: 'OPTIONS sip:remote-target@example.com SIP/2.0  ' }));
      await client.response(200, 'OPTIONS');
    } finally {
      client.close();
    }
  });

  it('answers a Request-URI of an unknown scheme (RFC 4475 unkscm) with 416', async () => {
    const client = await SipTestClient.open('udp', udp());
    try {
      client.send(request('OPTIONS', client, { startLine: 'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0' }));
      const refused = await client.waitForRaw(/^SIP\/2\.0 416 Unsupported URI Scheme\r\n/);
      expect(refused).toMatch(/\r\nWarning: 399 sip-ws-bridge "unsupported URI scheme \\"nobodyKnowsThisScheme\\""\r\n/);
    } finally {
      client.close();
    }
  });
});

describe('INVITE content (RFC 3261 8.2.3)', () => {
  it('answers an INVITE whose body is not SDP with 415 and Accept: application/sdp', async () => {
    const client = await SipTestClient.open('tcp', tcp());
    try {
      const botsBefore = bot.connections.length;
      client.send(invite(client, 'text-body', (t) => t.replace('Content-Type: application/sdp', 'Content-Type: text/plain')));
      const plain = await client.response(415, 'INVITE');
      expect(plain.reason).toBe('Unsupported Media Type');
      expect(plain.headers.get('accept')).toBe('application/sdp');
      expect(plain.headers.get('warning')).toContain('unsupported body type text/plain');

      const boundary = 'unique-boundary-1';
      const multipart = `--${boundary}\r\nContent-Type: application/sdp\r\n\r\n${sdpOffer()}\r\n--${boundary}--\r\n`;
      client.send(
        invite(client, 'multipart-body', (t) =>
          t
            .replace('z9hG4bK-exo-1', 'z9hG4bK-exo-2')
            .replace(/Content-Type: application\/sdp\r\nContent-Length: \d+\r\n\r\n[\s\S]*$/, `Content-Type: multipart/mixed;boundary=${boundary}\r\nContent-Length: ${multipart.length}\r\n\r\n${multipart}`),
        ),
      );
      const mixed = await client.waitFor((m) => m.kind === 'response' && m.callId === 'multipart-body' && m.status >= 200, 'final to the multipart INVITE');
      expect(mixed.kind === 'response' && mixed.status).toBe(415);
      expect(mixed.headers.get('accept')).toBe('application/sdp');
      expect(bot.connections.length).toBe(botsBefore);
    } finally {
      client.close();
    }
  });

  it('answers an INVITE whose Accept excludes application/sdp with 406', async () => {
    const client = await SipTestClient.open('tcp', tcp());
    try {
      client.send(invite(client, 'accept-text', (t) => t, [['Accept', 'text/plain']]));
      const refused = await client.response(406, 'INVITE');
      expect(refused.reason).toBe('Not Acceptable');
      expect(refused.headers.get('warning')).toContain('Accept excludes');
    } finally {
      client.close();
    }
  });
});

describe('routing of the bridge BYE (RFC 3261 12.2.1.1)', () => {
  /** A call from `caller` whose INVITE carries `recordRoute`; the bot hangs up and the BYE arrives at `proxy`. */
  async function byeThrough(recordRoute: (proxyPort: number) => string, callId: string) {
    const caller = await SipTestClient.open('udp', udp());
    const proxy = await SipTestClient.open('udp', udp());
    try {
      const botIndex = bot.connections.length;
      caller.send(invite(caller, callId, (t) => t, [['Record-Route', recordRoute(proxy.localPort)]]));
      const ok = await caller.response(200, 'INVITE');
      caller.send(inDialogRequest('ACK', caller, ok, ok.cseq.seq));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      conn.ws.close();
      const bye = await proxy.request('BYE');
      proxy.send(okTo(bye));
      await waitForIdle(bridge);
      expect(caller.count((m) => m.kind === 'request')).toBe(0);
      return { bye, contact: `sip:+918888888888@127.0.0.1:${caller.localPort};transport=udp` };
    } finally {
      caller.close();
      proxy.close();
    }
  }

  it('strict: a route without lr becomes the Request-URI and the caller Contact the last Route', async () => {
    let route = '';
    const { bye, contact } = await byeThrough((port) => `<${(route = `sip:127.0.0.1:${port}`)}>`, 'strict-route');
    expect(bye.uri).toBe(route);
    expect(bye.headers.getList('route')).toEqual([`<${contact}>`]);
  });

  it('loose: the Request-URI stays the caller Contact and the route set is the Route', async () => {
    let route = '';
    const { bye, contact } = await byeThrough((port) => (route = `<sip:127.0.0.1:${port};lr>`), 'loose-route');
    expect(bye.uri).toBe(contact);
    expect(bye.headers.getList('route')).toEqual([route]);
  });
});
