// A carrier call in one step: SIPp places it, the test gets the bot's side of it, and SIPp's own words on failure.
import { expect } from 'vitest';
import type { BotConnection, TestBot } from './bot.js';
import type { RtpPeer } from './rtp-peer.js';
import { runSipp, type SippResult, type SippRun } from './sipp.js';

export interface CarrierCall {
  /** The bridge's connection to the bot for this call. */
  readonly conn: BotConnection;
  /** Settles when SIPp exits. */
  readonly sipp: Promise<SippResult>;
}

/** Places a call with SIPp and waits until the bridge has dialled the bot; fails with SIPp's output if SIPp ends first. */
export async function placeCall(bot: TestBot, run: SippRun): Promise<CarrierCall> {
  const index = bot.connections.length;
  const sipp = runSipp(run);
  const ended = sipp.then((r): never => {
    throw new Error(`SIPp exited (${r.code}) before the bridge reached the bot:\n${r.stderr}\n${r.errors}\n${r.messages}`);
  });
  ended.catch(() => {});
  const conn = await Promise.race([bot.connection(index), ended]);
  return { conn, sipp };
}

export function expectSippPassed(result: SippResult): void {
  expect(result.code, `SIPp failed:\n${result.stderr}\n${result.errors}\n${result.messages}`).toBe(0);
}

/** The bridge's RTP address: where its first packet to the caller's media leg came from (symmetric RTP). */
export async function bridgeRtpAddress(peer: RtpPeer, timeoutMs = 5000): Promise<{ address: string; port: number }> {
  const deadline = Date.now() + timeoutMs;
  while (peer.received.length === 0) {
    if (Date.now() > deadline) throw new Error('no RTP from the bridge');
    await new Promise((r) => setTimeout(r, 5));
  }
  const [address, port] = peer.received[0]!.from.split(':');
  return { address: address!, port: Number(port) };
}
