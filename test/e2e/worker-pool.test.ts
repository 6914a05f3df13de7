// The media worker pool on its own (real worker threads running dist/, a test bot, no SIP): legs open on the
// least-loaded worker, with the worker's port slice; opens in progress and closes on a worker that dies fail or end at
// once; a worker that keeps dying waits longer each time before it is started again.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LegOpenError, type HostSettings, type LegSpec } from '../../src/stream/index.js';
import { createWorkerPool, type WorkerPool } from '../../src/stream/worker-pool.js';
import { TestBot, type TestBotOptions } from '../helpers/bot.js';

const log = pino({ level: 'silent' });
const observer = { botConnected() {}, dtmf() {}, latency() {} };

const settings: HostSettings = {
  address: '127.0.0.1',
  rtpPorts: { min: 42000, max: 42099 },
  maxQueueMs: 60_000,
  latch: 'sdp-ip',
  rtpTimeoutMs: 0,
  chunkMs: 20,
  bot: { connectTimeoutMs: 3000, maxMessageBytes: 1 << 20, drainTimeoutMs: 500, pingIntervalMs: 0, dtmfDurationMs: 100, onDrop: 'hangup', allowedNetworks: [] },
  logLevel: 'silent',
};

function spec(url: string, n: number): LegSpec {
  return {
    callSid: `CA${n}`,
    streamSid: `MZ${n}`,
    log: { call_sid: `CA${n}` },
    bot: { url, protocol: 'exotel', sampleRate: 8000, checkAddresses: false, connectRetries: 0, announce: false },
    listenOnly: false,
  };
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(botOptions: TestBotOptions = {}): Promise<{ bot: TestBot; pool: WorkerPool }> {
  const bot = await TestBot.start(botOptions);
  cleanup.push(() => bot.close());
  const pool = createWorkerPool({ workers: 2, settings, limits: { maxClockLagMs: 0, maxEventLoopUtilization: 1 }, observer, log });
  cleanup.push(() => pool.close());
  return { bot, pool };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

const never = new AbortController().signal;

describe('the media worker pool', () => {
  it("places legs on the worker with the fewest, in that worker's share of the ports, and closes them with a report", async () => {
    const { bot, pool } = await setup();
    const legs = [];
    for (let n = 0; n < 4; n++) legs.push(await pool.open(spec(bot.url, n), never));
    expect(legs.map((leg) => (leg.port < 42050 ? 0 : 1))).toEqual([0, 1, 0, 1]);
    expect(pool.load().map((l) => [l.name, l.legs, l.up])).toEqual([['worker-0', 2, true], ['worker-1', 2, true]]);
    const reports = await Promise.all(legs.map((leg) => leg.close('callended')));
    // Never started (the call was not answered): no media in the report, and the bot's socket closed without `stop`.
    expect(reports.every((r) => r.media === undefined)).toBe(true);
    await until('the bot sockets closed', () => bot.connections.length === 4 && bot.connections.every((c) => c.closed));
    expect(pool.load().map((l) => l.legs)).toEqual([0, 0]);
  });

  it('fails an open in progress on a worker that dies with a host error, and ends and closes its open legs at once', async () => {
    const { bot, pool } = await setup({ handshakeDelayMs: (attempt) => (attempt < 2 ? 0 : 2000) });
    const open = await pool.open(spec(bot.url, 1), never);
    await pool.open(spec(bot.url, 2), never).then((leg) => cleanup.push(() => leg.close('callended')));
    const opening = pool.open(spec(bot.url, 3), never);
    const ended = new Promise((resolve) => open.once('end', resolve));
    await until('the third bot connection under way', () => bot.attempts >= 3);
    await pool.terminate(0);
    const err = await opening.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LegOpenError);
    expect(err).toMatchObject({ kind: 'host', message: expect.stringMatching(/^media worker 0 stopped: /) });
    expect(await ended).toEqual({ by: 'system', reason: expect.stringMatching(/^media worker 0 stopped: .*without a stop message$/) });
    expect(await open.close('callended')).toEqual({});
    expect(pool.load()[0]).toMatchObject({ up: false, legs: 0 });
  });

  it('starts a worker that keeps dying again after 0.1 s, then 0.2 s', async () => {
    const { pool } = await setup();
    await pool.terminate(1);
    const first = await until('worker 1 back', () => pool.load()[1]!.up);
    await pool.terminate(1);
    const second = await until('worker 1 back again', () => pool.load()[1]!.up);
    expect(first).toBeGreaterThanOrEqual(90);
    expect(second).toBeGreaterThanOrEqual(190);
    expect(pool.load()[0]!.up).toBe(true);
  });
});
