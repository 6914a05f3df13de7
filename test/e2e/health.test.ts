// /health and bridge_backend_up tell the truth when what calls need is down: drachtio-server not connected, rtpengine
// not answering its ng ping (found by a periodic ping, not per request), and INVITEs that arrive then get 503.
import { createSocket, type Socket } from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBridge } from '../helpers/bridge.js';
import { health, metrics } from '../helpers/bridge-http.js';
import { startRtpengine } from '../helpers/rtpengine.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite } from '../helpers/sip-messages.js';

const root = process.getuid?.() === 0;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A loopback TCP port nothing listens on. */
async function closedTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A UDP socket where rtpengine would be that takes ng commands and never answers; counts them. */
async function deafRtpengine(): Promise<{ socket: Socket; port: number; received: () => number }> {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', () => received++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { socket, port: socket.address().port, received: () => received };
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('/health', () => {
  it('is 200 ok with the SIP backend up, and bridge_backend_up{component="sip"} is 1 (no rtpengine gauge without rtpengine)', async () => {
    const bridge = await startTestBridge();
    cleanup.push(() => bridge.stop());
    const { status, body } = await health(bridge.httpPort);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', accepting: true, reasons: [], activeCalls: 0 });
    expect(body.media).toEqual([expect.objectContaining({ name: 'in-process', legs: 0, rtpPortsInUse: 0, up: true })]);
    const m = await metrics(bridge.httpPort);
    expect(m.get('bridge_backend_up{component="sip"}')).toBe(1);
    expect(m.has('bridge_backend_up{component="rtpengine"}')).toBe(false);
  });

  it('is 503 down, naming drachtio host:port, while drachtio-server cannot be reached', async () => {
    const port = await closedTcpPort();
    const bridge = await startTestBridge({ sip: { backend: 'drachtio', drachtio: { host: '127.0.0.1', port, secret: 'cymru' }, udp: false, tcp: false } });
    cleanup.push(() => bridge.stop());
    const { status, body } = await health(bridge.httpPort);
    expect(status).toBe(503);
    expect(body.status).toBe('down');
    expect(body.accepting).toBe(false);
    expect(body.reasons).toHaveLength(1);
    expect(body.reasons[0]).toMatch(/^sip backend: .*drachtio at 127\.0\.0\.1:\d+/);
    expect(body.reasons[0]).toContain(`127.0.0.1:${port}`);
    expect(body).toHaveProperty('sip.dialogs', 0);
    const m = await metrics(bridge.httpPort);
    expect(m.get('bridge_backend_up{component="sip"}')).toBe(0);
  });

  it('is 503 down while rtpengine does not answer its ping; INVITEs get 503 saying why; pings stop with the bridge', async () => {
    const deaf = await deafRtpengine();
    cleanup.push(() => deaf.socket.close());
    const bridge = await startTestBridge({
      media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: deaf.port, localAddress: '127.0.0.1', timeoutMs: 100, pingIntervalMs: 200 } },
    });
    let stopped = false;
    cleanup.push(() => !stopped && bridge.stop());

    const { status, body } = await health(bridge.httpPort);
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 'down', accepting: false });
    expect(body.reasons).toEqual([expect.stringMatching(new RegExp(`^media relay: rtpengine at 127\\.0\\.0\\.1:${deaf.port} did not answer ping within 100 ms`))]);
    const m = await metrics(bridge.httpPort);
    expect(m.get('bridge_backend_up{component="sip"}')).toBe(1);
    expect(m.get('bridge_backend_up{component="rtpengine"}')).toBe(0);

    const client = await SipTestClient.open('tcp', bridge.sip.tcp!);
    cleanup.push(() => client.close());
    client.send(exotelInvite({ callId: 'relay-down', port: bridge.sip.tcp!.port, localPort: client.localPort }));
    const refused = await client.response(503, 'INVITE');
    expect(refused.headers.get('warning')).toMatch(/^399 sip-ws-bridge "media relay: rtpengine at 127\.0\.0\.1:\d+ did not answer ping/);
    expect(refused.headers.get('retry-after')).toBe('5');
    // Only pings reached "rtpengine": the INVITE was refused before any offer.
    const pings = deaf.received();
    expect(pings).toBeGreaterThanOrEqual(1);

    await bridge.stop();
    stopped = true;
    const afterStop = deaf.received();
    await new Promise((r) => setTimeout(r, 700));
    expect(deaf.received()).toBe(afterStop);
  });

  it.skipIf(!root)('is 200 with a real rtpengine, and turns 503 within a few ping periods once rtpengine stops', async () => {
    const rtpengine = await startRtpengine();
    let running = true;
    cleanup.push(() => running && rtpengine.stop());
    const bridge = await startTestBridge({
      media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: rtpengine.ngPort, localAddress: '127.0.0.1', timeoutMs: 200, pingIntervalMs: 200 } },
    });
    cleanup.push(() => bridge.stop());
    const up = await health(bridge.httpPort);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ status: 'ok', accepting: true, reasons: [] });
    expect((await metrics(bridge.httpPort)).get('bridge_backend_up{component="rtpengine"}')).toBe(1);

    await rtpengine.stop();
    running = false;
    const stoppedAt = Date.now();
    await until(async () => (await health(bridge.httpPort)).status === 503, 3000, '/health 503 after rtpengine stopped');
    // One ping period plus one ping's timeout, and some room for a loaded machine.
    expect(Date.now() - stoppedAt).toBeLessThan(1500);
    const down = await health(bridge.httpPort);
    expect(down.body.reasons[0]).toMatch(new RegExp(`^media relay: rtpengine at 127\\.0\\.0\\.1:${rtpengine.ngPort} did not answer ping within 200 ms`));
    expect((await metrics(bridge.httpPort)).get('bridge_backend_up{component="rtpengine"}')).toBe(0);
  });
});
