// SIPp as the trunk an outbound call goes to (a UAS scenario, sipp-trunk-scenario.ts): run, its port, its trace.
import { createSocket } from 'node:dgram';
import net from 'node:net';
import { RtpPeer } from './rtp-peer.js';
import { runSipp, type SippResult } from './sipp.js';
import { trunkScenario, type TrunkFlow } from './sipp-trunk-scenario.js';

/** A UDP port free now, for SIPp to listen on. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Whether something listens on the port: we cannot bind it ourselves. */
async function bound(port: number, transport: 'udp' | 'tcp'): Promise<boolean> {
  if (transport === 'tcp') {
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) await new Promise<void>((resolve) => server.close(() => resolve()));
    return !free;
  }
  const socket = createSocket('udp4');
  const free = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise<void>((resolve) => socket.close(() => resolve()));
  return !free;
}

/**
 * Resolves once SIPp listens on `port`: a request sent before would meet an ICMP port unreachable (or a refused
 * connection) and end the call at once.
 */
export async function untilListening(port: number, transport: 'udp' | 'tcp' = 'udp', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await bound(port, transport))) {
    if (Date.now() > deadline) throw new Error(`SIPp not listening on ${transport} ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts SIPp as a UAS on `port` running `flow` (or a scenario file) for `calls` calls; resolves when it exits. */
export function runTrunk(
  port: number,
  flow: TrunkFlow | { readonly file: string },
  timeoutMs = 20_000,
  calls = 1,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<SippResult> {
  return runSipp({
    scenario: 'file' in flow ? flow : { xml: trunkScenario(flow) },
    transport: transport === 'tcp' ? 't1' : 'u1',
    // SIPp needs a remote address even as a UAS; it answers wherever requests come from.
    target: { host: '127.0.0.1', port: 9 },
    timeoutMs,
    extraArgs: ['-p', String(port), '-m', String(calls)],
  });
}

/** When SIPp received each request with `method` (first of each Call-ID), from its message trace, in ms. */
export function receivedAt(result: SippResult, method: string): number[] {
  const seen = new Set<string>();
  const times: number[] = [];
  const blockPattern = /^-+ (\d{4}-\d\d-\d\d) (\d\d):(\d\d):(\d\d\.\d+)\n\w+ message received[^\n]*\n\n([^\n]*)\n([\s\S]*?)(?=^-{5,}|(?![\s\S]))/gm;
  for (const [, , h, m, sec, startLine, rest] of result.messages.matchAll(blockPattern)) {
    if (!startLine!.startsWith(`${method} `)) continue;
    const callId = /^Call-ID:\s*(.*)$/im.exec(rest!)?.[1]?.trim() ?? '';
    if (seen.has(callId)) continue;
    seen.add(callId);
    times.push(((Number(h) * 60 + Number(m)) * 60 + Number(sec)) * 1000);
  }
  return times;
}

/**
 * The called party of an outbound call: an RTP peer for its audio and SIPp on a free UDP port playing `flow` to it (for
 * `calls` calls); the peer is closed by `cleanup` (run in reverse after the test).
 */
export async function calledParty(
  cleanup: Array<() => unknown>,
  flow: (rtpPort: number) => TrunkFlow | { readonly file: string },
  calls = 1,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<{ peer: RtpPeer; sipPort: number; trunk: Promise<SippResult> }> {
  const peer = await RtpPeer.open();
  cleanup.push(() => peer.close());
  const sipPort = await freeUdpPort();
  return { peer, sipPort, trunk: runTrunk(sipPort, flow(peer.port), 20_000, calls, transport) };
}
