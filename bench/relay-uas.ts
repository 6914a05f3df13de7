// The signalling of the rtpengine reference, in the bench's process: the project's embedded SIP stack answers
// SIPp's INVITEs, and per call rtpengine is given the caller's offer and an answer that points at the UDP echo;
// the caller gets rtpengine's answer, and the session is deleted when the call ends.
import { pino } from 'pino';
import { RtpengineRelay, type RelaySession } from '../src/media/rtpengine.js';
import { DEFAULT_TIMERS } from '../src/signaling/transaction.js';
import type { IncomingCall } from '../src/signaling/types.js';
import { EmbeddedSipBackend } from '../src/signaling/user-agent.js';
import { HOST, freeUdpPort } from './ports.js';

export interface RelayUas {
  readonly sipPort: number;
  readonly activeCalls: number;
  /** INVITEs refused because rtpengine failed, with the last reason. */
  readonly failures: { count: number; lastReason: string };
  stop(): Promise<void>;
}

export async function startRelayUas(ngPort: number, echoPort: number): Promise<RelayUas> {
  const log = pino({ level: 'warn', base: { service: 'bench-relay-uas' } });
  const relay = new RtpengineRelay({ host: HOST, port: ngPort, timeoutMs: 2000, retries: 1, localAddress: HOST, log });
  const sipPort = await freeUdpPort();
  const backend = new EmbeddedSipBackend({
    udp: { host: HOST, port: sipPort },
    maxMessageBytes: 65_535,
    timers: DEFAULT_TIMERS,
    allowSource: () => true,
    refusedSources: 'reject',
    maxConnectionsPerSource: 64,
    messageTimeoutMs: 10_000,
    log,
  });
  const state = { activeCalls: 0, failures: { count: 0, lastReason: '' } };
  backend.on('invite', (call) => void answer(call, relay.session(call.callId, call.from.tag ?? call.callId), echoPort, state));
  await backend.start();
  return {
    sipPort,
    get activeCalls() {
      return state.activeCalls;
    },
    failures: state.failures,
    async stop() {
      await backend.stop();
      relay.close();
    },
  };
}

async function answer(call: IncomingCall, session: RelaySession, echoPort: number, state: { activeCalls: number; failures: { count: number; lastReason: string } }): Promise<void> {
  try {
    await session.offer(call.sdp ?? '');
    const carrierAnswer = await session.answer(`echo-${call.callId}`, echoAnswer(echoPort));
    const dialog = call.answer(carrierAnswer);
    state.activeCalls++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      state.activeCalls--;
      void session.delete().catch(() => {});
    };
    dialog.once('bye', end);
    dialog.once('ackTimeout', end);
  } catch (err) {
    state.failures.count++;
    state.failures.lastReason = (err as Error).message;
    if (!call.cancelled) call.reject(503, 'Service Unavailable');
    void session.delete().catch(() => {});
  }
}

/** Our side's answer to rtpengine's offer: PCMA, and telephone-event as Exotel offers it, at the echo's port. */
function echoAnswer(port: number): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${HOST}`,
    's=echo',
    `c=IN IP4 ${HOST}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 8 96`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:96 telephone-event/8000',
    'a=fmtp:96 0-15',
    'a=sendrecv',
    'a=ptime:20',
    '',
  ].join('\r\n');
}
