// Signals to the bridge process: SIGTERM stops new calls (503, /health 503), lets calls in progress finish up to the
// drain timeout, then ends the rest with BYE and exits 0; SIGINT does the same with its shorter timeout; SIGHUP
// reads the TLS certificate again.
import { copyFileSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { TestBot } from '../helpers/bot.js';
import { health } from '../helpers/bridge-http.js';
import { BridgeProcess } from '../helpers/bridge-process.js';
import { answeredCall } from '../helpers/carrier.js';
import { CertDir } from '../helpers/certs.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest, okTo } from '../helpers/sip-messages.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(shutdown: { drainTimeoutMs: number; interruptDrainTimeoutMs: number }) {
  const bot = await TestBot.start();
  cleanup.push(() => bot.close());
  const started = await BridgeProcess.start({ bot: { defaultUrl: bot.url }, shutdown });
  cleanup.push(() => started.bridge.kill());
  const call = await answeredCall(started.sip.tcp, bot, `drain-${Date.now()}`);
  cleanup.push(() => call.close());
  return { bot, call, ...started };
}

describe('SIGTERM', () => {
  it('refuses new calls with 503 while draining, BYEs the calls left at the drain timeout, and exits 0', async () => {
    const { bridge, sip, httpPort, call } = await setup({ drainTimeoutMs: 1500, interruptDrainTimeoutMs: 100 });
    expect((await health(httpPort)).status).toBe(200);

    const signalled = Date.now();
    bridge.signal('SIGTERM');
    await bridge.waitForLog('draining: waiting for calls to end');
    const draining = await health(httpPort);
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ status: 'draining', accepting: false, activeCalls: 1 });

    const late = await SipTestClient.open('udp', sip.udp);
    cleanup.push(() => late.close());
    late.send(exotelInvite({ callId: 'too-late', transport: 'UDP', port: sip.udp.port, localPort: late.localPort }));
    const refused = await late.response(503, 'INVITE');
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('warning')).toContain('the bridge is shutting down');

    // The call in progress is left alone until the drain timeout.
    const bye = await call.client.request('BYE', 5000);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1400);
    call.client.send(okTo(bye));
    await call.conn.waitForEvent('stop');
    expect(call.conn.stop?.stop.reason).toBe('stopped');
    expect(await bridge.exited).toEqual({ code: 0, signal: null });
  });

  it('exits as soon as the last call ends on its own, before the drain timeout', async () => {
    const { bridge, call } = await setup({ drainTimeoutMs: 20_000, interruptDrainTimeoutMs: 100 });
    bridge.signal('SIGTERM');
    await bridge.waitForLog('draining: waiting for calls to end');
    const hungUp = Date.now();
    call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
    await call.client.response(200, 'BYE');
    expect(await bridge.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - hungUp).toBeLessThan(5000);
    expect(call.client.count((m) => m.kind === 'request' && m.method === 'BYE')).toBe(0);
  });
});

describe('SIGINT', () => {
  it('drains with its own, shorter timeout', async () => {
    const { bridge, call } = await setup({ drainTimeoutMs: 60_000, interruptDrainTimeoutMs: 300 });
    const signalled = Date.now();
    bridge.signal('SIGINT');
    const bye = await call.client.request('BYE', 5000);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(250);
    call.client.send(okTo(bye));
    expect(await bridge.exited).toEqual({ code: 0, signal: null });
    expect(bridge.logs.find((l) => l.msg === 'stopping: no new calls, calls in progress may finish')).toMatchObject({ signal: 'SIGINT', drainTimeoutMs: 300 });
  });
});

describe('SIGHUP', () => {
  it('serves new TLS connections with the certificate now on disk, keeps the old one when the new cannot be read', async () => {
    const certs = new CertDir();
    cleanup.push(() => certs.remove());
    const a = certs.selfSigned('server-a');
    const b = certs.selfSigned('server-b');
    const live = { cert: certs.path('live.pem'), key: certs.path('live.key') };
    copyFileSync(a.cert, live.cert);
    copyFileSync(a.key, live.key);
    const { bridge } = await BridgeProcess.start({ sip: { tls: { host: '127.0.0.1', port: 0, ...live } } });
    cleanup.push(() => bridge.kill());
    const started = await bridge.waitForLog('bridge started');
    const port = (started.sip as { tls: { port: number } }).tls.port;
    const served = async () => {
      const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
        s.once('error', reject);
      });
      const name = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      return name;
    };
    expect(await served()).toBe('server-a');

    copyFileSync(b.cert, live.cert);
    copyFileSync(b.key, live.key);
    bridge.signal('SIGHUP');
    await bridge.waitForLog('TLS certificate reloaded');
    expect(await served()).toBe('server-b');

    rmSync(live.key);
    bridge.signal('SIGHUP');
    const failed = await bridge.waitForLog('TLS certificate not reloaded');
    expect(failed.reason).toMatch(/^cannot read sip\.tls\.key .*live\.key/);
    expect(await served()).toBe('server-b');
  });
});
