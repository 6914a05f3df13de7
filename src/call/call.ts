// One call: owns its SIP dialog, RTP session and bot session, moves through explicit states, ends exactly once.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  accountSid,
  BotConnectError,
  BotSession,
  customHeaderProblem,
  redactUrl,
  routeCall,
  type BotAddressPolicy,
  type HeaderLimits,
  type RouteDecision,
  type RoutingOptions,
  type StreamStart,
} from '../bot/index.js';
import {
  isDtmfDigit,
  MediaSession,
  type FrameClock,
  type MediaStats,
  type RelaySession,
  type RtpengineRelay,
  type RtpPortPool,
} from '../media/index.js';
import { buildAnswer, negotiate, RELAYABLE_TRANSPORTS, type SdpRejection } from '../sdp/index.js';
import type { Dialog, IncomingCall } from '../signaling/index.js';
import { ReofferAnswerer } from './reoffer.js';
import type { CallObserver, CallReport } from './report.js';

export interface CallOptions {
  readonly log: Logger;
  readonly routing: RoutingOptions;
  readonly media: {
    readonly pool: RtpPortPool;
    readonly clock: FrameClock;
    /** Address in our SDP. */
    readonly advertisedAddress: string;
    readonly maxQueueMs: number;
    readonly latch: 'sdp-ip' | 'any';
    readonly rtpTimeoutMs: number;
    /** rtpengine in front of the bridge's media, when configured. */
    readonly relay?: RtpengineRelay;
  };
  readonly bot: {
    readonly connectTimeoutMs: number;
    readonly connectRetries: number;
    readonly maxMessageBytes: number;
    readonly chunkMs: number;
    readonly drainTimeoutMs: number;
    readonly pingIntervalMs: number;
    readonly dtmfDurationMs: number;
    /** A dropped bot connection (no clean close): hang up, or connect again once. */
    readonly onDrop: 'hangup' | 'reconnect';
    /** Where a bot URL from a call header may lead. */
    readonly addressPolicy: BotAddressPolicy;
  };
  readonly headerLimits: HeaderLimits;
  readonly maxDurationMs: number;
  readonly observer?: CallObserver;
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

export type EndCause =
  | { readonly by: 'caller'; readonly reason: 'bye' | 'cancel' | 'connection lost' }
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
  #relay: RelaySession | undefined;
  #route: Extract<RouteDecision, { ok: true }> | undefined;
  #start: StreamStart | undefined;
  #reconnected = false;
  #drainTimer: NodeJS.Timeout | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  readonly #startedAt = new Date();
  #answeredAt: Date | undefined;
  #botConnectMs: number | undefined;
  #dtmf = '';

  constructor(
    private readonly invite: IncomingCall,
    private readonly options: CallOptions,
  ) {
    super();
    const header = (name: string) => invite.headers.find(([n]) => n.toLowerCase() === name)?.[1]?.trim();
    this.callSid = header(RESERVED_CALL_SID) || randomUUID().replace(/-/g, '');
    this.accountSid = accountSid(invite.headers) ?? 'self-hosted';
    this.log = options.log.child({ call_sid: this.callSid });
    invite.once('cancel', () => this.end({ by: 'caller', reason: 'cancel' }));
  }

  get state(): CallState {
    return this.#state;
  }

  /** Where this call's report goes: its route's webhook, if it has one. */
  get webhookUrl(): URL | undefined {
    return this.#route?.webhookUrl;
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
    this.log.info({ bot: redactUrl(route.url), route: route.via, codec: carrierOffer.audio.codec }, 'call routed');

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
    const media = new MediaSession({
      rtp,
      releasePort: () => options.media.pool.release(rtp.port),
      codec: audio.codec,
      payloadType: audio.payloadType,
      ...(audio.dtmfPayloadType !== undefined && { dtmfPayloadType: audio.dtmfPayloadType }),
      remote: audio.remote,
      direction: audio.direction,
      botRate: route.sampleRate,
      chunkMs: options.bot.chunkMs,
      maxQueueMs: options.media.maxQueueMs,
      latch: options.media.latch,
      rtpTimeoutMs: options.media.rtpTimeoutMs,
      clock: options.media.clock,
      log: this.log,
      ...(options.observer && { onLatency: options.observer.latency.bind(options.observer) }),
    });
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
    this.#start = {
      streamSid: this.streamSid,
      callSid: this.callSid,
      accountSid: this.accountSid,
      from: invite.from.user ?? invite.from.uri,
      to: invite.to.user ?? invite.to.uri,
      customParameters: route.customParameters,
      sampleRate: route.sampleRate,
    };
    bot.begin(this.#start);
    this.#wireMedia(media);
    this.#wireBot(bot, media);
    const relayLeg = this.#relay && { session: this.#relay, tag: this.#relayTag };
    this.#answer(carrierSdp, media, new ReofferAnswerer({ media, local, audio, log: this.log, ...(relayLeg && { relay: relayLeg }) }));
  }

  #connectBot(route: Extract<RouteDecision, { ok: true }>, retries: number): Promise<BotSession> {
    const { bot } = this.options;
    return BotSession.connect({
      url: route.url,
      connectTimeoutMs: bot.connectTimeoutMs,
      retries,
      maxMessageBytes: bot.maxMessageBytes,
      pingIntervalMs: bot.pingIntervalMs,
      // A URL from a call header is held to the address policy at connection time too: DNS may answer differently.
      ...(route.fromHeader && { lookup: bot.addressPolicy.lookup }),
      log: this.log,
      signal: this.#abort.signal,
    });
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
    media.start();
    this.log.info({ rtp_port: media.port, relayed: this.#relay !== undefined }, 'call answered');
    this.#durationTimer = setTimeout(() => this.end({ by: 'system', reason: 'maximum call duration reached' }), this.options.maxDurationMs);
    dialog.on('bye', () => this.end({ by: 'caller', reason: 'bye' }));
    dialog.on('lost', () => this.end({ by: 'caller', reason: 'connection lost' }));
    dialog.on('dtmf', (digit, durationMs) => {
      this.log.info({ digit, source: 'SIP INFO' }, 'caller DTMF');
      this.#callerDtmf(digit, durationMs ?? 0);
    });
    dialog.on('ackTimeout', () => this.end({ by: 'system', reason: 'no ACK for 200 OK' }));
    dialog.on('reoffer', (offer) => void reoffers.answer(offer));
  }

  /** Media events go to whichever bot session is current (there is a second one after a reconnect). */
  #wireMedia(media: MediaSession): void {
    media.on('callerAudio', (chunk) => this.#bot?.sendMedia(chunk));
    media.on('markPlayed', (name) => this.#bot?.sendMark(name));
    media.on('dtmf', (digit, durationMs) => {
      this.log.info({ digit, durationMs, source: 'RFC 4733' }, 'caller DTMF');
      this.#callerDtmf(digit, durationMs);
    });
    media.on('rtpTimeout', () => this.end({ by: 'system', reason: `no RTP from the caller for ${this.options.media.rtpTimeoutMs} ms` }));
  }

  #callerDtmf(digit: string, durationMs: number): void {
    this.#dtmf += digit;
    this.options.observer?.dtmf('caller_to_bot');
    this.#bot?.sendDtmf(digit, durationMs);
  }

  #wireBot(bot: BotSession, media: MediaSession): void {
    bot.on('media', (pcm, receivedAt) => media.playBotAudio(pcm, receivedAt));
    bot.on('mark', (name) => media.mark(name));
    bot.on('clear', () => media.clear());
    bot.on('dtmf', (digit, durationMs) => {
      if (!isDtmfDigit(digit)) return;
      this.options.observer?.dtmf('bot_to_caller');
      media.sendDtmf(digit, durationMs ?? this.options.bot.dtmfDurationMs);
    });
    bot.on('closed', ({ byBot, clean, code, reason }) => {
      if (!byBot || bot !== this.#bot || this.#state !== 'active') return;
      if (!clean && this.options.bot.onDrop === 'reconnect' && !this.#reconnected) {
        this.log.warn({ code, reason }, 'bot connection dropped: connecting again once');
        void this.#reconnect(media);
        return;
      }
      this.log.info({ code, reason, clean }, clean ? 'bot closed the stream' : 'bot connection dropped');
      this.#drain(media, clean ? 'bot closed the stream' : `bot connection dropped (${code}${reason ? ` ${reason}` : ''})`);
    });
  }

  /** A second connection with the same stream_sid and a new `start`; the caller hears silence meanwhile. */
  async #reconnect(media: MediaSession): Promise<void> {
    this.#reconnected = true;
    this.#bot = undefined;
    media.clear();
    let bot: BotSession;
    try {
      bot = await this.#connectBot(this.#route!, 0);
    } catch (err) {
      this.end({ by: 'bot', reason: `bot connection dropped and could not be made again: ${(err as Error).message}` });
      return;
    }
    if (this.#isEnded()) {
      bot.close();
      return;
    }
    this.#bot = bot;
    bot.begin(this.#start!);
    this.#wireBot(bot, media);
    this.log.info('bot connected again');
  }

  /** The bot is gone: let its queued audio reach the caller (bounded), then hang up. */
  #drain(media: MediaSession, reason: string): void {
    this.#state = 'draining';
    const finish = () => this.end({ by: 'bot', reason });
    void media.drained().then(finish);
    this.#drainTimer = setTimeout(finish, this.options.bot.drainTimeoutMs);
  }

  #fail(rejection: Rejection): void {
    this.end({ by: 'system', reason: rejection.reason, rejection });
  }

  /** Tears everything down once, whoever asks first. */
  end(cause: EndCause): void {
    if (this.#state === 'ended') return;
    const answered = this.#dialog !== undefined;
    this.#state = 'ended';
    clearTimeout(this.#drainTimer);
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
    this.#bot?.stop(cause.by === 'caller' ? 'callended' : 'stopped');
    const media = this.#media?.stats;
    this.#media?.close();
    this.log.info({ by: cause.by, reason: cause.reason, ...(media && { media }), ...(this.#bot && { botMessagesRefused: this.#bot.rejected }) }, 'call ended');
    const report = this.#buildReport(cause, sipStatus, media);
    const bye = answered && cause.by !== 'caller' ? this.#dialog!.bye() : undefined;
    void Promise.allSettled([bye, this.#relay?.delete()]).then((results) => {
      for (const r of results) if (r.status === 'rejected') this.log.warn({ reason: (r.reason as Error).message }, 'teardown incomplete');
      this.emit('ended', report);
    });
  }

  #buildReport(cause: EndCause, sipStatus: number, media: MediaStats | undefined): CallReport {
    const { invite } = this;
    const endedAt = new Date();
    const answeredAt = this.#answeredAt;
    return {
      call_sid: this.callSid,
      stream_sid: this.streamSid,
      account_sid: this.accountSid,
      sip_call_id: invite.callId,
      from: invite.from.user ?? invite.from.uri,
      to: invite.to.user ?? invite.to.uri,
      custom_parameters: this.#route?.customParameters ?? {},
      started_at: this.#startedAt.toISOString(),
      answered_at: answeredAt?.toISOString() ?? null,
      ended_at: endedAt.toISOString(),
      duration_s: answeredAt ? (endedAt.getTime() - answeredAt.getTime()) / 1000 : 0,
      disconnected_by: cause.by,
      end_reason: cause.reason,
      sip_status: sipStatus,
      bot_connect_ms: this.#botConnectMs === undefined ? null : Math.round(this.#botConnectMs * 10) / 10,
      dtmf: this.#dtmf,
      media: media
        ? {
            packets_in: media.packetsIn,
            packets_out: media.packetsOut,
            packets_lost: media.packetsLost,
            jitter_ms: media.jitterMs,
            latency_ms: {
              caller_to_bot: { mean: media.latency.caller_to_bot.meanMs, p99: media.latency.caller_to_bot.p99Ms },
              bot_to_caller: { mean: media.latency.bot_to_caller.meanMs, p99: media.latency.bot_to_caller.p99Ms },
            },
          }
        : null,
    };
  }
}
