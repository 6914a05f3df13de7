// One call: owns its SIP dialog, RTP session and bot session, moves through explicit states, ends exactly once.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  accountSid,
  BotConnectError,
  callerAudioOf,
  customHeaderProblem,
  DEFAULT_ACCOUNT_SID,
  redactUrl,
  routeCall,
  type BotAddressPolicy,
  type BotSession,
  type HeaderLimits,
  type RouteDecision,
  type RoutingOptions,
} from '../bot/index.js';
import type { CallRecorder, MediaSession, RecordingResult, RelaySession } from '../media/index.js';
import { buildAnswer, negotiate, RELAYABLE_TRANSPORTS, type SdpRejection } from '../sdp/index.js';
import type { Dialog, IncomingCall } from '../signaling/index.js';
import { BotLink, connectBot, type BotLinkSettings } from './bot-link.js';
import { openMediaSession, type CallMediaSettings } from './media.js';
import { openRecorder, type RecordingSettings, type StreamPolicy } from './recording.js';
import { ReofferAnswerer } from './reoffer.js';
import { recordOf, type CallFacts, type CallRecord, type CallStatus } from './records.js';
import { reportOf, type CallObserver, type CallReport } from './report.js';
import { callTransfer, type CallTransfer, type TransferRefusal, type TransferTargets } from './transfer.js';

export interface CallOptions {
  readonly log: Logger;
  readonly routing: RoutingOptions;
  readonly media: CallMediaSettings;
  readonly bot: BotLinkSettings & {
    readonly chunkMs: number;
    /** Where a bot URL from a call header may lead. */
    readonly addressPolicy: BotAddressPolicy;
  };
  readonly headerLimits: HeaderLimits;
  readonly maxDurationMs: number;
  readonly observer?: CallObserver;
  /** Listen-only and recording, for the chosen route (its index in routing.routes) or the default bot. */
  readonly streams?: (routeIndex: number | undefined) => StreamPolicy;
  /** Where a transfer may go (trunks and transfer.allowedTargets); without it every transfer is refused. */
  readonly transfers?: TransferTargets;
}

/**
 * setup:    routing, SDP, RTP port and bot connection; the INVITE is still unanswered
 * active:   200 OK sent, audio flows both ways
 * draining: the bot closed; its queued audio plays out before our BYE
 * ended:    everything released
 */
export type CallState = 'setup' | 'active' | 'draining' | 'ended';

/** A SIP rejection for a call that cannot be set up; the reason travels in a Warning header. */
export interface Rejection {
  readonly status: number;
  readonly phrase: string;
  readonly warnCode: number;
  readonly reason: string;
}

/** `caller` is the far end, whoever dialled: the phone side of the call. */
export type EndCause =
  | { readonly by: 'caller'; readonly reason: string }
  | { readonly by: 'bot'; readonly reason: string }
  | { readonly by: 'system'; readonly reason: string; readonly rejection?: Rejection };

export interface CallEvents {
  /** Everything is released and our BYE, if any, has been answered (or given up on). */
  ended: [report: CallReport];
}

const unavailable = (reason: string): Rejection => ({ status: 503, phrase: 'Service Unavailable', warnCode: 399, reason });

const sdpRejection = (r: SdpRejection): Rejection => ({
  status: r.status,
  phrase: r.status === 488 ? 'Not Acceptable Here' : 'Bad Request',
  warnCode: r.warnCode,
  reason: r.reason,
});

const INTERNAL_ERROR: Rejection = { status: 500, phrase: 'Server Internal Error', warnCode: 399, reason: 'internal error' };
const RESERVED_CALL_SID = 'x-exotel-callsid';

export class Call extends EventEmitter<CallEvents> {
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid = randomUUID().replace(/-/g, '');
  /** Our tag toward rtpengine (its to-tag): stable for the call, whichever SIP backend answers it. */
  readonly #relayTag = `bridge-${this.streamSid}`;
  readonly log: Logger;
  #state: CallState = 'setup';
  #dialog: Dialog | undefined;
  #media: MediaSession | undefined;
  #bot: BotSession | undefined;
  #link: BotLink | undefined;
  #relay: RelaySession | undefined;
  #route: Extract<RouteDecision, { ok: true }> | undefined;
  #policy: StreamPolicy = { listenOnly: false };
  #recorder: CallRecorder | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  readonly #startedAt = new Date();
  #answeredAt: Date | undefined;
  #botConnectMs: number | undefined;
  #endedAt: Date | undefined;
  #hungUp = false;
  #final: { status: CallStatus; sipStatus: number; cause: EndCause } | undefined;
  readonly #transfer: CallTransfer;

  constructor(
    private readonly invite: IncomingCall,
    private readonly options: CallOptions,
  ) {
    super();
    const header = (name: string) => invite.headers.find(([n]) => n.toLowerCase() === name)?.[1]?.trim();
    this.callSid = header(RESERVED_CALL_SID) || randomUUID().replace(/-/g, '');
    this.accountSid = accountSid(invite.headers) ?? DEFAULT_ACCOUNT_SID;
    this.log = options.log.child({ call_sid: this.callSid });
    invite.once('cancel', () => this.end({ by: 'caller', reason: 'cancel' }));
    this.#transfer = callTransfer(this.log, (name, fields) => this.#link?.sendEvent(name, fields), options.observer, () =>
      this.end({ by: 'system', reason: 'transferred' }),
    );
  }

  /**
   * Hands the caller to a person (a REFER in the caller's dialog), from the API or the bot (`fromBot`: it then hears
   * a refusal as transfer_status failed). Undefined when started; the outcome goes to the bot as transfer_status.
   */
  transfer(body: unknown, fromBot = false): TransferRefusal | undefined {
    const unavailable = this.#state === 'active' ? undefined : this.#state === 'setup' ? 'the call is not answered yet' : 'the call is ending';
    return this.#transfer.ask(body, { dialog: this.#dialog, unavailable, targets: this.options.transfers }, fromBot);
  }

  get state(): CallState {
    return this.#state;
  }

  /** Where this call's report goes: its route's webhook, if it has one. */
  get webhookUrl(): URL | undefined {
    return this.#route?.webhookUrl;
  }

  /** The call's recording settings, when it is recorded. */
  get recordingSettings(): RecordingSettings | undefined {
    return this.#recorder && this.#policy.recording;
  }

  /** Packet counts and queued bot audio so far, for metrics read while the call goes on. */
  get liveMedia(): { readonly packets: MediaSession['packetCounts']; readonly queuedMs: number } | undefined {
    return this.#media && { packets: this.#media.packetCounts, queuedMs: this.#media.queuedMs };
  }

  /** Sets the call up and answers it, or rejects the INVITE with the reason. Never throws. */
  async run(): Promise<void> {
    const { invite } = this;
    this.log.info(
      { sip_call_id: invite.callId, from: invite.from.uri, to: invite.to.uri, transport: invite.protocol, source: `${invite.source.address}:${invite.source.port}` },
      'incoming call',
    );
    try {
      await this.#setup();
    } catch (err) {
      this.log.error({ err }, 'call setup failed');
      this.#fail({ status: 500, phrase: 'Server Internal Error', warnCode: 399, reason: 'internal error during call setup' });
    }
  }

  async #setup(): Promise<void> {
    const { invite, options } = this;
    const relay = options.media.relay;
    if (invite.sdp === undefined) {
      this.#fail({ status: 488, phrase: 'Not Acceptable Here', warnCode: 399, reason: 'INVITE without an SDP offer is not supported' });
      return;
    }
    // The carrier's offer is checked before anything is set up; behind a relay it may ask for SRTP.
    const carrierOffer = negotiate(invite.sdp, relay ? RELAYABLE_TRANSPORTS : undefined);
    if (!carrierOffer.ok) {
      this.#fail(sdpRejection(carrierOffer));
      return;
    }
    const headerProblem = customHeaderProblem(invite.headers, options.headerLimits);
    if (headerProblem) {
      this.#fail({ status: 400, phrase: 'Bad Request', warnCode: 399, reason: headerProblem });
      return;
    }
    const route = routeCall(invite.headers, options.routing);
    if (!route.ok) {
      this.#fail({ status: route.status, phrase: route.status === 404 ? 'Not Found' : 'Forbidden', warnCode: 399, reason: route.reason });
      return;
    }
    if (route.fromHeader) {
      const refusal = await options.bot.addressPolicy.check(route.url.hostname);
      if (this.#isEnded()) return;
      if (refusal) {
        this.#fail({ status: 403, phrase: 'Forbidden', warnCode: 399, reason: refusal });
        return;
      }
    }
    this.#route = route;
    this.#policy = options.streams?.(route.routeIndex) ?? this.#policy;
    this.log.info(
      { bot: redactUrl(route.url), protocol: route.protocol, route: route.via, codec: carrierOffer.audio.codec, ...(this.#policy.listenOnly && { mode: 'listen' }), ...(this.#policy.recording && { recording: true }) },
      'call routed',
    );

    let audio = carrierOffer.audio;
    if (relay) {
      this.#relay = relay.session(invite.callId, invite.from.tag ?? this.streamSid);
      let relayed: string;
      try {
        relayed = await this.#relay.offer(invite.sdp);
      } catch (err) {
        this.#fail(unavailable(`media relay: ${(err as Error).message}`));
        return;
      }
      if (this.#isEnded()) return;
      const ours = negotiate(relayed);
      if (!ours.ok) {
        this.#fail(sdpRejection(ours));
        return;
      }
      audio = ours.audio;
    }

    let rtp;
    try {
      rtp = await options.media.pool.bind();
    } catch (err) {
      this.#fail(unavailable((err as Error).message));
      return;
    }
    if (this.#isEnded()) {
      rtp.socket.close();
      options.media.pool.release(rtp.port);
      return;
    }
    const stream = { rate: route.sampleRate, chunkMs: options.bot.chunkMs, listenOnly: this.#policy.listenOnly, callerAudio: callerAudioOf(route.protocol) };
    const media = openMediaSession(options.media, rtp, audio, stream, this.log, options.observer);
    this.#media = media;

    let bot: BotSession;
    const connecting = performance.now();
    try {
      bot = await this.#connectBot(route, options.bot.connectRetries);
      this.#botConnectMs = performance.now() - connecting;
      options.observer?.botConnected(this.#botConnectMs);
    } catch (err) {
      const reason = err instanceof BotConnectError ? `bot unreachable: ${err.message}` : String(err);
      this.#fail({ status: 480, phrase: 'Temporarily Unavailable', warnCode: 399, reason });
      return;
    }
    if (this.#isEnded()) {
      bot.close();
      return;
    }
    this.#bot = bot;

    const local = { address: options.media.advertisedAddress, port: media.port, sessionId: Date.now() };
    const bridgeSdp = buildAnswer(audio, local);
    let carrierSdp = bridgeSdp;
    if (this.#relay) {
      try {
        carrierSdp = await this.#relay.answer(this.#relayTag, bridgeSdp);
      } catch (err) {
        this.#fail(unavailable(`media relay: ${(err as Error).message}`));
        return;
      }
      if (this.#isEnded()) return;
    }
    const start = {
      streamSid: this.streamSid,
      callSid: this.callSid,
      accountSid: this.accountSid,
      from: invite.from.user ?? invite.from.uri,
      to: invite.to.user ?? invite.to.uri,
      customParameters: route.customParameters,
      sampleRate: route.sampleRate,
    };
    this.#link = new BotLink(media, bot, {
      settings: options.bot,
      log: this.log,
      ...(options.observer && { observer: options.observer }),
      start,
      reconnect: () => this.#connectBot(route, 0),
      isActive: () => this.#state === 'active',
      isEnded: () => this.#isEnded(),
      onDraining: () => (this.#state = 'draining'),
      end: (by, reason) => this.end({ by, reason }),
      rtpTimeoutMs: options.media.rtpTimeoutMs,
      onTransfer: (request) => void this.transfer(request, true),
    });
    const relayLeg = this.#relay && { session: this.#relay, tag: this.#relayTag };
    this.#answer(carrierSdp, media, new ReofferAnswerer({ media, local, audio, log: this.log, ...(relayLeg && { relay: relayLeg }) }));
  }

  #connectBot(route: Extract<RouteDecision, { ok: true }>, retries: number): Promise<BotSession> {
    const { bot } = this.options;
    // A URL from a call header is held to the address policy at connection time too: DNS may answer differently.
    const target = { url: route.url, protocol: route.protocol, headers: route.headers, ...(route.fromHeader && { lookup: bot.addressPolicy.lookup }) };
    return connectBot(bot, target, this.log, this.#abort.signal, retries);
  }

  /** Re-reads the state after an await, where `end()` may have run meanwhile. */
  #isEnded(): boolean {
    return this.#state === 'ended';
  }

  #answer(carrierSdp: string, media: MediaSession, reoffers: ReofferAnswerer): void {
    const dialog = this.invite.answer(carrierSdp);
    this.#dialog = dialog;
    this.#answeredAt = new Date();
    this.#state = 'active';
    this.options.observer?.setup(200);
    const { recording } = this.#policy;
    if (recording && this.#route) {
      const observer = this.options.observer;
      this.#recorder = openRecorder(recording, this.callSid, this.#route.sampleRate, this.log, () => observer?.recordingError?.());
      media.record(this.#recorder);
    }
    media.start();
    this.log.info({ rtp_port: media.port, relayed: this.#relay !== undefined }, 'call answered');
    this.#durationTimer = setTimeout(() => this.end({ by: 'system', reason: 'maximum call duration reached' }), this.options.maxDurationMs);
    dialog.on('bye', () => this.end({ by: 'caller', reason: 'bye' }));
    dialog.on('lost', () => this.end({ by: 'caller', reason: 'connection lost' }));
    dialog.on('dtmf', (digit, durationMs) => {
      this.log.info({ digit, source: 'SIP INFO' }, 'caller DTMF');
      this.#link?.callerDtmf(digit, durationMs ?? 0);
    });
    dialog.on('ackTimeout', () => this.end({ by: 'system', reason: 'no ACK for 200 OK' }));
    dialog.on('reoffer', (offer) => void reoffers.answer(offer));
  }

  /** DELETE through the API: 480 to the INVITE while it waits (status `canceled`), BYE once answered. */
  hangup(): boolean {
    if (this.#state === 'ended') return false;
    const reason = 'hung up through the API';
    this.#hungUp = true;
    this.end({ by: 'system', reason, rejection: { status: 480, phrase: 'Temporarily Unavailable', warnCode: 399, reason } });
    return true;
  }

  #fail(rejection: Rejection): void {
    this.end({ by: 'system', reason: rejection.reason, rejection });
  }

  /** Tears everything down once, whoever asks first. */
  end(cause: EndCause): void {
    if (this.#state === 'ended') return;
    const answered = this.#dialog !== undefined;
    this.#state = 'ended';
    this.#endedAt = new Date();
    clearTimeout(this.#durationTimer);
    this.#abort.abort();
    let sipStatus = answered ? 200 : 487;
    if (!answered && !this.invite.cancelled) {
      const rejection = (cause.by === 'system' && cause.rejection) || INTERNAL_ERROR;
      sipStatus = rejection.status;
      this.log.warn({ status: rejection.status, reason: rejection.reason }, 'call rejected');
      this.invite.reject(rejection.status, rejection.phrase, {
        warning: { code: rejection.warnCode, text: rejection.reason },
        ...(rejection.status === 503 && { retryAfter: 5 }),
      });
    }
    if (!answered) this.options.observer?.setup(sipStatus);
    const stopReason = this.#transfer.completed ? 'transferred' : cause.by === 'caller' ? 'callended' : 'stopped';
    if (this.#link) this.#link.stop(stopReason);
    else this.#bot?.stop(stopReason);
    const media = this.#media?.stats;
    this.#media?.close();
    const rejected = this.#link?.rejected ?? this.#bot?.rejected;
    this.log.info({ by: cause.by, reason: cause.reason, ...(media && { media }), ...(rejected && { botMessagesRefused: rejected }) }, 'call ended');
    this.#final = { status: answered ? 'completed' : cause.by === 'caller' || this.#hungUp ? 'canceled' : 'failed', sipStatus, cause };
    const facts = this.#facts();
    const bye = answered && cause.by !== 'caller' ? this.#dialog!.bye() : undefined;
    const recording: Promise<RecordingResult | undefined> = this.#recorder?.close() ?? Promise.resolve(undefined);
    void Promise.allSettled([bye, this.#relay?.delete(), recording]).then(async (results) => {
      for (const r of results) if (r.status === 'rejected') this.log.warn({ reason: (r.reason as Error).message }, 'teardown incomplete');
      const recorded = await recording.catch(() => undefined);
      if (recorded) this.log.info({ recording: recorded }, 'recording closed');
      this.emit('ended', reportOf(facts, media, recorded, this.#policy.listenOnly));
    });
  }

  #facts(): CallFacts {
    const { invite } = this;
    const final = this.#final;
    return {
      callSid: this.callSid,
      streamSid: this.streamSid,
      accountSid: this.accountSid,
      sipCallId: invite.callId,
      direction: 'inbound',
      from: invite.from.user ?? invite.from.uri,
      to: invite.to.user ?? invite.to.uri,
      trunk: null,
      customParameters: this.#route?.customParameters ?? {},
      status: final?.status ?? (this.#answeredAt ? 'in-progress' : 'queued'),
      sipStatus: final?.sipStatus ?? (this.#answeredAt ? 200 : null),
      createdAt: this.#startedAt,
      answeredAt: this.#answeredAt,
      endedAt: this.#endedAt,
      cause: final?.cause,
      botConnectMs: this.#botConnectMs,
      dtmf: this.#link?.dtmf ?? '',
      transfer: this.#transfer.facts,
    };
  }

  /**
   * The API's view. Inbound: `queued` while the bot is being connected (the INVITE waits), `in-progress` once
   * answered; then `completed`, `canceled` (the caller's CANCEL, or DELETE before the answer), or `failed` (we
   * rejected the INVITE: sip_status says how).
   */
  record(): CallRecord {
    return recordOf(this.#facts());
  }

}
