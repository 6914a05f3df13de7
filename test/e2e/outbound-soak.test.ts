// Outbound soak: 1000 calls placed through POST /v1/calls to SIPp as the trunk, at a bounded rate and at most 50 at
// once, each ended at random by the trunk's BYE, by DELETE /v1/calls/{sid} or by the bot closing its socket. The
// bridge runs as its own process; afterwards every record is completed and the bridge holds no call, RTP port,
// dialog, transaction, socket or timer beyond its idle baseline, and its live heap and resident memory stay in bounds.
// SOAK_OUTBOUND_CALLS changes the number of calls; SOAK_SEED replays a run's endings (the seed is printed).
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot, type BotConnection } from '../helpers/bot.js';
import { idleHealth, metrics, type BridgeHealth } from '../helpers/bridge-http.js';
import { BridgeProcess } from '../helpers/bridge-process.js';
import { callApiClient, recordWhen, type CallApiClient } from '../helpers/call-api.js';
import { expectSippPassed } from '../helpers/carrier.js';
import { seededRandom } from '../helpers/random.js';
import { OK_TO_LAST, runSipp, type SippResult } from '../helpers/sipp.js';
import { freeUdpPort } from '../helpers/sipp-trunk.js';
import { CAPTURE_FROM_TO, TRUNK_BYE, trunkResponse, trunkSdp } from '../helpers/sipp-trunk-scenario.js';

const CALLS = Number(process.env.SOAK_OUTBOUND_CALLS ?? 1000);
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const AT_ONCE = 50;
/** POSTs per second at most. */
const RATE = 100;
const WARM_UP = Math.min(100, CALLS);
/** The trunk hangs up this long after the ACK unless the bridge's BYE came first; our endings come well before. */
const TRUNK_BYE_AFTER_MS = 1500;
const OUR_ENDING_WITHIN_MS = 700;
const TOKEN = 'outbound-soak-token';
/**
 * Live heap (after a full GC) may grow by at most this much once warmed up: as the inbound soak, 1 MB for code V8
 * keeps optimising and 512 bytes a call; plus the ended calls' records, which the API keeps by design (an hour, up
 * to 10,000: src/call/records.ts). Those come to about 520 bytes a call (a heap-snapshot diff over 900 calls: per
 * call 3 objects and 7 strings, the record, its store entry and its fields, and nothing else but V8's code):
 * RECORD_BYTES is twice that.
 */
const RECORD_BYTES = 1024;
const heapAllowance = (calls: number) => 2 ** 20 + (512 + RECORD_BYTES) * calls;
/**
 * Resident memory may grow by at most this much over the whole run (16 MB semi-spaces, as in production). It is not per
 * call: it levels off by about call 1000 and then creeps slowly, whatever the number of calls. Measured on Node 24
 * (idle -> end): 48 MB for 500 calls, 79-89 MB for 1000 (five runs), 85 MB for 2000, 98 and 115 MB for 3000, 99 MB for
 * 5000. smaps: V8's 256 KB pages grow 44 -> 74 MB (the 32 MB young generation kept resident, as in the inbound soak,
 * and old space left larger after the busy spells) and malloc's heap and arenas 14 -> 59 MB: the Buffers of 50 calls'
 * RTP and WebSocket audio between two GCs (up to 30 MB after a full GC, before the ArrayBuffer sweep; 4.5 MB a second
 * later), which glibc keeps for reuse. The inbound soak's 64 MB holds calls mostly one at a time; this runs 50 at once.
 */
const RSS_GROWTH_BYTES = 128 * 2 ** 20;
/**
 * Lets the test ask the bridge process for a full garbage collection (SIGUSR2), and log its live heap right after it
 * and its pending unref'd timers (as "unref timers"): /metrics' handle counts leave those timers out, and a timer that
 * outlives its call is what a call's teardown must not leave behind either; the heap read in the same turn as the GC
 * is not blurred by what the bridge allocates before a /metrics scrape.
 */
const UNREF_TIMERS = [
  'const t=setTimeout(()=>{},1),proto=Object.getPrototypeOf(t),unref=proto.unref,live=new Set();clearTimeout(t);',
  'proto.unref=function(){live.add(new WeakRef(this));return unref.call(this)};',
  'process.on("SIGUSR2",()=>{globalThis.gc();let count=0;',
  'for(const r of live){const x=r.deref();if(!x||x._destroyed)live.delete(r);else if(!x.hasRef())count++}',
  'process.stdout.write(JSON.stringify({msg:"unref timers",count,heapUsed:process.memoryUsage().heapUsed})+"\\n")})',
].join('');
const GC_ON_SIGUSR2 = ['--expose-gc', '--import', `data:text/javascript,${UNREF_TIMERS}`];

const ENDINGS = ['trunk BYE', 'DELETE', 'bot close'] as const;
type Ending = (typeof ENDINGS)[number];
const DISCONNECTED_BY: Record<Ending, string> = { 'trunk BYE': 'caller', DELETE: 'system', 'bot close': 'bot' };

/**
 * The trunk: answers every INVITE with 200 + SDP (PCMA + telephone-event, media to the test's sink); a BYE from the
 * bridge gets 200; with none within TRUNK_BYE_AFTER_MS of the ACK it sends BYE itself. A busy bridge may read the 200
 * after its INVITE's retransmission timer has fired: SIPp takes such an INVITE for an unexpected message and drops
 * the call (the bridge then holds it until its BYE, or for ever if the trunk was to hang up), so the scenario
 * swallows retransmitted INVITEs until the ACK.
 */
const trunkScenario = (rtpPort: number) => `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="outbound soak trunk">
  <recv request="INVITE" rrs="true">
    <action>${CAPTURE_FROM_TO}
    </action>
  </recv>${trunkResponse('100 Trying')}${trunkResponse('200 OK', '', trunkSdp(rtpPort))}
  <label id="await_ack"/>
  <recv request="INVITE" optional="true" next="await_ack"/>
  <recv request="ACK"/>
  <recv request="BYE" timeout="${TRUNK_BYE_AFTER_MS}" ontimeout="trunk_bye"/>${OK_TO_LAST.replace('<send>', '<send next="done">')}
  <label id="trunk_bye"/>${TRUNK_BYE}
  <label id="done"/>
  <timewait milliseconds="200"/>
</scenario>
`;

describe('outbound soak', () => {
  const rand = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const counts: Record<Ending, number> = { 'trunk BYE': 0, DELETE: 0, 'bot close': 0 };
  let bot: TestBot;
  let sink: Socket;
  let sinkPackets = 0;
  let trunk: Promise<SippResult>;
  let api: CallApiClient;
  let started: Awaited<ReturnType<typeof BridgeProcess.start>>;

  beforeAll(async () => {
    console.log(`outbound soak: SOAK_SEED=${SEED}`);
    bot = await TestBot.start();
    sink = createSocket('udp4');
    sink.on('message', () => sinkPackets++);
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve()));
    const sipPort = await freeUdpPort();
    trunk = runSipp({
      scenario: { xml: trunkScenario(sink.address().port) },
      transport: 'u1',
      target: { host: '127.0.0.1', port: 9 },
      timeoutMs: 150_000,
      // No message trace: 1000 calls' worth would only slow SIPp down; errors are still logged.
      extraArgs: ['-p', String(sipPort), '-m', String(CALLS), '-trace_msg', '-message_file', '/dev/null'],
    });
    started = await BridgeProcess.start(
      {
        // Small timers, so the INVITE client's Accepted state (64*T1 = 9.6 s) and Timer K end soon after the last call.
        sip: { timers: { t1: 150, t2: 400, t4: 200 } },
        bot: { defaultUrl: bot.url, drainTimeoutMs: 500 },
        api: { token: TOKEN },
        // The heap and memory bounds are one event loop's (SIGUSR2 collects the main thread's garbage only, and each
        // media worker's event loop keeps a spare fd of its own from its first TCP socket on): media in this thread.
        media: { workers: 0 },
        trunks: [{ name: 'sipp', uri: `sip:127.0.0.1:${sipPort};transport=udp`, callsPerSecond: 1000, maxConcurrentCalls: 1000 }],
      },
      GC_ON_SIGUSR2,
    );
    api = callApiClient(started.httpPort, TOKEN);
  });
  afterAll(async () => {
    await started?.bridge.kill();
    await bot?.close();
    sink?.close();
  });

  /** One call: placed, started at the bot, some bot audio towards the trunk, then ended at random. */
  async function outboundCall(n: number): Promise<void> {
    const placed = await api('POST', '/v1/calls', { to: '+919876543210', from: '+912261234567', bot_url: `${bot.url}?n=${n}` });
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    const sid = placed.body.call_sid as string;
    const conn: BotConnection = await bot.connectionWhere((c) => c.url.searchParams.get('n') === String(n), `call ${n}'s connection`, 15_000);
    await conn.waitForEvent('start', 15_000);
    if (rand() < 0.5) conn.sendAudio(toneBytesPcm16le(600, 8000, 20 + Math.floor(rand() * 80)));
    const how = pick(ENDINGS);
    counts[how]++;
    if (how !== 'trunk BYE') {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * OUR_ENDING_WITHIN_MS)));
      if (how === 'DELETE') expect((await api('DELETE', `/v1/calls/${sid}`)).status).toBe(202);
      else conn.ws.close(1000, 'done');
    }
    await conn.waitForClose(10_000).catch(async (err: Error) => {
      const { body } = await api('GET', `/v1/calls/${sid}`);
      throw new Error(`call ${n} (${how}, ${sid}, ${JSON.stringify(body)}): ${err.message.slice(0, 200)}`);
    });
    const record = await recordWhen(api, sid, (r) => r.ended_at !== null, 'end', 10_000);
    expect(record, `call ${n} (${how})`).toMatchObject({ status: 'completed', sip_status: 200, direction: 'outbound', disconnected_by: DISCONNECTED_BY[how] });
    bot.connections.splice(bot.connections.indexOf(conn), 1);
  }

  /** Calls `from`..`to`-1, at most AT_ONCE at a time and RATE a second. */
  async function placeCalls(from: number, to: number): Promise<void> {
    let next = from;
    let slot = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(AT_ONCE, to - from) }, async () => {
        while (next < to) {
          const n = next++;
          const at = (slot = Math.max(slot + 1000 / RATE, Date.now()));
          await new Promise((resolve) => setTimeout(resolve, at - Date.now()));
          await outboundCall(n);
        }
      }),
    );
  }

  const settled = (): Promise<BridgeHealth> => idleHealth(started.httpPort, 20_000);

  /** Process-wide counts from /metrics after a full GC: live heap, RSS, open fds, and handles by type. */
  async function footprint(): Promise<{ heap: number; rss: number; fds: number; newSpace: number; unrefTimers: number; resources: Record<string, number> }> {
    const counted = started.bridge.logs.filter((line) => line.msg === 'unref timers').length;
    started.bridge.signal('SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const timerCounts = started.bridge.logs.filter((line) => line.msg === 'unref timers');
    expect(timerCounts.length, 'the bridge counted its timers').toBe(counted + 1);
    const m = await metrics(started.httpPort);
    const resources: Record<string, number> = {};
    for (const [sample, value] of m) {
      const type = /^nodejs_active_resources\{type="(\w+)"\}$/.exec(sample)?.[1];
      if (type) resources[type] = value;
    }
    return {
      heap: timerCounts.at(-1)!.heapUsed as number,
      rss: m.get('process_resident_memory_bytes')!,
      fds: m.get('process_open_fds')!,
      newSpace: m.get('nodejs_heap_space_size_total_bytes{space="new"}')!,
      unrefTimers: timerCounts.at(-1)!.count as number,
      resources,
    };
  }

  it(`places ${CALLS} outbound calls, ${AT_ONCE} at once, ended at random, and returns to idle`, { timeout: 240_000 }, async () => {
    const idle = await footprint();
    await placeCalls(0, WARM_UP);
    await settled();
    const warm = await footprint();

    const t0 = Date.now();
    await placeCalls(WARM_UP, CALLS);
    const runMs = Date.now() - t0;

    const after = await settled();
    expect(after).toMatchObject({ activeCalls: 0, rtpPortsInUse: 0, clockListeners: 0, sip: { dialogs: 0, pendingInvites: 0, transactions: 0, connections: 0 } });
    const end = await footprint();
    expectSippPassed(await trunk);
    const calls = CALLS - WARM_UP;
    console.log(
      `outbound soak: ${CALLS} calls (${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}), ` +
        `${calls} after warm-up in ${(runMs / 1000).toFixed(1)} s (${Math.round((calls * 1000) / (runMs || 1))} calls/s); bot audio packets at the trunk ${sinkPackets}; ` +
        `heap ${mb(idle.heap)} -> ${mb(warm.heap)} -> ${mb(end.heap)} (${Math.round((end.heap - warm.heap) / (calls || 1))} B/call), ` +
        `rss ${mb(idle.rss)} -> ${mb(warm.rss)} -> ${mb(end.rss)} (new space ${mb(idle.newSpace)} -> ${mb(end.newSpace)}), fds ${idle.fds} -> ${end.fds}, unref'd timers ${idle.unrefTimers} -> ${warm.unrefTimers} -> ${end.unrefTimers}, ` +
        `handles ${JSON.stringify(idle.resources)} -> ${JSON.stringify(end.resources)}`,
    );
    expect(end.fds).toBe(idle.fds);
    expect(end.resources).toEqual(idle.resources);
    expect(end.unrefTimers).toBeLessThanOrEqual(idle.unrefTimers);
    expect(end.heap - warm.heap).toBeLessThan(heapAllowance(calls));
    expect(end.rss - idle.rss).toBeLessThan(RSS_GROWTH_BYTES);
    expect(sinkPackets).toBeGreaterThan(0);
    if (CALLS >= 100) expect(Object.values(counts).every((n) => n > 0)).toBe(true);
  });
});

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
