// The RTP the callers get, as the kernel sees it leave on the loopback interface: dumpcap captures the headers of
// every packet toward the callers' media ports for the measured window; each call's stream is then checked for
// missing frames and for the spacing of its packets. Timestamps are the kernel's, taken as the packet is sent, so a
// busy machine does not add the capturer's own delays to the jitter.
import { readFileSync } from 'node:fs';
import { start, within } from './processes.js';
import { udpPackets } from './pcap-file.js';

/** Ethernet + IPv4 + UDP + RTP headers: all the capture needs to keep of a packet. */
const SNAPLEN = 64;
const FRAME_US = 20_000;
const FRAME_SAMPLES = 160;
const G711_PAYLOAD_TYPES = new Set([0, 8]);

export interface CaptureResult {
  /** Packets the kernel or dumpcap dropped: when not 0, the loss and jitter figures are not complete. */
  readonly dropped: number;
}

/**
 * Captures `filter` (a BPF expression) on lo into `file`; resolves once dumpcap is capturing. stop() ends the
 * capture; dumpcap ends it by itself after `maxSeconds` in any case.
 */
export async function startCapture(file: string, filter: string, maxSeconds: number): Promise<{ pid: number; stop(): Promise<CaptureResult> }> {
  const dumpcap = start('dumpcap', 'dumpcap', ['-i', 'lo', '-f', filter, '-s', String(SNAPLEN), '-B', '64', '-P', '-q', '-a', `duration:${Math.ceil(maxSeconds)}`, '-w', file]);
  await within(10_000, 'dumpcap start', waitForCapturing(dumpcap.child.stderr!, dumpcap.exited)).catch(async (err: Error) => {
    await dumpcap.stop('SIGKILL');
    throw new Error(`${err.message}: ${dumpcap.stderr()}`);
  });
  return {
    pid: dumpcap.pid,
    async stop() {
      // SIGINT: dumpcap writes what it has and prints its counts, as on Ctrl-C.
      await dumpcap.stop('SIGINT', 10_000);
      const { code } = await dumpcap.exited;
      const stderr = dumpcap.stderr();
      if (code !== 0) throw new Error(`dumpcap exited with ${code}: ${stderr}`);
      const counts = /received\/dropped on interface '[^']*': (\d+)\/(\d+)/.exec(stderr);
      return { dropped: counts ? Number(counts[2]) : Number.NaN };
    },
  };
}

function waitForCapturing(stderr: NodeJS.ReadableStream, exited: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('Capturing on')) resolve();
    });
    void exited.then(() => reject(new Error('dumpcap exited before capturing')));
  });
}

export interface StreamReport {
  /** Streams (one per call) seen in the capture. */
  readonly streams: number;
  /** Frames the callers should have got in the window: each stream's RTP timestamp span / 160 + 1. */
  readonly expected: number;
  readonly received: number;
  readonly lossPercent: number;
  /** |interval - 20 ms| between consecutive packets of a stream, in ms. */
  readonly jitterMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** Per stream: RTP timestamps extended past their 32-bit wrap, and the last packet seen. */
interface StreamState {
  firstTimestamp: number;
  lastTimestamp: number;
  lastRawTimestamp: number;
  lastSequence: number;
  lastAtUs: number;
  received: number;
}

/** Bins of 10 µs up to 1 s, and one for everything beyond. */
const BIN_US = 10;
const BINS = 100_000;

/** Reads a capture and measures each stream, a stream being a sender port's packets. */
export function analyseStreams(file: string): StreamReport {
  const streams = new Map<number, StreamState>();
  const deviations = new Uint32Array(BINS + 1);
  let intervals = 0;
  let maxDeviationUs = 0;
  for (const packet of udpPackets(readFileSync(file))) {
    const rtp = packet.payload;
    if (rtp.length < 12 || rtp[0]! >> 6 !== 2 || !G711_PAYLOAD_TYPES.has(rtp[1]! & 0x7f)) continue;
    const sequence = rtp.readUInt16BE(2);
    const timestamp = rtp.readUInt32BE(4);
    const stream = streams.get(packet.srcPort);
    if (!stream) {
      streams.set(packet.srcPort, { firstTimestamp: timestamp, lastTimestamp: timestamp, lastRawTimestamp: timestamp, lastSequence: sequence, lastAtUs: packet.atUs, received: 1 });
      continue;
    }
    // A signed 32-bit step, so that the count survives the timestamp's wrap (and a reordered packet steps back).
    stream.lastTimestamp += (timestamp - stream.lastRawTimestamp) | 0;
    stream.lastRawTimestamp = timestamp;
    if (sequence === ((stream.lastSequence + 1) & 0xffff)) {
      const deviationUs = Math.abs(packet.atUs - stream.lastAtUs - FRAME_US);
      deviations[Math.min(BINS, Math.floor(deviationUs / BIN_US))]!++;
      intervals++;
      maxDeviationUs = Math.max(maxDeviationUs, deviationUs);
    }
    stream.lastSequence = sequence;
    stream.lastAtUs = packet.atUs;
    stream.received++;
  }
  let expected = 0;
  let received = 0;
  for (const stream of streams.values()) {
    expected += Math.max(stream.received, Math.round((stream.lastTimestamp - stream.firstTimestamp) / FRAME_SAMPLES) + 1);
    received += stream.received;
  }
  const quantileMs = (q: number) => {
    if (intervals === 0) return Number.NaN;
    const rank = Math.ceil(q * intervals);
    let seen = 0;
    for (let bin = 0; bin <= BINS; bin++) {
      seen += deviations[bin]!;
      if (seen >= rank) return bin === BINS ? maxDeviationUs / 1000 : ((bin + 1) * BIN_US) / 1000;
    }
    return maxDeviationUs / 1000;
  };
  return {
    streams: streams.size,
    expected,
    received,
    lossPercent: expected ? (100 * (expected - received)) / expected : Number.NaN,
    jitterMs: { p50: quantileMs(0.5), p99: quantileMs(0.99), max: maxDeviationUs / 1000 },
  };
}
