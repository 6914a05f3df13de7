// Calls' media in worker threads (media.workers: 2): calls spread over both, carry audio and key presses both ways,
// show in /health and /metrics per worker (each with its own thread's heap); a worker that dies or hangs ends its
// calls (BYE, the reason in the report) while the other's go on, and comes back for new calls. Also the built bridge,
// as `npm start` runs it, with two workers.
import { getHeapStatistics } from 'node:v8';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DtmfReceiver } from '../../src/media/dtmf.js';
import type { HostLoad } from '../../src/stream/index.js';
import { STALL_MS } from '../../src/stream/media-worker.js';
import { portSlices, type WorkerPool } from '../../src/stream/worker-pool.js';
import { tone } from '../helpers/audio.js';
import { TestBot, type BotConnection } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { health, metrics } from '../helpers/bridge-http.js';
import { BridgeProcess } from '../helpers/bridge-process.js';
import { cancelWhileBotConnects } from '../helpers/cancel-during-setup.js';
import { answeredCall, botToneReachesCaller, callerToneReachesBot, type AnsweredCall } from '../helpers/carrier.js';
import { inDialogRequest, okTo } from '../helpers/sip-messages.js';
import { WebhookServer } from '../helpers/webhook-server.js';

const RTP_PORTS = { min: 20000, max: 29999 };
const SLICES = portSlices(RTP_PORTS, 2);
/** DTMF's payload type in the test caller's offer (Exotel's). */
const DTMF_PT = 96;

let bot: TestBot;
let webhook: WebhookServer;
let bridge: Bridge;
const calls: AnsweredCall[] = [];

beforeAll(async () => {
  bot = await TestBot.start();
  webhook = await WebhookServer.start();
  bridge = await startTestBridge({ bot: { defaultUrl: bot.url }, media: { rtpPorts: RTP_PORTS, workers: 2 }, webhook: { url: webhook.url } });
});

afterEach(() => {
  for (const call of calls.splice(0)) call.close();
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await webhook?.close();
});

let callCount = 0;
async function call(): Promise<AnsweredCall> {
  const placed = await answeredCall(bridge.sip.tcp!, bot, `workers-${++callCount}`);
  calls.push(placed);
  return placed;
}

/** The worker a call's media runs in, from the RTP port in the bridge's answer. */
const workerOf = (call: AnsweredCall) => SLICES.findIndex((slice) => call.bridgeRtp.port >= slice.min && call.bridgeRtp.port <= slice.max);

const pool = () => bridge.media as WorkerPool;

async function hosts(): Promise<HostLoad[]> {
  return ((await health(bridge.httpPort)).body as unknown as { media: HostLoad[] }).media;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function hangUp(call: AnsweredCall): Promise<void> {
  call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
  await call.client.response(200, 'BYE');
}

const digitsOf = (conn: BotConnection) => conn.messages.filter((m) => m.event === 'dtmf').map((m) => (m as unknown as { dtmf: { digit: string } }).dtmf.digit);

async function keysBothWays(call: AnsweredCall): Promise<void> {
  await call.caller.sendDtmf(call.bridgeRtp, DTMF_PT, ['4', '2'], 100);
  await call.conn.until(() => digitsOf(call.conn).length >= 2, 3000, 'two key presses');
  expect(digitsOf(call.conn)).toEqual(['4', '2']);
  const before = call.caller.received.length;
  call.conn.send({ event: 'dtmf', stream_sid: call.conn.streamSid, dtmf: { digit: '7' } });
  await new Promise((r) => setTimeout(r, 400));
  const rx = new DtmfReceiver();
  const events = call.caller.received.slice(before).filter((p) => p.payloadType === DTMF_PT);
  expect(events.flatMap((p) => rx.packet(p.ssrc, p.timestamp, p.payload)).map((d) => d.digit)).toEqual(['7']);
}

/** The post-call report of a call, once posted. */
async function reportOf(call: AnsweredCall) {
  const id = call.ok.callId;
  await until(`report of ${id}`, async () => webhook.posts.some((p) => p.body.sip_call_id === id));
  return webhook.posts.find((p) => p.body.sip_call_id === id)!.body;
}

/** Four calls on idle workers: two land on each; those on worker `index`, and the other two. */
async function twoCallsOnEach(index: number): Promise<{ on: AnsweredCall[]; others: AnsweredCall[] }> {
  const placed = [await call(), await call(), await call(), await call()];
  const on = placed.filter((c) => workerOf(c) === index);
  const others = placed.filter((c) => workerOf(c) !== index);
  expect([on.length, others.length]).toEqual([2, 2]);
  return { on, others };
}

/**
 * After worker `lost` ended its calls: the other worker's calls still carry audio both ways, `lost` comes back up and
 * takes new calls that carry audio too; once all hang up, no leg or port is left in either worker.
 */
async function othersGoOnAndWorkerReturns(lost: number, living: AnsweredCall[]): Promise<void> {
  await Promise.all(living.map((c) => callerToneReachesBot(c, 'PCMA')));
  await Promise.all(living.map((c) => botToneReachesCaller(c, 'PCMA')));

  await until(`worker ${lost} back up`, async () => (await hosts())[lost]!.up);
  const fresh = [await call(), await call()];
  expect(fresh.map(workerOf)).toEqual([lost, lost]);
  await Promise.all(fresh.map((c) => callerToneReachesBot(c, 'PCMA')));
  await Promise.all(fresh.map((c) => botToneReachesCaller(c, 'PCMA')));

  await Promise.all([...living, ...fresh].map(hangUp));
  await waitForIdle(bridge);
  await until('no RTP port held by a worker', async () => (await hosts()).every((l) => l.up && l.legs === 0 && l.rtpPortsInUse === 0));
}

describe('media workers', () => {
  it('spread calls over both workers, carry audio and keys both ways, and report per worker', async () => {
    const placed = [await call(), await call(), await call(), await call()];
    expect(placed.map(workerOf).sort()).toEqual([0, 0, 1, 1]);
    await Promise.all(placed.map((c) => callerToneReachesBot(c, 'PCMA')));
    await Promise.all(placed.map((c) => botToneReachesCaller(c, 'PCMA')));
    await Promise.all(placed.map(keysBothWays));

    await until('a stats report from each worker with its calls', async () => {
      const loads = await hosts();
      return loads.length === 2 && loads.every((l) => l.up && l.legs === 2 && l.rtpPortsInUse === 2 && l.packets.in > 0);
    });
    const loads = await hosts();
    expect(loads.map((l) => l.name)).toEqual(['worker-0', 'worker-1']);
    // Each worker's own isolate: a few MB, far from this thread's (the bridge's main thread here, vitest's too).
    const mainHeap = getHeapStatistics().used_heap_size;
    for (const load of loads) {
      expect(load.heapUsedBytes).toBeGreaterThan(2 ** 20);
      expect(load.heapUsedBytes).toBeLessThan(mainHeap / 2);
    }
    // The workers' observations reach the metrics with their next stats report.
    await until('the key presses counted', async () => (await metrics(bridge.httpPort)).get('bridge_dtmf_total{direction="bot_to_caller"}') === 4);
    const samples = await metrics(bridge.httpPort);
    for (const name of ['worker-0', 'worker-1']) {
      expect(samples.get(`bridge_host_up{host="${name}"}`)).toBe(1);
      expect(samples.get(`bridge_host_legs{host="${name}"}`)).toBe(2);
      expect(samples.get(`bridge_host_rtp_packets_in{host="${name}"}`)).toBeGreaterThan(0);
      expect(samples.get(`bridge_host_heap_used_bytes{host="${name}"}`)).toBeGreaterThan(2 ** 20);
      expect(samples.get(`bridge_host_heap_used_bytes{host="${name}"}`)).toBeLessThan(mainHeap / 2);
    }
    expect(samples.get('bridge_dtmf_total{direction="caller_to_bot"}')).toBe(8);
    expect(samples.get('bridge_latency_seconds_count{path="caller_to_bot"}')).toBeGreaterThan(0);
    expect(samples.get('bridge_latency_seconds_count{path="bot_to_caller"}')).toBeGreaterThan(0);
    expect(samples.get('bridge_bot_connect_seconds_count')).toBe(4);

    await Promise.all(placed.map(hangUp));
    for (const c of placed) {
      const report = await reportOf(c);
      expect(report).toMatchObject({ disconnected_by: 'caller' });
      expect(report.media!.packets_in).toBeGreaterThanOrEqual(50);
      expect(report.media!.packets_out).toBeGreaterThan(30);
    }
    await waitForIdle(bridge);
  });

  it("end a dead worker's calls with BYE and the reason, keep the other's, and restart it for new calls", async () => {
    const { on: dying, others: living } = await twoCallsOnEach(0);

    await Promise.all(dying.map((c) => callerToneReachesBot(c, 'PCMA')));
    await until("worker 0's packets reported", async () => (await hosts())[0]!.packets.in >= 100);
    const packetsIn = async () => (await metrics(bridge.httpPort)).get('bridge_rtp_packets_total{direction="in"}') ?? 0;
    const before = await packetsIn();
    await pool().terminate(0);
    // A counter: the dead thread's packets stay counted.
    expect(await packetsIn()).toBeGreaterThanOrEqual(before);
    for (const c of dying) {
      c.client.send(okTo(await c.client.request('BYE')));
      const report = await reportOf(c);
      expect(report.disconnected_by).toBe('system');
      expect(report.end_reason).toMatch(/^media worker 0 stopped: .*without a stop message/);
      await c.conn.waitForClose();
      expect(c.conn.stop).toBeUndefined();
    }
    await othersGoOnAndWorkerReturns(0, living);
  });

  it("take a worker that stops answering for hung: its calls end with BYE and the reason, it is restarted", async () => {
    const { on: hung, others: living } = await twoCallsOnEach(1);
    await Promise.all([...hung, ...living].map((c) => callerToneReachesBot(c, 'PCMA')));

    // Longer than the watchdog waits: only terminating the thread ends the stall.
    pool().stall(1, STALL_MS * 4);
    for (const c of hung) {
      c.client.send(okTo(await c.client.request('BYE', STALL_MS + 4000)));
      const report = await reportOf(c);
      expect(report.disconnected_by).toBe('system');
      expect(report.end_reason).toMatch(/^media worker 1 stopped: hung: no word from it for \d+ s/);
    }
    await othersGoOnAndWorkerReturns(1, living);
  }, 30_000);
});

describe('many short calls', () => {
  it('leave no leg, port or open in either worker, however they end', async () => {
    const endings = ['caller BYE', 'bot close', 'bot drop'] as const;
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 20));
        const c = await call();
        void c.caller.send(c.bridgeRtp, 'PCMA', tone(1000, 8000, 8000), { loop: true });
        await new Promise((r) => setTimeout(r, 100 + (i % 7) * 50));
        c.caller.stop();
        const how = endings[i % endings.length]!;
        if (how === 'caller BYE') await hangUp(c);
        else {
          if (how === 'bot close') c.conn.ws.close();
          else c.conn.ws.terminate();
          c.client.send(okTo(await c.client.request('BYE', 5000)));
        }
      }),
    );
    await waitForIdle(bridge);
    await until('the workers report no port in use', async () => (await hosts()).every((l) => l.up && l.legs === 0 && l.rtpPortsInUse === 0));
  });
});

describe('a call cancelled while its bot connects', () => {
  it("aborts the open in the worker: the bot's socket is dropped and the worker's port freed", async () => {
    await cancelWhileBotConnects({ media: { workers: 2 } }, async (_result, slowBridge) => {
      const loads = () => slowBridge.stats().media;
      await until('the workers report no port in use', async () => loads().every((l) => l.up && l.legs === 0 && l.rtpPortsInUse === 0));
    });
  });
});

describe('the built bridge with media.workers: 2', () => {
  let child: BridgeProcess | undefined;
  afterAll(() => child?.kill());

  it('answers a call whose audio and keys go through a worker that logs as such, and stops cleanly', async () => {
    const started = await BridgeProcess.start({ bot: { defaultUrl: bot.url }, media: { workers: 2 } });
    child = started.bridge;
    const placed = await answeredCall(started.sip.tcp, bot, `workers-process-${Date.now()}`);
    calls.push(placed);
    await callerToneReachesBot(placed, 'PCMA');
    await botToneReachesCaller(placed, 'PCMA');
    // The worker's own log lines reach the process's stdout, saying which worker wrote them.
    await placed.caller.sendDtmf(placed.bridgeRtp, DTMF_PT, ['5'], 100);
    const logged = await started.bridge.waitForLog('caller DTMF');
    expect(logged).toMatchObject({ service: 'sip-ws-bridge', digit: '5', call_sid: placed.conn.start!.start.call_sid });
    expect([0, 1]).toContain(logged.worker);
    const loads = (await health(started.httpPort)).body.media;
    expect(loads.map((l) => [l.name, l.up])).toEqual([['worker-0', true], ['worker-1', true]]);
    await hangUp(placed);
    await placed.conn.waitForEvent('stop');
    started.bridge.signal('SIGTERM');
    expect(await started.bridge.exited).toEqual({ code: 0, signal: null });
  });
});

describe('a worker hung at shutdown', () => {
  it('does not hold the bridge up: its call gets BYE, the bridge stops once the watchdog has ended it', async () => {
    const own = await startTestBridge({ bot: { defaultUrl: bot.url }, media: { rtpPorts: RTP_PORTS, workers: 2 } });
    let stopped = false;
    try {
      const placed = await answeredCall(own.sip.tcp!, bot, `workers-hung-stop-${Date.now()}`);
      calls.push(placed);
      await callerToneReachesBot(placed, 'PCMA');
      (own.media as WorkerPool).stall(workerOf(placed), STALL_MS * 4);
      const startedAt = Date.now();
      await own.stop();
      stopped = true;
      expect(Date.now() - startedAt).toBeLessThan(STALL_MS + 5000);
      await placed.client.request('BYE', 1000);
    } finally {
      if (!stopped) await own.stop();
    }
  }, 30_000);
});
