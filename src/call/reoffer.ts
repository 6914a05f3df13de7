// A re-INVITE's or UPDATE's offer in an answered call. The answer is made from the media as it will be (hold, a new
// codec, a new address), through rtpengine when it faces the carrier, and applied before the 200 goes out.
import type { Logger } from 'pino';
import { RelayError, type MediaFormat } from '../media/index.js';
import { buildAnswer, negotiate, RELAYABLE_TRANSPORTS, type LocalMedia, type NegotiatedAudio } from '../sdp/index.js';
import type { Reoffer } from '../signaling/index.js';
import { mediaFormat } from './leg.js';
import type { ReofferRelay } from './relay.js';

export interface ReofferOptions {
  /** What plays the media: it takes the new format once the answer is made. */
  readonly leg: { renegotiate(format: MediaFormat): void };
  /** Where our SDP says we are, as in the first answer. */
  readonly local: LocalMedia;
  /** The audio the first answer settled. */
  readonly audio: NegotiatedAudio;
  /** rtpengine's session for the call and our to-tag there, when rtpengine faces the carrier. */
  readonly relay?: ReofferRelay;
  readonly log: Logger;
}

export class ReofferAnswerer {
  #audio: NegotiatedAudio;
  #version: number;
  /** Our last answer on the bridge's leg. */
  #sdp: string;

  constructor(private readonly options: ReofferOptions) {
    this.#audio = options.audio;
    this.#version = options.local.sessionVersion ?? 1;
    this.#sdp = buildAnswer(options.audio, options.local);
  }

  /** Answers the offer or refuses it (488 unusable, 500 failed); never throws. The call goes on either way. */
  async answer(offer: Reoffer): Promise<void> {
    const { log } = this.options;
    let answer: { sdp: string } | { status: 488 | 500; reason: string };
    try {
      answer = await this.#answer(offer.sdp);
    } catch (err) {
      if (!(err instanceof RelayError)) log.error({ err }, 're-offer failed');
      answer = { status: 500, reason: err instanceof RelayError ? `media relay: ${err.message}` : 'internal error answering the re-offer' };
    }
    if ('sdp' in answer) {
      const { codec, direction, remote } = this.#audio;
      log.info({ codec, direction, remote: `${remote.address}:${remote.port}` }, 're-offer answered');
      offer.accept(answer.sdp);
    } else {
      log.warn({ status: answer.status, reason: answer.reason }, 're-offer refused: the session goes on as it was');
      offer.reject(answer.status, answer.reason);
    }
  }

  async #answer(carrierOffer: string): Promise<{ sdp: string } | { status: 488; reason: string }> {
    const { relay, leg, local } = this.options;
    const keep = this.#audio.codec;
    // Checked before rtpengine hears of it, as on the first offer.
    const checked = negotiate(carrierOffer, relay ? RELAYABLE_TRANSPORTS : undefined, keep);
    if (!checked.ok) return { status: 488, reason: checked.reason };
    let audio = checked.audio;
    if (relay) {
      const ours = negotiate(await relay.session.offer(carrierOffer), undefined, keep);
      if (!ours.ok) return { status: 488, reason: `rtpengine's offer: ${ours.reason}` };
      audio = ours.audio;
    }
    // RFC 3264 section 8: the same version for the same description, one more for a changed one.
    const same = buildAnswer(audio, { ...local, sessionVersion: this.#version });
    const version = same === this.#sdp ? this.#version : this.#version + 1;
    const bridgeSdp = version === this.#version ? same : buildAnswer(audio, { ...local, sessionVersion: version });
    const sdp = relay ? await relay.session.answer(relay.tag, bridgeSdp) : bridgeSdp;
    this.#version = version;
    this.#sdp = bridgeSdp;
    this.#audio = audio;
    leg.renegotiate(mediaFormat(audio));
    return { sdp };
  }
}
