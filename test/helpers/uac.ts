// An embedded backend on loopback with small timers, dial requests, and the outcome of an outgoing call, for UAC tests.
import type { DialFailure, DialRequest, Dialog, OutgoingCall } from '../../src/signaling/index.js';
import type { SipMessage, SipRequest } from '../../src/signaling/message.js';
import { EmbeddedSipBackend } from '../../src/signaling/index.js';
import { testLogger } from './bridge.js';

export const UAC_TIMERS = { t1: 50, t2: 400, t4: 500 };

/** UDP and TCP on loopback; `timers` are the small UAC_TIMERS unless given. */
export async function startBackend(timers: { t1: number; t2: number; t4: number } = UAC_TIMERS, host = '127.0.0.1'): Promise<EmbeddedSipBackend> {
  const backend = new EmbeddedSipBackend({
    udp: { host, port: 0 },
    tcp: { host, port: 0 },
    maxMessageBytes: 65_536,
    timers,
    allowSource: () => true,
    refusedSources: 'reject',
    maxConnectionsPerSource: 10,
    messageTimeoutMs: 5000,
    log: testLogger(),
  });
  await backend.start();
  return backend;
}

/** Waits until no transaction, dialog or INVITE is left (Timer D/K/M run out: 64*T1 = 3.2 s). */
export async function expectIdle(backend: EmbeddedSipBackend, timeoutMs = 6000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = backend.stats();
    if (s.dialogs + s.pendingInvites + (s.transactions ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`backend not idle: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const OFFER = ['v=0', 'o=bridge 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 8 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', ''].join('\r\n');

export function dialRequest(proxy: string, extra: Partial<DialRequest> = {}): DialRequest {
  return {
    uri: `sip:+919876543210@${proxy.replace(/^sip:/, '').split(';')[0]}`,
    proxy,
    from: { user: '+918041234567', host: 'bridge.example.com' },
    headers: [['X-UUI', 'ticket-991']],
    sdp: OFFER,
    ...extra,
  };
}

export function outcome(call: OutgoingCall): Promise<{ answered: [Dialog, string] } | { failed: DialFailure }> {
  return new Promise((resolve) => {
    call.once('answered', (dialog, sdp) => resolve({ answered: [dialog, sdp] }));
    call.once('failed', (failure) => resolve({ failed: failure }));
  });
}

export async function answered(call: OutgoingCall): Promise<[Dialog, string]> {
  const result = await outcome(call);
  if ('failed' in result) throw new Error(`call failed: ${JSON.stringify(result.failed)}`);
  return result.answered;
}

/** A response to a request from the peer, To tag and extra lines added. */
export function reply(request: SipRequest, status: string, toTag: string | undefined, extra: string[] = [], body = ''): string {
  const to = request.headers.get('to')!;
  return [
    `SIP/2.0 ${status}`,
    ...request.headers.getAll('via').map((via) => `Via: ${via}`),
    `From: ${request.headers.get('from')}`,
    `To: ${toTag && !to.includes(';tag=') ? `${to};tag=${toTag}` : to}`,
    `Call-ID: ${request.callId}`,
    `CSeq: ${request.headers.get('cseq')}`,
    ...extra,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

export const SDP = 'v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 8\r\n';

export const isRequest = (method: string, toTag?: string) => (m: SipMessage) =>
  m.kind === 'request' && m.method === method && (toTag === undefined || m.to.params.get('tag') === toTag);
