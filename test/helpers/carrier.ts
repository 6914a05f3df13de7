// A carrier call in one step: SIPp (or a bare SIP client) places it, the test gets the bot's side of it, and SIPp's
// own words on failure.
import { expect, vi } from 'vitest';
import type { G711Codec } from '../../src/media/g711.js';
import type { SipMessage, SipResponse } from '../../src/signaling/message.js';
import { dominantFrequency, longestToneRun, pcm16leToSamples, tone, toneBytesPcm16le } from './audio.js';
import type { BotConnection, TestBot } from './bot.js';
import { RtpPeer } from './rtp-peer.js';
import { SipTestClient } from './sip-client.js';
import { exotelInvite, inDialogRequest, sdpOffer, type InviteOptions } from './sip-messages.js';
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

/** A call a bare SIP client placed over TCP and ACKed, with its media leg and the bot's side. */
export interface AnsweredCall {
  readonly client: SipTestClient;
  readonly caller: RtpPeer;
  /** The bridge's 200 OK to the INVITE. */
  readonly ok: SipResponse;
  readonly conn: BotConnection;
  /** Where the bridge takes the caller's RTP, from its SDP answer. */
  readonly bridgeRtp: { readonly address: string; readonly port: number };
  /** Closes the client's SIP connection and media socket. */
  close(): void;
}

/**
 * Dials the bridge's TCP listener like the carrier does; resolves once the call is answered and the bot has `start`.
 * The INVITE carries `X-Test-Call: <callId>` to tell this call's bot connection from others placed at the same time.
 */
export async function answeredCall(
  sipTcp: { host: string; port: number },
  bot: TestBot,
  callId: string,
  headers?: InviteOptions['headers'],
  callSid?: string,
): Promise<AnsweredCall> {
  const client = await SipTestClient.open('tcp', sipTcp);
  const caller = await RtpPeer.open();
  const close = () => {
    client.close();
    caller.close();
  };
  try {
    const sdp = sdpOffer({ port: caller.port });
    const tagged: InviteOptions['headers'] = [['X-Test-Call', callId], ...(headers ?? [])];
    client.send(exotelInvite({ callId, branch: `z9hG4bK-${callId}`, port: sipTcp.port, localPort: client.localPort, sdp, headers: tagged, ...(callSid && { callSid }) }));
    const ok = await client.response(200, 'INVITE');
    client.send(inDialogRequest('ACK', client, ok, 1));
    const answer = ok.body.toString();
    const bridgeRtp = { address: /^c=IN IP4 (\S+)/m.exec(answer)![1]!, port: Number(/^m=audio (\d+) /m.exec(answer)![1]) };
    const conn = await bot.connectionWhere((c) => c.url.searchParams.get('Test-Call') === callId, `connection for ${callId}`);
    await conn.waitForEvent('start');
    return { client, caller, ok, conn, bridgeRtp, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Sends a re-INVITE with `sdp` in the dialog `ok` set up; resolves with its final response (ACKed when 2xx) and
 * whether a 100 Trying came before it.
 */
export async function reinvite(client: SipTestClient, ok: SipResponse, cseq: number, sdp: string, timeoutMs = 5000): Promise<{ final: SipResponse; trying: boolean }> {
  const from = client.received.length;
  client.send(inDialogRequest('INVITE', client, ok, cseq, sdp));
  const isFinal = (m: SipMessage) => m.kind === 'response' && m.cseq.seq === cseq && m.cseq.method === 'INVITE' && m.status >= 200;
  const final = (await client.waitFor(isFinal, `final response to re-INVITE ${cseq}`, timeoutMs, from)) as SipResponse;
  const trying = client.received.slice(from).some((m) => m.kind === 'response' && m.status === 100 && m.cseq.seq === cseq);
  if (final.status < 300) client.send(inDialogRequest('ACK', client, final, cseq));
  return { final, trying };
}

/** The bot's 600 Hz tone reaches the caller in `codec`. */
export async function botToneReachesCaller(call: Pick<AnsweredCall, 'conn' | 'caller'>, codec: G711Codec): Promise<void> {
  const before = call.caller.received.length;
  call.conn.sendAudio(toneBytesPcm16le(600, 8000, 800));
  await new Promise((r) => setTimeout(r, 1000));
  const fresh = call.caller.received.slice(before);
  expect(fresh.length).toBeGreaterThan(30);
  const packets = fresh.filter((p) => p.payloadType === (codec === 'PCMA' ? 8 : 0));
  expect(packets.length).toBe(fresh.length);
  const audio = call.caller.audio(codec);
  const part = audio.subarray(audio.length - packets.length * 160);
  expect(Math.abs(dominantFrequency(part.subarray(800, 4800), 8000) - 600)).toBeLessThanOrEqual(15);
}

/** The caller's 1000 Hz tone, sent in `codec`, reaches the bot. */
export async function callerToneReachesBot(call: Pick<AnsweredCall, 'conn' | 'caller' | 'bridgeRtp'>, codec: G711Codec): Promise<void> {
  const before = call.conn.callerAudio().length;
  await call.caller.send(call.bridgeRtp, codec, tone(1000, 8000, 8000));
  // Wait for the tone rather than a fixed time: a loaded relay (userspace rtpengine) may hold packets back, and the
  // bot then hears the gap as silence before the tone.
  const heard = () => pcm16leToSamples(call.conn.callerAudio().subarray(before));
  await vi.waitFor(() => expect(longestToneRun(heard(), 8000, 1000)).toBeGreaterThanOrEqual(4000), { timeout: 3000, interval: 100 });
}
