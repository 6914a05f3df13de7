// Outbound calls: one bridge with an API token and one trunk, SIPp as that trunk (a UAS answering every INVITE with
// 200 + PCMA/telephone-event, holding the call HOLD_MS, then BYE), and the bench placing calls through
// POST /v1/calls at one rate after another. A bot in the bench process sends a burst of tone the moment it gets
// `start`; the trunk's SDP sends the bridge's RTP to a UDP socket of the bench process. Per rate it reports the
// outbound setups per second (bot `start`s, and SIPp's successful calls) and the time from the trunk's 200 OK (SIPp's
// message trace) to the first RTP packet carrying the bot's audio at the trunk's media address.
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { trunkScenario } from '../test/helpers/sipp-trunk-scenario.js';
import { startBridge } from './bridge-process.js';
import { HOST, freeUdpPort } from './ports.js';
import { cpuPercent, machinePercent, readCpu, readMachine } from './proc-stats.js';
import { sleep, start, within } from './processes.js';
import { removeScratchDir, scratchDir } from './scratch.js';

export const OUTBOUND_TOKEN = 'bench-outbound-token';
/** How long the trunk keeps each answered call before its BYE (BENCH_OUTBOUND_HOLD_MS changes it). */
export const HOLD_MS = Number(process.env.BENCH_OUTBOUND_HOLD_MS ?? 2000);
/** Under this share of failed calls, with the setups done at 90 % of the rate or more, a rate is sustained. */
const MAX_FAILED_PERCENT = 1;
const MIN_ACHIEVED_SHARE = 0.9;
/** 100 ms of a 1 kHz tone, PCM16LE at 8 kHz: what the bot sends at `start`. */
const BOT_BURST = (() => {
  const samples = new Int16Array(800);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
  return Buffer.from(samples.buffer).toString('base64');
})();

export interface Quantiles {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface OutboundRateResult {
  readonly rate: number;
  readonly posted: number;
  /** POSTs answered 201. */
  readonly accepted: number;
  /** Bot `start`s (the call answered, ACKed, and the bot told). */
  readonly started: number;
  /** `start`s per second, from the first POST to the last `start` of the rate. */
  readonly setupsPerSecond: number;
  /** SIPp's count of calls that went through its whole scenario, and of those that failed. */
  readonly sippSuccessful: number;
  readonly sippFailed: number;
  /** POST sent -> bot `start`, ms. */
  readonly postToStartMs: Quantiles;
  /** 200 OK sent by the trunk -> first RTP packet with the bot's audio at the trunk, ms; and its two parts. */
  readonly okToFirstFrameMs: Quantiles;
  /** 200 OK sent -> `start` at the bot (ACK and `start`), and `start` -> first RTP with the bot's audio (the bot's reply and the bridge's 20 ms clock). */
  readonly okToStartMs: Quantiles;
  readonly startToFrameMs: Quantiles;
  readonly failedPercent: number;
  readonly bridgeCpuPercent: number;
  /** The bench process (API client, bot, RTP sink), SIPp, and the whole machine (200 = both cores of two). */
  readonly benchCpuPercent: number;
  readonly sippCpuPercent: number;
  readonly machineCpuPercent: number;
  /** Most calls up at the bridge at once (sampled from /health). */
  readonly peakCalls: number;
  readonly sustained: boolean;
}

export interface OutboundResult {
  /** The bridge's `media.workers` (undefined: its default). */
  readonly workers?: number;
  readonly rates: OutboundRateResult[];
  readonly maxSustained: number;
  readonly problems: Map<string, number>;
}

const now = () => performance.timeOrigin + performance.now();

function quantiles(values: number[]): Quantiles {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

/** The bot: sends BOT_BURST at `start`, notes when each call's `start` came; ignores the caller's audio. */
async function startBurstBot(): Promise<{ url: string; starts: Map<string, number>; startsByN: Map<string, number>; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: HOST, port: 0, path: '/media', perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const starts = new Map<string, number>();
  const startsByN = new Map<string, number>();
  server.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      // Most messages are the caller's media (silence here): skip those without parsing them.
      if (data.length > 40 && data.subarray(0, 40).includes('"media"')) return;
      const message = JSON.parse(data.toString()) as { event?: string; stream_sid?: string; start?: { call_sid?: string; custom_parameters?: { n?: string } } };
      if (message.event !== 'start') return;
      const at = now();
      starts.set(message.start?.call_sid ?? '', at);
      startsByN.set(message.start?.custom_parameters?.n ?? '', at);
      ws.send(JSON.stringify({ event: 'media', stream_sid: message.stream_sid, media: { payload: BOT_BURST } }));
    });
    ws.on('error', () => ws.terminate());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://${HOST}:${port}/media`,
    starts,
    startsByN,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** PCMA silence and near-silence: the bridge's frames when the bot is quiet. */
const QUIET = new Set([0xd5, 0x55, 0xd4, 0x54, 0xd7, 0x57]);

/** The trunk's media address: per bridge RTP port, when packets with audio (not silence) came. */
async function startRtpSink(): Promise<{ port: number; audioAt: Map<number, number[]>; close(): void }> {
  const socket = createSocket('udp4');
  const audioAt = new Map<number, number[]>();
  socket.on('message', (packet, from) => {
    // After the RTP header of 12 bytes: any sample of the first 40 that is not silence (the tone has zero crossings).
    let audio = false;
    for (let i = 12; i < Math.min(packet.length, 52) && !audio; i++) audio = !QUIET.has(packet[i]!);
    if (!audio) return;
    let times = audioAt.get(from.port);
    if (!times) audioAt.set(from.port, (times = []));
    times.push(now());
  });
  await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()));
  socket.setRecvBufferSize(8 * 2 ** 20);
  return { port: socket.address().port, audioAt, close: () => socket.close() };
}

/**
 * From SIPp's message trace: per Call-ID, the bridge's RTP port (its INVITE's SDP), the bench's number of the call
 * (X-Bench-N, from the POST's headers) and when the 200 OK was sent.
 */
function okTimes(trace: string): Map<string, { rtpPort: number; n: string; okAt: number }> {
  const calls = new Map<string, { rtpPort: number; n: string; okAt: number }>();
  const ports = new Map<string, number>();
  const numbers = new Map<string, string>();
  for (const block of trace.split(/^-{5,} /m)) {
    const stamp = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)/.exec(block);
    if (!stamp) continue;
    const callId = /^Call-ID:\s*(\S+)/im.exec(block)?.[1];
    if (!callId) continue;
    if (/message received[^\n]*\n\s*INVITE /.test(block)) {
      const port = /^m=audio (\d+)/m.exec(block)?.[1];
      if (port) ports.set(callId, Number(port));
      numbers.set(callId, /^X-Bench-N:\s*(\S+)/im.exec(block)?.[1] ?? '');
    } else if (/message sent[^\n]*\n\s*SIP\/2\.0 200 OK/.test(block) && /^CSeq:\s*\d+ INVITE/im.test(block) && !calls.has(callId)) {
      // SIPp writes its local time; the bench runs with it (TZ of the same machine).
      const at = new Date(`${stamp[1]}T${stamp[2]!.slice(0, 12)}`).getTime() + Number(`0.${stamp[2]!.split('.')[1]!.slice(3) || '0'}`);
      calls.set(callId, { rtpPort: ports.get(callId) ?? 0, n: numbers.get(callId) ?? '', okAt: at });
    }
  }
  return calls;
}

/** SIPp's last -trace_stat row, as name -> value. */
function lastStat(file: string): Map<string, string> {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const names = lines[0]!.split(';');
  const values = lines.at(-1)!.split(';');
  return new Map(names.map((name, i) => [name, values[i] ?? '']));
}

async function post(httpPort: number, body: object): Promise<{ status: number; sid?: string }> {
  const res = await fetch(`http://${HOST}:${httpPort}/v1/calls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OUTBOUND_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as { call_sid?: string };
  return { status: res.status, ...(json.call_sid && { sid: json.call_sid }) };
}

export async function runOutbound(rates: readonly number[], secondsPerRate: number, workers?: number): Promise<OutboundResult> {
  const dir = scratchDir('outbound');
  const bot = await startBurstBot();
  const sink = await startRtpSink();
  const trunkPort = await freeUdpPort();
  const maxCalls = Math.ceil(Math.max(...rates) * (secondsPerRate + HOLD_MS / 1000 + 5));
  const bridge = await startBridge(dir, bot.url, maxCalls, {
    extra: {
      api: { token: OUTBOUND_TOKEN },
      trunks: [{ name: 'sipp', uri: `sip:${HOST}:${trunkPort};transport=udp`, callsPerSecond: 1000 }],
    },
    ...(workers !== undefined && { workers }),
  });
  const results: OutboundRateResult[] = [];
  let sipp: ReturnType<typeof start> | undefined;
  try {
    return await within(rates.length * (secondsPerRate + HOLD_MS / 1000 + 60) * 1000, 'outbound run', (async () => {
      for (const rate of rates) {
        const calls = Math.round(rate * secondsPerRate);
        const rateDir = join(dir, `rate-${rate}`);
        mkdirSync(rateDir, { recursive: true });
        const scenarioFile = join(rateDir, 'trunk.xml');
        writeFileSync(scenarioFile, trunkScenario({ kind: 'answer-hangup', rtpPort: sink.port, afterMs: HOLD_MS, ring: false }));
        const statFile = join(rateDir, 'stat.csv');
        const traceFile = join(rateDir, 'messages.log');
        sipp = start('sipp', 'sipp', [
          `${HOST}:9`,
          '-sf', scenarioFile,
          '-t', 'u1',
          '-i', HOST,
          '-p', String(trunkPort),
          '-m', String(calls),
          '-nostdin',
          '-recv_timeout', '10000',
          '-timeout', `${secondsPerRate + 40}s`,
          '-trace_stat', '-stf', statFile, '-fd', '1',
          '-trace_msg', '-message_file', traceFile,
          '-trace_err', '-error_file', join(rateDir, 'errors.log'),
        ], { cwd: rateDir });
        await sleep(500);
        const before = readCpu(bridge.pid);
        const sippBefore = readCpu(sipp.pid);
        const machineBefore = readMachine();
        const benchBefore = process.cpuUsage();
        const wallBefore = now();
        let peakCalls = 0;
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            peakCalls = Math.max(peakCalls, await bridge.activeCalls().catch(() => 0));
            await sleep(250);
          }
        })();
        const placed: Array<{ at: number; sid?: string; status: number }> = [];
        const t0 = now();
        const posts: Array<Promise<void>> = [];
        for (let i = 0; i < calls; i++) {
          const due = t0 + (i * 1000) / rate;
          const wait = due - now();
          if (wait > 1) await sleep(wait);
          const at = now();
          posts.push(
            post(bridge.httpPort, { to: '+919876543210', from: '+912261234567', custom_parameters: { n: `${rate}-${i}` }, headers: { 'X-Bench-N': `${rate}-${i}` } }).then(
              (answer) => void placed.push({ at, status: answer.status, ...(answer.sid && { sid: answer.sid }) }),
              () => void placed.push({ at, status: 0 }),
            ),
          );
        }
        await Promise.all(posts);
        // Every accepted call started, or 10 s past the last POST.
        const deadline = now() + 10_000;
        while (placed.some((p) => p.sid && !bot.starts.has(p.sid)) && now() < deadline) await sleep(50);
        const cpu = cpuPercent(before, readCpu(bridge.pid));
        const sippCpu = cpuPercent(sippBefore, readCpu(sipp.pid));
        const machineCpu = machinePercent(machineBefore, readMachine());
        const benchUsage = process.cpuUsage(benchBefore);
        const benchCpu = (100 * (benchUsage.user + benchUsage.system)) / 1000 / (now() - wallBefore);
        sampling = false;
        await sampler;
        await within((secondsPerRate + 45) * 1000, 'SIPp', sipp.exited);
        const stat = lastStat(statFile);
        const accepted = placed.filter((p) => p.status === 201);
        const startTimes = accepted.map((p) => bot.starts.get(p.sid!)).filter((t): t is number => t !== undefined);
        const lastStart = Math.max(...startTimes);
        const setupsPerSecond = startTimes.length / ((lastStart - t0) / 1000);
        const oks = okTimes(readFileSync(traceFile, 'utf8'));
        if (process.env.BENCH_DEBUG) process.stderr.write(`debug: ${oks.size} 200s, first ${JSON.stringify([...oks].slice(0, 2))}, sink ports ${[...sink.audioAt.keys()].slice(0, 5).join(',')} first ${JSON.stringify([...sink.audioAt].slice(0, 2))}\n${readFileSync(traceFile, 'utf8').slice(0, 1500)}\n`);
        const firstFrame: number[] = [];
        const okToStart: number[] = [];
        const startToFrame: number[] = [];
        for (const { rtpPort, n, okAt } of oks.values()) {
          const at = sink.audioAt.get(rtpPort)?.find((t) => t >= okAt - 5 && t < okAt + HOLD_MS);
          const started = bot.startsByN.get(n);
          firstFrame.push(at === undefined ? Number.NaN : at - okAt);
          okToStart.push(started === undefined ? Number.NaN : started - okAt);
          startToFrame.push(started === undefined || at === undefined ? Number.NaN : at - started);
        }
        sink.audioAt.clear();
        const successful = Number(stat.get('SuccessfulCall(C)'));
        const failedPercent = (100 * (calls - startTimes.length)) / calls;
        const result: OutboundRateResult = {
          rate,
          posted: calls,
          accepted: accepted.length,
          started: startTimes.length,
          setupsPerSecond,
          sippSuccessful: successful,
          sippFailed: Number(stat.get('FailedCall(C)')),
          postToStartMs: quantiles(accepted.map((p) => (bot.starts.get(p.sid!) ?? Number.NaN) - p.at)),
          okToFirstFrameMs: quantiles(firstFrame),
          okToStartMs: quantiles(okToStart),
          startToFrameMs: quantiles(startToFrame),
          failedPercent,
          bridgeCpuPercent: cpu,
          benchCpuPercent: benchCpu,
          sippCpuPercent: sippCpu,
          machineCpuPercent: machineCpu,
          peakCalls,
          sustained: failedPercent < MAX_FAILED_PERCENT && setupsPerSecond >= MIN_ACHIEVED_SHARE * rate,
        };
        results.push(result);
        process.stderr.write(
          `  outbound ${rate}/s: ${result.started}/${calls} started, ${setupsPerSecond.toFixed(0)} setups/s, SIPp ${successful} ok / ${result.sippFailed} failed, ` +
            `200→first bot frame p50/p99 ${result.okToFirstFrameMs.p50.toFixed(1)}/${result.okToFirstFrameMs.p99.toFixed(1)} ms (n=${result.okToFirstFrameMs.n}; 200→start ${result.okToStartMs.p50.toFixed(1)}/${result.okToStartMs.p99.toFixed(1)}, start→frame ${result.startToFrameMs.p50.toFixed(1)}/${result.startToFrameMs.p99.toFixed(1)}), ` +
            `POST→start p50/p99 ${result.postToStartMs.p50.toFixed(1)}/${result.postToStartMs.p99.toFixed(1)} ms, CPU % bridge ${cpu.toFixed(0)} / bench ${benchCpu.toFixed(0)} / SIPp ${sippCpu.toFixed(0)} / machine ${machineCpu.toFixed(0)}, peak calls ${peakCalls}\n`,
        );
        bot.starts.clear();
        bot.startsByN.clear();
        if (!result.sustained) break;
        const idleBy = Date.now() + 15_000;
        while ((await bridge.activeCalls()) > 0 && Date.now() < idleBy) await sleep(200);
      }
      const passed = results.filter((r) => r.sustained).map((r) => r.rate);
      return { ...(workers !== undefined && { workers }), rates: results, maxSustained: passed.length ? Math.max(...passed) : 0, problems: bridge.logSummary() };
    })());
  } finally {
    await sipp?.stop('SIGKILL');
    await bridge.stop().catch(() => {});
    await bot.close();
    sink.close();
    removeScratchDir(dir);
  }
}
