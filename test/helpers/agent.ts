// The agent's phone in bridge-transfer tests: a bare UDP SIP client that takes the bridge's INVITE (rings, answers,
// refuses, hangs up) and an RTP peer for its media, with the RFC 4733 digits it received; a bridge transfer's happy path.
import { expect } from 'vitest';
import type { SipMessage, SipRequest, SipResponse } from '../../src/signaling/message.js';
import { relativeLevelDb, tone } from './audio.js';
import type { AnsweredCall } from './carrier.js';
import { RtpPeer } from './rtp-peer.js';
import { SipTestClient } from './sip-client.js';
import { okTo, sdpOffer, type OfferOptions } from './sip-messages.js';
import { statuses, transferMessage } from './transfer.js';

/** An agent answering PCMU with telephone-event 101: a different codec and DTMF type from the test caller's. */
export const AGENT_FORMATS: NonNullable<OfferOptions['formats']> = [
  { pt: 0, rtpmap: 'PCMU/8000' },
  { pt: 101, rtpmap: 'telephone-event/8000', fmtp: '0-15' },
];

const DIGITS = '0123456789*#ABCD';

/** Digits of the RFC 4733 events among `packets` on `payloadType` (one per event, at its end bit). */
export function rfc4733Digits(packets: RtpPeer['received'], payloadType: number): string {
  const seen = new Set<number>();
  let digits = '';
  for (const p of packets) {
    if (p.payloadType !== payloadType || (p.payload[1]! & 0x80) === 0 || seen.has(p.timestamp)) continue;
    seen.add(p.timestamp);
    digits += DIGITS[p.payload[0]!] ?? '?';
  }
  return digits;
}

export class TestAgent {
  #tag = `agent-${Math.random().toString(36).slice(2, 8)}`;
  #invite: SipRequest | undefined;

  private constructor(
    readonly sip: SipTestClient,
    readonly rtp: RtpPeer,
  ) {}

  /** `bridgeSip`: the bridge's UDP SIP listener, where responses and requests go. */
  static async open(bridgeSip: { host: string; port: number }): Promise<TestAgent> {
    return new TestAgent(await SipTestClient.open('udp', bridgeSip), await RtpPeer.open());
  }

  /** A sip: URI of this agent, for transfer.allowedTargets-matching direct targets. */
  uri(user = 'agent-1'): string {
    return `sip:${user}@127.0.0.1:${this.sip.localPort}`;
  }

  async invite(timeoutMs = 10_000): Promise<SipRequest> {
    this.#invite = (await this.sip.waitFor((m) => m.kind === 'request' && m.method === 'INVITE', 'INVITE', timeoutMs)) as SipRequest;
    return this.#invite;
  }

  /** Where the bridge takes the agent's RTP, from the INVITE's offer. */
  get bridgeRtp(): { address: string; port: number } {
    const offer = this.#invite!.body.toString();
    return { address: /^c=IN IP4 (\S+)/m.exec(offer)![1]!, port: Number(/^m=audio (\d+) /m.exec(offer)![1]) };
  }

  /** A response to the INVITE (the last one `invite()` returned, or `invite`), with a To tag from 180 on. */
  respond(status: number, reason: string, sdp?: string, invite = this.#invite!): void {
    this.sip.send(
      [
        `SIP/2.0 ${status} ${reason}`,
        ...invite.headers.getAll('via').map((v) => `Via: ${v}`),
        `From: ${invite.headers.get('from')}`,
        `To: ${invite.headers.get('to')}${status > 100 ? `;tag=${this.#tag}` : ''}`,
        `Call-ID: ${invite.callId}`,
        `CSeq: ${invite.headers.get('cseq')}`,
        `Contact: <sip:agent@127.0.0.1:${this.sip.localPort}>`,
        ...(sdp ? ['Content-Type: application/sdp'] : []),
        `Content-Length: ${sdp ? Buffer.byteLength(sdp) : 0}`,
        '',
        sdp ?? '',
      ].join('\r\n'),
    );
  }

  /** 200 OK with a PCMU offer-answer on the agent's RTP port; resolves once the bridge ACKed it. */
  async answer(): Promise<void> {
    this.respond(200, 'OK', sdpOffer({ port: this.rtp.port, formats: AGENT_FORMATS }));
    await this.sip.request('ACK');
  }

  /** The agent hangs up. */
  bye(): void {
    this.#request('BYE', 9);
  }

  /** A key press in SIP INFO (application/dtmf-relay). */
  info(digit: string): void {
    this.#request('INFO', 2, 'application/dtmf-relay', `Signal=${digit}\r\nDuration=160\r\n`);
  }

  /** A re-INVITE with `sdp` in the agent's dialog; resolves with the bridge's 200 once it is ACKed. */
  async reinvite(sdp: string, cseq = 3): Promise<SipResponse> {
    this.#request('INVITE', cseq, 'application/sdp', sdp);
    const isOk = (m: SipMessage) => m.kind === 'response' && m.cseq.method === 'INVITE' && m.cseq.seq === cseq && m.status === 200;
    const ok = (await this.sip.waitFor(isOk, `200 to re-INVITE ${cseq}`)) as SipResponse;
    this.#request('ACK', cseq);
    return ok;
  }

  #request(method: string, cseq: number, type?: string, body = ''): void {
    const invite = this.#invite!;
    this.sip.send(
      [
        `${method} sip:bridge@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.sip.localPort};branch=z9hG4bK-agent-${method}-${this.#tag};rport`,
        'Max-Forwards: 70',
        `From: ${invite.headers.get('to')};tag=${this.#tag}`,
        `To: ${invite.headers.get('from')}`,
        `Call-ID: ${invite.callId}`,
        `CSeq: ${cseq} ${method}`,
        `Contact: <sip:agent@127.0.0.1:${this.sip.localPort}>`,
        ...(type ? [`Content-Type: ${type}`] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
  }

  /** Answers the bridge's CANCEL (200) and ends the INVITE 487, as a phone does. */
  async takeCancel(timeoutMs = 10_000): Promise<SipRequest> {
    const cancel = (await this.sip.waitFor((m) => m.kind === 'request' && m.method === 'CANCEL', 'CANCEL', timeoutMs)) as SipRequest;
    this.sip.send(okTo(cancel));
    this.respond(487, 'Request Terminated');
    return cancel;
  }

  close(): void {
    this.sip.close();
    this.rtp.close();
  }
}

/**
 * The happy path of a bridge transfer to `agent` (straight to its URI, bot stopped): the bot hears trying, answered,
 * completed and stop transferred; the caller's 1000 Hz reaches the agent and the agent's 440 Hz the caller; then the
 * agent hangs up and the caller gets BYE.
 */
export async function bridgeToAgent(call: AnsweredCall, agent: TestAgent, user = 'agent-1'): Promise<void> {
  call.conn.send(transferMessage(call, { to: agent.uri(user), mode: 'bridge' }));
  await agent.invite();
  await agent.answer();
  await call.conn.waitForEvent('stop');
  expect(call.conn.stop!.stop.reason).toBe('transferred');
  expect(statuses(call.conn.messages).map((s) => s.status)).toEqual(['trying', 'answered', 'completed']);
  const [callerBefore, agentBefore] = [call.caller.received.length, agent.rtp.received.length];
  await Promise.all([call.caller.send(call.bridgeRtp, 'PCMA', tone(1000, 8000, 12_000)), agent.rtp.send(agent.bridgeRtp, 'PCMU', tone(440, 8000, 12_000))]);
  await new Promise((r) => setTimeout(r, 200));
  expect(agent.rtp.received.length - agentBefore).toBeGreaterThan(50);
  expect(call.caller.received.length - callerBefore).toBeGreaterThan(50);
  expect(relativeLevelDb(agent.rtp.audio('PCMU').slice(-9000, -1000), 8000, 1000, 440)).toBeGreaterThan(30);
  expect(relativeLevelDb(call.caller.audio('PCMA').slice(-9000, -1000), 8000, 440, 1000)).toBeGreaterThan(30);
  agent.bye();
  await agent.sip.response(200, 'BYE');
  call.client.send(okTo(await call.client.request('BYE')));
}
