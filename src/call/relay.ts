// The rtpengine steps of a call, when rtpengine faces the carrier: inbound, the carrier's offer through it and our
// answer back; outbound, our offer through it for the INVITE and the trunk's answer back. Each step says what went
// wrong as a reason, never throws.
import type { OutboundRelaySession, RelaySession, RtpengineRelay } from '../media/index.js';
import { negotiate, RELAYABLE_TRANSPORTS, type NegotiatedAudio } from '../sdp/index.js';
import { sdpRejection, unavailable, type Rejection } from './admission.js';

const failed = (err: unknown): { problem: string } => ({ problem: `media relay: ${(err as Error).message}` });

/** What a re-offer goes through: the session and our to-tag there. */
export interface ReofferRelay {
  readonly session: RelaySession;
  readonly tag: string;
}

export class InboundRelay {
  readonly #session: RelaySession;

  constructor(
    relay: RtpengineRelay,
    callId: string,
    fromTag: string,
    /** Our tag toward rtpengine (its to-tag): stable for the call, whichever SIP backend answers it. */
    private readonly tag: string,
  ) {
    this.#session = relay.session(callId, fromTag);
  }

  get reoffers(): ReofferRelay {
    return { session: this.#session, tag: this.tag };
  }

  /** The carrier's offer in; the audio of rtpengine's offer to us out, which our answer is made for. */
  async offer(carrierSdp: string): Promise<NegotiatedAudio | Rejection> {
    let relayed: string;
    try {
      relayed = await this.#session.offer(carrierSdp);
    } catch (err) {
      return unavailable(failed(err).problem);
    }
    const ours = negotiate(relayed);
    return ours.ok ? ours.audio : sdpRejection(ours);
  }

  /** Our answer in; the carrier's out. */
  async answer(bridgeSdp: string): Promise<string | Rejection> {
    try {
      return await this.#session.answer(this.tag, bridgeSdp);
    } catch (err) {
      return unavailable(failed(err).problem);
    }
  }

  close(): Promise<void> {
    return this.#session.delete();
  }
}

export class OutboundRelay {
  readonly #session: OutboundRelaySession;
  /** Settles when rtpengine has had our offer (or gave up on it): its `delete` goes after. */
  #offered: Promise<unknown> = Promise.resolve();

  /** The call's rtpengine session is keyed by the call's sid, known before the SIP Call-ID exists. */
  constructor(relay: RtpengineRelay, callSid: string, streamSid: string) {
    this.#session = relay.outboundSession(`bridge-out-${callSid}`, `bridge-${streamSid}`, `trunk-${streamSid}`);
  }

  get reoffers(): ReofferRelay {
    return { session: this.#session.reoffers, tag: this.#session.bridgeTag };
  }

  /** Our offer in; rtpengine's carrier-side offer for the INVITE out. */
  async offer(bridgeSdp: string, srtp: boolean): Promise<string | { problem: string }> {
    const offering = this.#session.offer(bridgeSdp, srtp ? 'RTP/SAVP' : 'RTP/AVP');
    this.#offered = offering.catch(() => {});
    try {
      return await offering;
    } catch (err) {
      return failed(err);
    }
  }

  /** The trunk's answer in (checked before rtpengine hears of it, as a carrier's offer is); the answer for us out. */
  async answer(trunkSdp: string): Promise<string | { problem: string }> {
    const checked = negotiate(trunkSdp, RELAYABLE_TRANSPORTS);
    if (!checked.ok) return { problem: `unusable SDP answer: ${checked.reason}` };
    try {
      return await this.#session.answer(trunkSdp);
    } catch (err) {
      return failed(err);
    }
  }

  /** rtpengine forgets the call at every ending, answered or not; after our offer, if that is still on its way. */
  close(): Promise<void> {
    return this.#offered.then(() => this.#session.delete());
  }
}
