// One call: owns its SIP dialog, RTP session and bot session, moves through explicit states, ends exactly once.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { BotConnectError, BotSession, redactUrl, routeCall, type RoutingOptions } from '../bot/index.js';
import { isDtmfDigit, MediaSession, type FrameClock, type RtpPortPool } from '../media/index.js';
import { buildAnswer, negotiate, type NegotiatedAudio } from '../sdp/index.js';
import type { Dialog, IncomingCall } from '../signaling/index.js';

export interface CallOptions {
  readonly log: Logger;
  readonly routing: RoutingOptions;
  readonly media: {
    readonly pool: RtpPortPool;
    readonly clock: FrameClock;
    /** Address in our SDP. */
    readonly advertisedAddress: string;
    readonly maxQueueMs: number;
  };
  readonly bot: {
    readonly connectTimeoutMs: number;
    readonly connectRetries: number;
    readonly maxMessageBytes: number;
    readonly chunkMs: number;
    readonly drainTimeoutMs: number;
    readonly pingIntervalMs: number;
    readonly dtmfDurationMs: number;
  };
  readonly maxDurationMs: number;
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
  | { readonly by: 'caller'; readonly reason: 'bye' | 'cancel' }
  | { readonly by: 'bot'; readonly reason: string }
  | { readonly by: 'system'; readonly reason: string; readonly rejection?: Rejection };

export interface CallEvents {
  /** Everything is released and our BYE, if any, has been answered (or given up on). */
  ended: [cause: EndCause];
}

const INTERNAL_ERROR: Rejection = { status: 500, phrase: 'Server Internal Error', warnCode: 399, reason: 'internal error' };
const RESERVED_CALL_SID = 'x-exotel-callsid';
const RESERVED_ACCOUNT_SID = 'x-exotel-accountsid';

export class Call extends EventEmitter<CallEvents> {
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid = randomUUID().replace(/-/g, '');
  readonly log: Logger;
  #state: CallState = 'setup';
  #dialog: Dialog | undefined;
  #media: MediaSession | undefined;
  #bot: BotSession | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();

  constructor(
    private readonly invite: IncomingCall,
    private readonly options: CallOptions,
  ) {
    super();
    const header = (name: string) => invite.headers.find(([n]) => n.toLowerCase() === name)?.[1]?.trim();
    this.callSid = header(RESERVED_CALL_SID) || randomUUID().replace(/-/g, '');
    this.accountSid = header(RESERVED_ACCOUNT_SID) || 'self-hosted';
    this.log = options.log.child({ call_sid: this.callSid });
    invite.once('cancel', () => this.end({ by: 'caller', reason: 'cancel' }));
  }

  get state(): CallState {
    return this.#state;
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
    if (invite.sdp === undefined) {
      this.#fail({ status: 488, phrase: 'Not Acceptable Here', warnCode: 399, reason: 'INVITE without an SDP offer is not supported' });
      return;
    }
    const negotiation = negotiate(invite.sdp);
    if (!negotiation.ok) {
      const phrase = negotiation.status === 488 ? 'Not Acceptable Here' : 'Bad Request';
      this.#fail({ status: negotiation.status, phrase, warnCode: negotiation.warnCode, reason: negotiation.reason });
      return;
    }
    const route = routeCall(invite.headers, options.routing);
    if (!route.ok) {
      this.#fail({ status: route.status, phrase: route.status === 404 ? 'Not Found' : 'Forbidden', warnCode: 399, reason: route.reason });
      return;
    }
    this.log.info({ bot: redactUrl(route.url), route: route.via, codec: negotiation.audio.codec }, 'call routed');

    let rtp;
    try {
      rtp = await options.media.pool.bind();
    } catch (err) {
      this.#fail({ status: 503, phrase: 'Service Unavailable', warnCode: 399, reason: (err as Error).message });
      return;
    }
    if (this.#isEnded()) {
      rtp.socket.close();
      options.media.pool.release(rtp.port);
      return;
    }
    this.#media = new MediaSession({
      rtp,
      releasePort: () => options.media.pool.release(rtp.port),
      codec: negotiation.audio.codec,
      payloadType: negotiation.audio.payloadType,
      ...(negotiation.audio.dtmfPayloadType !== undefined && { dtmfPayloadType: negotiation.audio.dtmfPayloadType }),
      remote: negotiation.audio.remote,
      botRate: route.sampleRate,
      chunkMs: options.bot.chunkMs,
      maxQueueMs: options.media.maxQueueMs,
      clock: options.media.clock,
      log: this.log,
    });

    let bot: BotSession;
    try {
      bot = await BotSession.connect({
        url: route.url,
        connectTimeoutMs: options.bot.connectTimeoutMs,
        retries: options.bot.connectRetries,
        maxMessageBytes: options.bot.maxMessageBytes,
        pingIntervalMs: options.bot.pingIntervalMs,
        log: this.log,
        signal: this.#abort.signal,
      });
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
    bot.begin({
      streamSid: this.streamSid,
      callSid: this.callSid,
      accountSid: this.accountSid,
      from: invite.from.user ?? invite.from.uri,
      to: invite.to.user ?? invite.to.uri,
      customParameters: route.customParameters,
      sampleRate: route.sampleRate,
    });
    this.#wireBot(bot, this.#media);
    this.#answer(negotiation.audio, this.#media);
  }

  /** Re-reads the state after an await, where `end()` may have run meanwhile. */
  #isEnded(): boolean {
    return this.#state === 'ended';
  }

  #answer(audio: NegotiatedAudio, media: MediaSession): void {
    const sdp = buildAnswer(audio, { address: this.options.media.advertisedAddress, port: media.port, sessionId: Date.now() });
    const dialog = this.invite.answer(sdp);
    this.#dialog = dialog;
    this.#state = 'active';
    media.start();
    this.log.info({ rtp_port: media.port }, 'call answered');
    this.#durationTimer = setTimeout(() => this.end({ by: 'system', reason: 'maximum call duration reached' }), this.options.maxDurationMs);
    dialog.on('bye', () => this.end({ by: 'caller', reason: 'bye' }));
    dialog.on('dtmf', (digit, durationMs) => {
      this.log.info({ digit, source: 'SIP INFO' }, 'caller DTMF');
      this.#bot?.sendDtmf(digit, durationMs ?? 0);
    });
    dialog.on('ackTimeout', () => this.end({ by: 'system', reason: 'no ACK for 200 OK' }));
    dialog.on('remoteSdp', (offer) => {
      const renegotiated = negotiate(offer);
      if (renegotiated.ok) media.setRemote(renegotiated.audio.remote.address, renegotiated.audio.remote.port);
      else this.log.warn({ reason: renegotiated.reason }, 'ignored unusable re-offer');
    });
  }

  #wireBot(bot: BotSession, media: MediaSession): void {
    media.on('callerAudio', (chunk) => bot.sendMedia(chunk));
    media.on('markPlayed', (name) => bot.sendMark(name));
    bot.on('media', (pcm) => media.playBotAudio(pcm));
    bot.on('mark', (name) => media.mark(name));
    bot.on('clear', () => media.clear());
    bot.on('dtmf', (digit, durationMs) => {
      if (isDtmfDigit(digit)) media.sendDtmf(digit, durationMs ?? this.options.bot.dtmfDurationMs);
    });
    media.on('dtmf', (digit, durationMs) => {
      this.log.info({ digit, durationMs, source: 'RFC 4733' }, 'caller DTMF');
      bot.sendDtmf(digit, durationMs);
    });
    bot.on('closed', ({ byBot, code, reason }) => {
      if (!byBot || this.#state === 'ended') return;
      this.log.info({ code, reason }, 'bot closed the stream');
      this.#drain(media);
    });
  }

  /** The bot is gone: let its queued audio reach the caller (bounded), then hang up. */
  #drain(media: MediaSession): void {
    this.#state = 'draining';
    const finish = () => this.end({ by: 'bot', reason: 'bot closed the stream' });
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
    if (!answered && !this.invite.cancelled) {
      const rejection = (cause.by === 'system' && cause.rejection) || INTERNAL_ERROR;
      this.log.warn({ status: rejection.status, reason: rejection.reason }, 'call rejected');
      this.invite.reject(rejection.status, rejection.phrase, {
        warning: { code: rejection.warnCode, text: rejection.reason },
        ...(rejection.status === 503 && { retryAfter: 5 }),
      });
    }
    this.#bot?.stop(cause.by === 'caller' ? 'callended' : 'stopped');
    const media = this.#media?.stats;
    this.#media?.close();
    this.log.info({ by: cause.by, reason: cause.reason, ...(media && { media }) }, 'call ended');
    const bye = answered && cause.by !== 'caller' ? this.#dialog!.bye() : Promise.resolve();
    bye.then(
      () => this.emit('ended', cause),
      (err: Error) => {
        this.log.warn({ reason: err.message }, 'hangup incomplete');
        this.emit('ended', cause);
      },
    );
  }
}
