// rtpengine as the media relay (ng protocol): the carrier's RTP or SRTP lands on rtpengine, which relays plain RTP
// to the bridge's own media session. A call's relay session turns the carrier's SDP into ours and back.
import type { Logger } from 'pino';
import { Client, type NgResponse } from 'rtpengine-client';

export interface RtpengineOptions {
  readonly host: string;
  readonly port: number;
  /** Per attempt; a command that times out is sent again `retries` times. */
  readonly timeoutMs: number;
  readonly retries: number;
  /** Address our ng client socket binds to. */
  readonly localAddress?: string;
  /** rtpengine interface names (its --interface=NAME/IP) for the carrier's side and for ours. */
  readonly interfaces?: { readonly carrier: string; readonly bridge: string };
  readonly log: Logger;
}

export class RelayError extends Error {}

/** The SDES suites rtpengine offers besides AES_CM_128_HMAC_SHA1_80 and _32 (its `SDES-no-` takes them out). */
const UNCOMMON_SDES_SUITES = [
  'AEAD_AES_256_GCM',
  'AEAD_AES_128_GCM',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_32',
  'F8_128_HMAC_SHA1_80',
  'F8_128_HMAC_SHA1_32',
  'NULL_HMAC_SHA1_80',
  'NULL_HMAC_SHA1_32',
];

export class RtpengineRelay {
  readonly #client: Client;

  constructor(private readonly options: RtpengineOptions) {
    this.#client = new Client({ timeout: options.timeoutMs, ...(options.localAddress && { localAddress: options.localAddress }) });
    // Replies that arrive after their timeout are reported as errors by the client: they are only worth a log line.
    this.#client.on('error', (err: Error) => options.log.warn({ err: err.message }, 'rtpengine client error'));
  }

  /** A relay session for one call, keyed by its SIP Call-ID and the caller's From tag. */
  session(callId: string, fromTag: string): RelaySession {
    return new RelaySession(this, callId, fromTag);
  }

  /**
   * A relay session for a call the bridge places: the bridge offers first (tag `bridgeTag`), the trunk answers (tag
   * `trunkTag`). Both tags are ours to choose: rtpengine only needs them stable for the call.
   */
  outboundSession(callId: string, bridgeTag: string, trunkTag: string): OutboundRelaySession {
    return new OutboundRelaySession(this, callId, bridgeTag, trunkTag);
  }

  /** Flags for an offer from the carrier's side: plain RTP/AVP toward the bridge. */
  get flagsForOffer(): Record<string, unknown> {
    const { interfaces } = this.options;
    return {
      'transport-protocol': 'RTP/AVP',
      ICE: 'remove',
      replace: ['origin', 'session-connection'],
      ...(interfaces && { direction: [interfaces.carrier, interfaces.bridge] }),
    };
  }

  /** Flags for the bridge's own offer (an outbound call): the direction is the other way round. */
  flagsForBridgeOffer(transport: 'RTP/AVP' | 'RTP/SAVP'): Record<string, unknown> {
    const { interfaces } = this.options;
    return {
      'transport-protocol': transport,
      // SDES as trunks speak it: the two common suites (AES_CM_128_HMAC_SHA1_80/_32), no DTLS attributes.
      ...(transport === 'RTP/SAVP' && { SDES: UNCOMMON_SDES_SUITES.map((suite) => `no-${suite}`), DTLS: 'off' }),
      ICE: 'remove',
      replace: ['origin', 'session-connection'],
      ...(interfaces && { direction: [interfaces.bridge, interfaces.carrier] }),
    };
  }

  async command(name: 'offer' | 'answer' | 'delete', params: Record<string, unknown>): Promise<NgResponse> {
    const { host, port, retries, timeoutMs } = this.options;
    let lastError: Error | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const response = await this.#client[name](port, host, params);
        if (response.result === 'error') throw new RelayError(`rtpengine refused ${name}: ${response['error-reason'] ?? 'no reason given'}`);
        return response;
      } catch (err) {
        if (err instanceof RelayError) throw err;
        lastError = err as Error;
      }
    }
    throw new RelayError(`rtpengine at ${host}:${port} did not answer ${name} (${retries + 1} attempts of ${timeoutMs} ms): ${lastError?.message ?? ''}`);
  }

  /** Where rtpengine's ng socket is, for log lines and reasons. */
  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** One ng `ping`, no retry: resolves on `pong`, rejects with the reason otherwise. */
  async ping(): Promise<void> {
    const { host, port, timeoutMs } = this.options;
    let response: NgResponse;
    try {
      response = await this.#client.ping(port, host);
    } catch (err) {
      throw new RelayError(`rtpengine at ${host}:${port} did not answer ping within ${timeoutMs} ms: ${(err as Error).message}`);
    }
    if (response.result !== 'pong') throw new RelayError(`rtpengine at ${host}:${port} answered ping with ${response.result}`);
  }

  close(): void {
    this.#client.close();
  }
}

export class RelaySession {
  #offered = false;
  #deleted = false;

  /** `peerTag`: the bridge's tag, sent as to-tag with the carrier's offers when the carrier did not offer first. */
  constructor(
    private readonly relay: RtpengineRelay,
    readonly callId: string,
    readonly fromTag: string,
    private readonly peerTag?: string,
  ) {}

  /** The carrier's offer in; the offer for our leg out: plain RTP/AVP on rtpengine's address. */
  async offer(carrierSdp: string): Promise<string> {
    this.#offered = true;
    const response = await this.relay.command('offer', {
      'call-id': this.callId,
      'from-tag': this.fromTag,
      ...(this.peerTag !== undefined && { 'to-tag': this.peerTag }),
      sdp: carrierSdp,
      ...this.relay.flagsForOffer,
    });
    return sdpOf(response, 'offer');
  }

  /** Our answer in; the carrier's answer out, in the carrier's transport (RTP/SAVP and a=crypto when it offered SRTP). */
  async answer(toTag: string, bridgeSdp: string): Promise<string> {
    const response = await this.relay.command('answer', {
      'call-id': this.callId,
      'from-tag': this.fromTag,
      'to-tag': toTag,
      sdp: bridgeSdp,
      replace: ['origin', 'session-connection'],
    });
    return sdpOf(response, 'answer');
  }

  /** Ends the session on rtpengine at once; safe to call more than once, and before any offer. */
  async delete(): Promise<void> {
    if (!this.#offered || this.#deleted) return;
    this.#deleted = true;
    await this.relay.command('delete', { 'call-id': this.callId, 'from-tag': this.fromTag, 'delete-delay': 0 });
  }
}

/**
 * rtpengine for a call the bridge places. The bridge's offer (its own RTP socket) goes in as `offer` and comes out
 * on rtpengine's carrier-side address for the INVITE; the trunk's answer goes in as `answer` and comes out on
 * rtpengine's bridge-side address for our media session. The trunk's re-offers go through `reoffers`.
 */
export class OutboundRelaySession {
  #offered = false;
  #deleted = false;
  /** For offers the trunk makes in the dialog (re-INVITE, UPDATE): from-tag the trunk's, to-tag ours. */
  readonly reoffers: RelaySession;

  constructor(
    private readonly relay: RtpengineRelay,
    readonly callId: string,
    readonly bridgeTag: string,
    readonly trunkTag: string,
  ) {
    this.reoffers = new RelaySession(relay, callId, trunkTag, bridgeTag);
  }

  /**
   * Our offer in; the offer for the trunk out (rtpengine's address and port on the carrier's side), in `transport`:
   * `RTP/SAVP` has rtpengine add its SDES `a=crypto` lines, and decrypt the trunk's SRTP for our plain-RTP leg.
   */
  async offer(bridgeSdp: string, transport: 'RTP/AVP' | 'RTP/SAVP' = 'RTP/AVP'): Promise<string> {
    this.#offered = true;
    const response = await this.relay.command('offer', { 'call-id': this.callId, 'from-tag': this.bridgeTag, sdp: bridgeSdp, ...this.relay.flagsForBridgeOffer(transport) });
    return sdpOf(response, 'offer');
  }

  /** The trunk's answer in; the answer for our leg out (rtpengine's address and port on the bridge's side). */
  async answer(trunkSdp: string): Promise<string> {
    const response = await this.relay.command('answer', {
      'call-id': this.callId,
      'from-tag': this.bridgeTag,
      'to-tag': this.trunkTag,
      sdp: trunkSdp,
      ICE: 'remove',
      replace: ['origin', 'session-connection'],
    });
    return sdpOf(response, 'answer');
  }

  /** Ends the whole call on rtpengine at once; safe to call more than once, and before any offer. */
  async delete(): Promise<void> {
    if (!this.#offered || this.#deleted) return;
    this.#deleted = true;
    await this.relay.command('delete', { 'call-id': this.callId, 'delete-delay': 0 });
  }
}

function sdpOf(response: NgResponse, command: string): string {
  if (typeof response.sdp !== 'string') throw new RelayError(`rtpengine answered ${command} without SDP`);
  return response.sdp;
}
