// The bridge's connection to drachtio-server when it is not simply there: a wrong secret, nothing listening,
// drachtio-server going away and coming back. Each case says why in the backend's status and logs it once.
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DrachtioBackend } from '../../src/signaling/drachtio.js';
import type { IncomingCall } from '../../src/signaling/index.js';
import { startTestBridge } from '../helpers/bridge.js';
import { drachtioBinary, freeTcpPort, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite } from '../helpers/sip-messages.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping drachtio-server tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

/** A logger whose JSON lines the test reads. */
function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

const errors = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.level === 50);

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const servers: DrachtioServer[] = [];
const backends: DrachtioBackend[] = [];
afterEach(async () => {
  const stopped = await Promise.allSettled(backends.splice(0).map((b) => b.stop()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  for (const result of stopped) if (result.status === 'rejected') throw result.reason;
});

function backend(port: number, secret: string, log: Logger): DrachtioBackend {
  const b = new DrachtioBackend({ host: '127.0.0.1', port, secret, allowSource: () => true, log });
  backends.push(b);
  return b;
}

const SINCE = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

describe.skipIf(skip)('connecting to drachtio-server', () => {
  it('comes up with a wrong secret, says so in its status, logs it once, and keeps retrying with backoff', async () => {
    const server = await startDrachtioServer({ secret: 'right' });
    servers.push(server);
    const { log, lines } = capturingLogger();
    const b = backend(server.adminPort, 'wrong', log);
    const started = Date.now();
    await b.start();
    expect(Date.now() - started).toBeLessThan(3000);
    const status = b.status;
    expect(status.up).toBe(false);
    expect(!status.up && status.reason).toMatch(
      new RegExp(`^sip backend: not connected to drachtio at 127\\.0\\.0\\.1:${server.adminPort} since ${SINCE}: drachtio-server refused the secret \\(failed to authenticate to server\\)$`),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const refusals = server.log().match(/secret validation failed/g)?.length ?? 0;
    // Retries at 250, 500 and 1000 ms: a few, not drachtio-srf's own four a second.
    expect(refusals).toBeGreaterThanOrEqual(2);
    expect(refusals).toBeLessThanOrEqual(4);
    expect(errors(lines)).toHaveLength(1);
    expect(errors(lines)[0]).toMatchObject({ reason: 'drachtio-server refused the secret (failed to authenticate to server)', msg: 'not connected to drachtio-server; retrying' });
    expect(b.status).toEqual(status);
  });

  it('says drachtio-server is unreachable, and comes up when it starts', async () => {
    const port = await freeTcpPort();
    const { log, lines } = capturingLogger();
    const b = backend(port, 'cymru', log);
    await b.start();
    const status = b.status;
    expect(!status.up && status.reason).toMatch(new RegExp(`^sip backend: not connected to drachtio at 127\\.0\\.0\\.1:${port} since ${SINCE}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    await new Promise((r) => setTimeout(r, 800));
    expect(errors(lines)).toHaveLength(1);
    servers.push(await startDrachtioServer({ adminPort: port }));
    await until('status up', () => b.status.up);
    expect(lines.filter((l) => l.msg === 'connected to drachtio-server')).toHaveLength(1);
  });

  it('goes down when drachtio-server goes away and up again when it is back', async () => {
    const first = await startDrachtioServer();
    const { log, lines } = capturingLogger();
    const b = backend(first.adminPort, 'cymru', log);
    await b.start();
    expect(b.status).toEqual({ up: true });
    await first.stop();
    await until('status down', () => !b.status.up);
    // A closed socket, or a reset one when drachtio-server is quicker to go than to close it.
    const lost = /: (connection closed|connection lost \(read ECONNRESET\))$/;
    expect(!b.status.up && b.status.reason).toMatch(lost);
    const second = await startDrachtioServer({ adminPort: first.adminPort });
    servers.push(second);
    await until('status up', () => b.status.up);
    // Then, until the new one listens, perhaps ECONNREFUSED: a different failure, logged too.
    expect(`: ${errors(lines)[0]!.reason as string}`).toMatch(lost);
    // The new connection carries INVITEs again.
    const client = await SipTestClient.open('tcp', second.sip);
    try {
      const offered = new Promise<IncomingCall>((resolve) => b.once('invite', resolve));
      client.send(exotelInvite({ callId: 'after-reconnect@carrier.example', port: second.sip.port, localPort: client.localPort }));
      (await offered).reject(480, 'Temporarily Unavailable');
      await client.response(480, 'INVITE');
    } finally {
      client.close();
    }
  });

  it('lets the bridge start and stop with a wrong secret', async () => {
    const server = await startDrachtioServer({ secret: 'right' });
    servers.push(server);
    const bridge = await startTestBridge({ sip: { backend: 'drachtio', drachtio: { host: '127.0.0.1', port: server.adminPort, secret: 'wrong' }, udp: false, tcp: false } });
    await bridge.stop();
  });
});
