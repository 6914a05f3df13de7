// SIPp as a trunk for the drachtio dial tests (test/sipp/drachtio-trunk-*.xml, UDP on loopback), and readers of
// what an outbound call reported and what SIPp saw.
import { expect } from 'vitest';
import type { DialFailure, DialRequest, Dialog, OutgoingCall } from '../../src/signaling/index.js';
import { freeTcpPort } from './drachtio-server.js';
import { runSipp, tracedMessages, type SippResult } from './sipp.js';
import { untilListening } from './sipp-trunk.js';

export const OFFER = [
  'v=0',
  'o=bridge 1 1 IN IP4 127.0.0.1',
  's=sip-ws-bridge',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 8 0 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

export function request(trunkPort: number, extra: Partial<DialRequest> = {}): DialRequest {
  return {
    uri: 'sip:+919876543210@pstn.example.com',
    proxy: `sip:127.0.0.1:${trunkPort}`,
    from: { user: '+918041234567', host: 'bridge.example.com', displayName: 'Sales "Bot"' },
    headers: [
      ['X-UUI', 'ticket-991'],
      ['X-Call-Sid', 'CA0001'],
    ],
    sdp: OFFER,
    ...extra,
  };
}

/** SIPp as the trunk, listening on a free port once this resolves. */
export async function trunk(
  scenario: string,
  sipTarget: { host: string; port: number },
  transport: 'udp' | 'tcp' = 'udp',
): Promise<{ port: number; done: Promise<SippResult> }> {
  const port = await freeTcpPort();
  const done = runSipp({
    scenario: { file: `test/sipp/${scenario}` },
    transport: transport === 'udp' ? 'u1' : 't1',
    target: sipTarget,
    timeoutMs: 15_000,
    extraArgs: ['-p', String(port)],
  });
  await untilListening(port, transport);
  return { port, done };
}

export type Outcome = { answered: { dialog: Dialog; sdp: string } } | { failed: DialFailure };

export function watch(call: OutgoingCall): { progress: Array<[number, string, string | undefined]>; outcome: Promise<Outcome> } {
  const progress: Array<[number, string, string | undefined]> = [];
  call.on('progress', (status, reason, sdp) => progress.push([status, reason, sdp]));
  const outcome = new Promise<Outcome>((resolve, reject) => {
    call.once('answered', (dialog, sdp) => resolve({ answered: { dialog, sdp } }));
    call.once('failed', (failed) => resolve({ failed }));
    setTimeout(() => reject(new Error('no outcome within 10 s')), 10_000).unref();
  });
  return { progress, outcome };
}

export async function answered(outcome: Promise<Outcome>): Promise<{ dialog: Dialog; sdp: string }> {
  const result = await outcome;
  if (!('answered' in result)) throw new Error(`failed: ${JSON.stringify(result.failed)}`);
  return result.answered;
}

export function expectPassed(result: SippResult): void {
  expect(result.code, `SIPp failed:\n${result.stderr}\n${result.errors}\n${result.messages}`).toBe(0);
}

/** The traced messages whose first line matches. */
export function lines(result: SippResult, firstLine: RegExp): string[] {
  return tracedMessages(result).filter((m) => firstLine.test(m.split(/\r?\n/)[0]!));
}

export function header(message: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(message)?.[1]?.trim();
}
