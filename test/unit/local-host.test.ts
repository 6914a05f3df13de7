// The in-process media host: what `open` does with ports, the bot and the address policy, how an unanswered leg ends
// and closes, and the load it reports.
import { getHeapStatistics } from 'node:v8';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalHost, LegOpenError, type HostSettings, type LegEnd, type LegSpec, type MediaHost } from '../../src/stream/index.js';
import { TestBot } from '../helpers/bot.js';

const log = pino({ level: 'silent' });
const observer = { botConnected() {}, dtmf() {}, latency() {} };

function settings(overrides: Partial<HostSettings> & { allowedNetworks?: string[] } = {}): HostSettings {
  const { allowedNetworks = ['127.0.0.0/8'], ...rest } = overrides;
  return {
    address: '127.0.0.1',
    rtpPorts: { min: 41000, max: 41999 },
    maxQueueMs: 60_000,
    latch: 'sdp-ip',
    rtpTimeoutMs: 0,
    chunkMs: 20,
    bot: { connectTimeoutMs: 2000, maxMessageBytes: 1 << 20, drainTimeoutMs: 500, pingIntervalMs: 0, dtmfDurationMs: 100, onDrop: 'hangup', allowedNetworks },
    logLevel: 'silent',
    ...rest,
  };
}

function spec(url: string, extra: Partial<LegSpec['bot']> = {}): LegSpec {
  return {
    callSid: 'CA1',
    streamSid: 'MZ1',
    log: { call_sid: 'CA1' },
    bot: { url, protocol: 'exotel', sampleRate: 8000, checkAddresses: false, connectRetries: 0, announce: false, ...extra },
    listenOnly: false,
  };
}

async function openError(host: MediaHost, legSpec: LegSpec, signal = new AbortController().signal): Promise<LegOpenError> {
  const err = await host.open(legSpec, signal).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LegOpenError);
  return err as LegOpenError;
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function bot(): Promise<TestBot> {
  const b = await TestBot.start();
  cleanup.push(() => b.close());
  return b;
}

describe('the in-process media host', () => {
  it('opens a leg (port bound, bot connected, `connected` sent when asked), counts it, and releases it on close', async () => {
    const b = await bot();
    const host = createLocalHost(settings(), observer, log);
    const leg = await host.open(spec(b.url, { announce: true }), new AbortController().signal);
    expect(leg.port % 2).toBe(0);
    expect(leg.port).toBeGreaterThanOrEqual(41000);
    const conn = await b.connection(0);
    await conn.waitForEvent('connected');
    expect(host.load()).toEqual([expect.objectContaining({ name: 'in-process', legs: 1, rtpPortsInUse: 1, up: true })]);
    // Its heap is this thread's isolate's.
    expect(host.load()[0]!.heapUsedBytes).toBeGreaterThan(getHeapStatistics().used_heap_size / 2);
    expect(host.load()[0]!.heapUsedBytes).toBeLessThan(getHeapStatistics().used_heap_size * 2);
    expect(leg.live).toBeUndefined();
    // Never started: no media to report, and the bot is closed without a `stop`.
    expect(await leg.close('stopped')).toEqual({ botMessagesRefused: { invalid: 0, oversize: 0, unknownEvent: 0 } });
    await conn.waitForClose();
    expect(conn.messages.map((m) => m.event)).toEqual(['connected']);
    expect(host.load()[0]).toMatchObject({ legs: 0, rtpPortsInUse: 0 });
  });

  it('ends a leg whose bot leaves before `start` (an outbound call still ringing)', async () => {
    const b = await bot();
    const host = createLocalHost(settings(), observer, log);
    const leg = await host.open(spec(b.url), new AbortController().signal);
    const ended = new Promise<LegEnd>((resolve) => leg.once('end', resolve));
    (await b.connection(0)).ws.close(1000);
    expect(await ended).toEqual({ by: 'bot', reason: 'bot closed the stream before the answer' });
    await leg.close('stopped');
    expect(host.load()[0]).toMatchObject({ legs: 0, rtpPortsInUse: 0 });
  });

  it("refuses an unreachable bot ('bot'), a full port range ('ports') and an aborted open ('aborted'), holding no port", async () => {
    const b = await bot();
    const host = createLocalHost(settings({ rtpPorts: { min: 41100, max: 41101 } }), observer, log);
    const unreachable = await openError(host, spec('ws://127.0.0.1:1/'));
    expect(unreachable.kind).toBe('bot');
    expect(unreachable.message).toMatch(/^bot unreachable: /);
    const aborted = new AbortController();
    aborted.abort();
    expect((await openError(host, spec(b.url), aborted.signal)).kind).toBe('aborted');
    expect(host.load()[0]!.rtpPortsInUse).toBe(0);
    const leg = await host.open(spec(b.url), new AbortController().signal);
    expect((await openError(host, spec(b.url))).kind).toBe('ports');
    await leg.close('stopped');
    expect(host.load()[0]!.rtpPortsInUse).toBe(0);
  });

  it('holds a bot URL from a call header to the address policy: loopback only when allowedNetworks has it', async () => {
    const b = await bot();
    const strict = createLocalHost(settings({ allowedNetworks: [] }), observer, log);
    const refused = await openError(strict, spec(b.url.replace('127.0.0.1', 'localhost'), { checkAddresses: true }));
    expect(refused.kind).toBe('bot');
    expect(refused.message).toMatch(/loopback/);
    expect(b.attempts).toBe(0);
    const open = createLocalHost(settings({ allowedNetworks: ['127.0.0.0/8', '::1'] }), observer, log);
    const leg = await open.open(spec(b.url.replace('127.0.0.1', 'localhost'), { checkAddresses: true }), new AbortController().signal);
    await leg.close('stopped');
  });
});
