// A bridge transfer's second SIP leg, the agent: it owns its INVITE and then its dialog, its rtpengine session (when
// media.relay is rtpengine), its trunk slot and its RTP port on the caller's stream leg, where the media join lives.
// It tells how the dial goes (ringing, answered, failed) and when the agent hangs up; `end` closes all of it once.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { RtpengineRelay } from '../media/index.js';
import { buildOffer, negotiate, type LocalMedia } from '../sdp/index.js';
import type { DialFailure, DialRequest, Dialog, OutgoingCall, SipBackend } from '../signaling/index.js';
import type { PeerBot, StreamLeg } from '../stream/index.js';
import { mediaFormat } from './leg.js';
import { ReofferAnswerer } from './reoffer.js';
import { settledWithin, whenSettled } from './invite-settle.js';
import { OutboundRelay } from './relay.js';
import type { TrunkSlot } from './trunks.js';

export interface AgentDial {
  /** Request-URI, next hop, From, headers (and credentials) of the INVITE; its SDP is made here. */
  readonly request: Omit<DialRequest, 'sdp'>;
  readonly ringTimeoutMs: number;
  readonly bot: PeerBot;
  /** Its trunk's channel and pacing; direct URIs take none. */
  readonly slot?: TrunkSlot;
  /** SDES-SRTP toward the agent's trunk (through rtpengine). */
  readonly srtp?: boolean;
}

export interface AgentLegContext {
  readonly backend: SipBackend;
  /** The caller's stream leg: the agent's RTP is its peer. */
  readonly stream: StreamLeg;
  readonly advertisedAddress: string;
  readonly relay?: RtpengineRelay | undefined;
  readonly callSid: string;
  readonly streamSid: string;
  readonly log: Logger;
}

export interface AgentLegEvents {
  /** The first 180/183. */
  ringing: [sipStatus: number];
  /** 2xx: the caller's media is joined to the agent's right after. */
  answered: [];
  /** Busy, no answer, an unusable answer or no way to dial: the caller stays with the bot. */
  failed: [sipStatus: number, reason: string];
  /** After the answer: the agent's BYE, its connection lost, or its RTP stopped. */
  hangup: [reason: string];
}

export class AgentLeg extends EventEmitter<AgentLegEvents> {
  #outgoing: OutgoingCall | undefined;
  #dialog: Dialog | undefined;
  #relay: OutboundRelay | undefined;
  #ringTimer: NodeJS.Timeout | undefined;
  #settled: Promise<void> = Promise.resolve();
  #byeFromAgent = false;
  /** The caller's media is joined to the agent's: from now on the agent leaving ends the call. */
  #joined = false;
  #over = false;
  #ending: Promise<void> | undefined;
  /** Where our offer said the agent's media is, for answers to its re-offers. */
  #local: LocalMedia | undefined;
  /** Its listeners on the caller's stream leg, removed at the end (a bot may try agent after agent). */
  readonly #onPeerEnd = (reason: string) => this.#hangup(reason);
  readonly #onPeerDtmf = (digit: string) => {
    if (this.#dialog) this.context.log.info({ digit, source: 'RFC 4733' }, 'agent DTMF');
  };

  constructor(
    private readonly dial: AgentDial,
    private readonly context: AgentLegContext,
  ) {
    super();
    context.stream.on('peerEnd', this.#onPeerEnd);
    context.stream.on('peerDtmf', this.#onPeerDtmf);
  }

  /** Binds the agent's port, offers it (through rtpengine when it relays) and dials at the trunk's turn. Never throws. */
  async start(): Promise<void> {
    const { context } = this;
    let port: number;
    try {
      port = await context.stream.openPeer();
    } catch (err) {
      return this.#fail(503, `no RTP port for the agent: ${(err as Error).message}`);
    }
    if (this.#ending) return;
    this.#local = { address: context.advertisedAddress, port, sessionId: Date.now() };
    let sdp = buildOffer(this.#local);
    if (context.relay) {
      this.#relay = new OutboundRelay(context.relay, `${context.callSid}-agent`, `${context.streamSid}-agent`);
      const offered = await this.#relay.offer(sdp, this.dial.srtp === true);
      if (this.#ending) return;
      if (typeof offered !== 'string') return this.#fail(503, offered.problem);
      sdp = offered;
    }
    const go = () => {
      if (!this.#ending) this.#send(sdp);
    };
    if (this.dial.slot) this.dial.slot.ticket.ready(go);
    else go();
  }

  #send(sdp: string): void {
    const { dial, context } = this;
    let outgoing: OutgoingCall;
    try {
      outgoing = context.backend.dial({ ...dial.request, sdp });
    } catch (err) {
      return this.#fail(503, `agent unreachable: ${(err as Error).message}`);
    }
    this.#outgoing = outgoing;
    context.log.info({ agent_sip_call_id: outgoing.callId, to: dial.request.uri }, 'transfer: agent INVITE sent');
    this.#settled = whenSettled(outgoing);
    this.#ringTimer = setTimeout(() => {
      outgoing.cancel();
      this.#fail(408, `no answer within ${dial.ringTimeoutMs / 1000} s`);
    }, dial.ringTimeoutMs);
    let rang = false;
    outgoing.on('progress', (status) => {
      if ((status === 180 || status === 183) && !rang && !this.#over) {
        rang = true;
        this.emit('ringing', status);
      }
    });
    outgoing.once('answered', (dialog, answer) => void this.#answered(dialog, answer));
    outgoing.once('failed', (failure: DialFailure) => this.#fail(failure.status, `${failure.status} ${failure.reason}${failure.detail ? ` (${failure.detail})` : ''}`));
  }

  async #answered(dialog: Dialog, agentSdp: string): Promise<void> {
    clearTimeout(this.#ringTimer);
    this.#dialog = dialog;
    dialog.on('bye', () => {
      this.#byeFromAgent = true;
      this.#hangup('the agent hung up');
    });
    dialog.on('lost', () => {
      this.#byeFromAgent = true;
      this.#hangup('the agent connection was lost');
    });
    dialog.on('dtmf', (digit, durationMs) => {
      this.context.log.info({ digit, source: 'SIP INFO' }, 'agent DTMF');
      this.context.stream.peerSipDtmf(digit, durationMs ?? 0);
    });
    // Ended just before (the caller hung up as the agent answered): its CANCEL came too late, so BYE.
    if (this.#ending) {
      dialog.bye().catch(() => {});
      return;
    }
    let answer = agentSdp;
    if (this.#relay) {
      const relayed = await this.#relay.answer(agentSdp);
      if (this.#over) return;
      if (typeof relayed !== 'string') return this.#fail(488, relayed.problem);
      answer = relayed;
    }
    const negotiated = negotiate(answer);
    if (!negotiated.ok) return this.#fail(488, `unusable SDP answer from the agent: ${negotiated.reason}`);
    const format = mediaFormat(negotiated.audio);
    const relay = this.#relay?.reoffers;
    const stream = this.context.stream;
    const reoffers = new ReofferAnswerer({
      leg: { renegotiate: (f) => stream.renegotiatePeer(f) },
      local: this.#local!,
      audio: negotiated.audio,
      log: this.context.log.child({ side: 'agent' }),
      ...(relay && { relay }),
    });
    dialog.on('reoffer', (offer) => void reoffers.answer(offer));
    this.context.log.info({ agent_sip_call_id: dialog.callId, codec: format.codec, remote: `${format.remote.address}:${format.remote.port}` }, 'transfer: agent answered');
    // Told first: with `bot: stop` the join ends the bot's stream, and the bot hears how the transfer went before its stop.
    this.emit('answered');
    this.#joined = true;
    this.context.stream.joinPeer(format, this.dial.bot);
  }

  /** The dial is over without a join: `failed` once, then everything is released. */
  #fail(sipStatus: number, reason: string): void {
    if (this.#over) return;
    this.#over = true;
    this.context.log.warn({ sip_status: sipStatus, reason, agent_sip_call_id: this.#outgoing?.callId }, 'transfer: agent leg failed; the caller stays with the bot');
    this.emit('failed', sipStatus, reason);
    void this.end();
  }

  /** The agent is gone: after the join that ends the call; before it (its answer still being relayed) the dial failed. */
  #hangup(reason: string): void {
    if (!this.#joined) return this.#fail(200, `${reason} before the join`);
    if (this.#over || !this.#dialog) return;
    this.#over = true;
    this.context.log.info({ reason, agent_sip_call_id: this.#dialog.callId }, 'transfer: agent leg ended');
    this.emit('hangup', reason);
  }

  /** CANCEL while it rings, BYE once answered (unless the agent hung up); the relay session, the port, the slot. Once. */
  end(): Promise<void> {
    this.#ending ??= this.#end();
    return this.#ending;
  }

  async #end(): Promise<void> {
    this.#over = true;
    clearTimeout(this.#ringTimer);
    const { stream } = this.context;
    stream.off('peerEnd', this.#onPeerEnd);
    stream.off('peerDtmf', this.#onPeerDtmf);
    stream.closePeer();
    this.dial.slot?.release();
    const steps: Array<Promise<unknown>> = [];
    if (this.#dialog) {
      if (!this.#byeFromAgent) steps.push(this.#dialog.bye());
    } else if (this.#outgoing) {
      this.#outgoing.cancel();
      // The CANCELled INVITE ends with its final response, or gives up: bounded all the same.
      steps.push(settledWithin(this.#settled));
    }
    if (this.#relay) steps.push(this.#relay.close());
    const results = await Promise.allSettled(steps);
    for (const r of results) if (r.status === 'rejected') this.context.log.warn({ reason: (r.reason as Error).message }, 'agent leg teardown incomplete');
  }
}
