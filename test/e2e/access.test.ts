// Who may reach the bridge and where calls may lead: source allowlist, connection limits, slow senders, TLS
// reload and mutual TLS, the bot address policy, and Exotel's custom-header limits.
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { CertDir } from '../helpers/certs.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest } from '../helpers/sip-messages.js';

const certs = new CertDir();
const path = (name: string) => certs.path(name);

/** An OPTIONS request; `port` is the sender's, for its Via. */
function options(port: number, transport = 'UDP'): string {
  return [
    'OPTIONS sip:bridge@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bK-${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    'From: <sip:carrier@127.0.0.1>;tag=a1',
    'To: <sip:bridge@127.0.0.1>',
    `Call-ID: opt-${Math.random()}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function metrics(bridge: Bridge): Promise<string> {
  return (await fetch(`http://127.0.0.1:${bridge.httpPort}/metrics`)).text();
}

function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

describe('source allowlist', () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await startTestBridge({ sip: { allowedSources: ['10.0.0.0/8', '2001:db8::/32'] } });
  });
  afterAll(() => bridge?.stop());

  it('answers requests from elsewhere with 403 and the reason, and counts them', async () => {
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    try {
      client.send(options(client.localPort, client.transport.toUpperCase()));
      const refused = await client.response(403, 'OPTIONS');
      expect(refused.headers.get('warning')).toBe('399 sip-ws-bridge "source address 127.0.0.1 is not allowed"');
      client.send(exotelInvite({ callId: 'refused-1', transport: 'UDP', port: bridge.sip.udp!.port, localPort: client.localPort }));
      await client.response(403, 'INVITE');
      expect(client.count((m) => m.kind === 'response' && m.status === 100)).toBe(0);
      expect(await metrics(bridge)).toMatch(/^bridge_sip_refused_total\{reason="source-not-allowed"\} 2$/m);
      expect(bridge.stats().sip.transactions).toBe(0);
    } finally {
      client.close();
    }
  });

  it('drops them without a word when configured so, TCP connections included', async () => {
    const silent = await startTestBridge({ sip: { allowedSources: ['10.0.0.0/8'], refusedSources: 'drop' } });
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: silent.sip.udp!.port });
    try {
      client.send(options(client.localPort, client.transport.toUpperCase()));
      await new Promise((r) => setTimeout(r, 400));
      expect(client.raw).toHaveLength(0);
      expect(await closedWithin(await connect(silent.sip.tcp!.port), 1000)).toBe(true);
      expect(await metrics(silent)).toMatch(/^bridge_sip_refused_total\{reason="source-not-allowed"\} 2$/m);
    } finally {
      client.close();
      await silent.stop();
    }
  });
});

describe('stream connection limits', () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await startTestBridge({ sip: { maxConnectionsPerSource: 2, messageTimeoutMs: 300 } });
  });
  afterAll(() => bridge?.stop());

  it('refuses connections beyond the per-source limit and keeps serving the others', async () => {
    const port = bridge.sip.tcp!.port;
    const first = await SipTestClient.open('tcp', { host: '127.0.0.1', port });
    const second = await SipTestClient.open('tcp', { host: '127.0.0.1', port });
    const third = await connect(port);
    try {
      expect(await closedWithin(third, 1000)).toBe(true);
      for (const client of [first, second]) {
        client.send(options(client.localPort, client.transport.toUpperCase()));
        await client.response(200, 'OPTIONS');
      }
      expect(await metrics(bridge)).toMatch(/^bridge_sip_refused_total\{reason="too-many-connections"\} 1$/m);
    } finally {
      first.close();
      second.close();
    }
  });

  it('cuts off a sender whose message does not arrive whole in time (slowloris)', async () => {
    while (bridge.stats().sip.connections > 0) await new Promise((r) => setTimeout(r, 10));
    const socket = await connect(bridge.sip.tcp!.port);
    const started = Date.now();
    socket.write('OPTIONS sip:bridge@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-slow\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X'), 50);
    try {
      expect(await closedWithin(socket, 2000)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      clearInterval(drip);
    }
  });
});

describe('TLS', () => {
  beforeAll(() => {
    certs.selfSigned('ca');
    certs.signed('server-a', 'ca');
    certs.signed('server-b', 'ca');
    certs.signed('carrier', 'ca');
    certs.selfSigned('stranger-ca');
    certs.signed('stranger', 'stranger-ca');
  });
  afterAll(() => certs.remove());

  function tlsConnect(port: number, client?: string): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        rejectUnauthorized: false,
        ...(client && { cert: readFileSync(path(`${client}.pem`)), key: readFileSync(path(`${client}.key`)) }),
      });
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  it('reloads its certificate for new connections while open ones carry on', async () => {
    writeFileSync(path('live.pem'), readFileSync(path('server-a.pem')));
    writeFileSync(path('live.key'), readFileSync(path('server-a.key')));
    const bridge = await startTestBridge({ sip: { tls: { host: '127.0.0.1', port: 0, cert: path('live.pem'), key: path('live.key') } } });
    try {
      const port = bridge.sip.tls!.port;
      const before = await tlsConnect(port);
      expect(before.getPeerCertificate().subject.CN).toBe('server-a');
      writeFileSync(path('live.pem'), readFileSync(path('server-b.pem')));
      writeFileSync(path('live.key'), readFileSync(path('server-b.key')));
      bridge.reloadTls();
      const after = await tlsConnect(port);
      expect(after.getPeerCertificate().subject.CN).toBe('server-b');
      const replies: string[] = [];
      before.on('data', (d: Buffer) => replies.push(d.toString()));
      before.write(options(before.localPort!, 'TLS'));
      await new Promise((r) => setTimeout(r, 300));
      expect(replies.join('')).toMatch(/^SIP\/2\.0 200 OK/);
      before.destroy();
      after.destroy();
    } finally {
      await bridge.stop();
    }
  });

  it('with a CA configured, admits only clients holding a certificate it signed (mutual TLS)', async () => {
    const bridge = await startTestBridge({
      sip: { tls: { host: '127.0.0.1', port: 0, cert: path('server-a.pem'), key: path('server-a.key'), ca: path('ca.pem') } },
    });
    try {
      const port = bridge.sip.tls!.port;
      const trusted = await tlsConnect(port, 'carrier');
      const replies: string[] = [];
      trusted.on('data', (d: Buffer) => replies.push(d.toString()));
      trusted.write(options(trusted.localPort!, 'TLS'));
      await new Promise((r) => setTimeout(r, 300));
      expect(replies.join('')).toMatch(/^SIP\/2\.0 200 OK/);
      trusted.destroy();
      for (const client of [undefined, 'stranger']) {
        const outcome = await tlsConnect(port, client).then(
          async (s) => {
            // TLS 1.3 reports a refused client certificate after the handshake: the server closes the socket.
            const closed = await closedWithin(s, 1000);
            s.destroy();
            return closed ? 'closed' : 'open';
          },
          () => 'refused',
        );
        expect(outcome, client ?? 'no certificate').not.toBe('open');
      }
    } finally {
      await bridge.stop();
    }
  });
});

describe('bot URLs from call headers', () => {
  let bot: TestBot;
  let bridge: Bridge;
  beforeAll(async () => {
    bot = await TestBot.start();
    bridge = await startTestBridge({
      bot: { urlHeader: { name: 'X-Bot-Url', allowedHosts: ['169.254.169.254', '127.0.0.1', 'localhost', 'metadata.invalid'] } },
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await bot?.close();
  });

  it.each([
    ['ws://169.254.169.254/latest/meta-data', 'bot host 169.254.169.254 resolves to 169.254.169.254 is a link-local address'],
    ['ws://127.0.0.1:22/', 'bot host 127.0.0.1 resolves to 127.0.0.1 is a loopback address'],
    ['ws://localhost:22/', 'bot host localhost resolves to'],
    ['ws://metadata.invalid/', 'bot host metadata.invalid does not resolve'],
  ])('refuses %s with 403 even when its host is on the allowlist', async (url, reason) => {
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    try {
      client.send(exotelInvite({ callId: `ssrf-${Math.random()}`, transport: 'UDP', port: bridge.sip.udp!.port, localPort: client.localPort, headers: [['X-Bot-Url', url]] }));
      const refused = await client.response(403, 'INVITE');
      expect(refused.headers.get('warning')).toContain(reason);
      await waitForIdle(bridge);
      expect(bot.connections).toHaveLength(0);
    } finally {
      client.close();
    }
  });

  it('dials a private address when its network is allowed explicitly', async () => {
    const open = await startTestBridge({
      bot: { urlHeader: { name: 'X-Bot-Url', allowedHosts: ['127.0.0.1'], allowedNetworks: ['127.0.0.0/8'] } },
    });
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: open.sip.udp!.port });
    try {
      client.send(exotelInvite({ callId: 'allowed-private', transport: 'UDP', port: open.sip.udp!.port, localPort: client.localPort, headers: [['X-Bot-Url', bot.url]] }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, 1));
      const conn = await bot.connection(0);
      await conn.waitForEvent('start');
      client.send(inDialogRequest('BYE', client, ok, 2));
      await client.response(200, 'BYE');
      await waitForIdle(open);
    } finally {
      client.close();
      await open.stop();
    }
  });
});

describe("Exotel's custom-header limits", () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await startTestBridge({ bot: { defaultUrl: 'ws://127.0.0.1:9/never' } });
  });
  afterAll(() => bridge?.stop());

  it.each([
    [[['X-Customer-Header', 'a'.repeat(100)], ['X-Campaign', 'b'.repeat(80)]], 'custom X- headers are 207 bytes together; the limit is 200'],
    [[['X-UUI', 'u'.repeat(46)]], 'X-UUI is 46 bytes; the limit is 45'],
  ])('answers oversize custom headers with 400 and the reason', async (headers, reason) => {
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    try {
      client.send(exotelInvite({ callId: `big-${Math.random()}`, transport: 'UDP', port: bridge.sip.udp!.port, localPort: client.localPort, headers: headers as Array<[string, string]> }));
      const refused = await client.response(400, 'INVITE');
      expect(refused.headers.get('warning')).toBe(`399 sip-ws-bridge "${reason}"`);
    } finally {
      client.close();
    }
  });

  it('does not count the reserved X-Exotel- identity headers', async () => {
    const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: bridge.sip.udp!.port });
    try {
      client.send(
        exotelInvite({
          callId: 'reserved-ok',
          transport: 'UDP',
          port: bridge.sip.udp!.port,
          localPort: client.localPort,
          headers: [['X-Exotel-LegSid', 'l'.repeat(150)], ['X-Customer-Header', 'c'.repeat(150)]],
        }),
      );
      await client.response(480, 'INVITE');
    } finally {
      client.close();
    }
  });
});
