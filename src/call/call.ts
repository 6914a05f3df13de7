// One inbound call: admits the INVITE, opens its stream leg (RTP and bot, on a media host), answers, moves through
// explicit states and ends exactly once, closing what it owns (leg, relay session, dialog) once.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { accountSid, DEFAULT_ACCOUNT_SID, redactUrl, type BotAddressPolicy, type HeaderLimits, type RoutingOptions } from '../bot/index.js';
import type { RtpengineRelay } from '../media/index.js';
import { buildAnswer, type NegotiatedAudio } from '../sdp/index.js';
import type { Dialog, IncomingCall } from '../signaling/index.js';
import { LegOpenError, type MediaHost } from '../stream/index.js';
import { admitInvite, forbidden, INTERNAL_ERROR, unavailable, unreachable, type Rejection, type Route } from './admission.js';
import { callSide } from './bridge-transfer.js';
import { CallLeg, closeAll, legSpec, mediaFormat, openLeg, streamStart } from './leg.js';
import type { RecordingSettings, StreamPolicy } from './recording.js';
import { InboundRelay } from './relay.js';
import { ReofferAnswerer } from './reoffer.js';
import { recordOf, type CallFacts, type CallRecord, type CallStatus } from './records.js';
import { reportOf, type CallObserver, type CallReport } from './report.js';
import { callTransfer, type CallTransfer, type TransferRefusal, type TransferTargets } from './transfer.js';

export type { Rejection } from './admission.js';

export interface CallMediaOptions {
  /** Where the calls' stream legs run. */
  readonly host: MediaHost;
  /** Address in our SDP. */
  readonly advertisedAddress: string;
  /** rtpengine in front of the bridge's media, when configured. */
  readonly relay?: RtpengineRelay;
}

export interface CallOptions {
  readonly log: Logger;
  readonly routing: RoutingOptions;
  readonly media: CallMediaOptions;
  readonly bot: {
    readonly connectRetries: number;
    /** Where a bot URL from a call header may lead (checked before the leg is opened; the leg checks again). */
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

/** `caller` is the far end, whoever dialled: the phone side of the call. */
export type EndCause =
  | { readonly by: 'caller'; readonly reason: string }
  | { readonly by: 'bot'; readonly reason: string }
  | { readonly by: 'system'; readonly reason: string; readonly rejection?: Rejection };

export interface CallEvents {
  /** Everything is released and our BYE, if any, has been answered (or given up on). */
  ended: [report: CallReport];
}

const RESERVED_CALL_SID = 'x-exotel-callsid';

export class Call extends EventEmitter<CallEvents> {
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid = randomUUID().replace(/-/g, '');
  readonly log: Logger;
  #state: CallState = 'setup';
  #route: Route | undefined;
  #policy: StreamPolicy = { listenOnly: false };
  /** What the call owns, each closed once by `end`. */
  #dialog: Dialog | undefined;
  #leg: CallLeg | undefined;
  #relay: InboundRelay | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  readonly #startedAt = new Date();
  #answeredAt: Date | undefined;
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
    this.#transfer = callTransfer(this.log, (name, fields) => this.#leg?.sendEvent(name, fields), options.observer, (reason) => this.end({ by: 'system', reason }));
  }

  /**
   * Hands the caller to a person (a REFER in the caller's dialog, or an agent bridged to the caller), from the API or the bot (`fromBot`: it then hears
   * a refusal as transfer_status failed). Undefined when started; the outcome goes to the bot as transfer_status.
   */
  transfer(body: unknown, fromBot = false): TransferRefusal | undefined {
    const unavailable = this.#state === 'active' ? undefined : this.#state === 'setup' ? 'the call is not answered yet' : 'the call is ending';
    const side = callSide(this.#leg?.leg, this.options.media, this, this.invite.from.user ?? this.invite.from.uri);
    return this.#transfer.ask(body, { dialog: this.#dialog, unavailable, targets: this.options.transfers, side }, fromBot);
  }

  get state(): CallState {
    return this.#state;
  }

  /** Where this call's report goes: its route's webhook, if it has one. */
  get webhookUrl(): URL | undefined {
    return this.#route?.webhookUrl;
  }

  /** The call's recording settings, when it is recorded (from the answer on). */
  get recordingSettings(): RecordingSettings | undefined {
    return this.#answeredAt && this.#policy.recording;
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
    const admitted = admitInvite(invite, { relayed: options.media.relay !== undefined, headerLimits: options.headerLimits, routing: options.routing });
    if ('status' in admitted) return this.#fail(admitted);
    const { route } = admitted;
    if (route.fromHeader) {
      const refusal = await options.bot.addressPolicy.check(route.url.hostname);
      if (this.#isEnded()) return;
      if (refusal) return this.#fail(forbidden(refusal));
    }
    this.#route = route;
    this.#policy = options.streams?.(route.routeIndex) ?? this.#policy;
    const policy = this.#policy;
    this.log.info(
      { bot: redactUrl(route.url), protocol: route.protocol, route: route.via, codec: admitted.audio.codec, ...(policy.listenOnly && { mode: 'listen' }), ...(policy.recording && { recording: true }) },
      'call routed',
    );

    let audio = admitted.audio;
    if (options.media.relay) {
      this.#relay = new InboundRelay(options.media.relay, invite.callId, invite.from.tag ?? this.streamSid, `bridge-${this.streamSid}`);
      const relayed = await this.#relay.offer(invite.sdp!);
      if (this.#isEnded()) return;
      if ('status' in relayed) return this.#fail(relayed);
      audio = relayed;
    }

    const spec = legSpec(
      { callSid: this.callSid, streamSid: this.streamSid, log: { call_sid: this.callSid } },
      { ...route, checkAddresses: route.fromHeader, announce: false, connectRetries: options.bot.connectRetries },
      policy,
    );
    const leg = await openLeg(options.media.host, spec, this.#abort.signal);
    if (leg instanceof LegOpenError) {
      if (leg.kind !== 'aborted') this.#fail(leg.kind === 'bot' ? unreachable(leg.message) : unavailable(leg.message));
      return;
    }
    if (this.#isEnded()) {
      void leg.close('stopped');
      return;
    }
    this.#leg = new CallLeg(leg, this.log, {
      end: (cause) => this.end(cause),
      draining: () => {
        if (this.#state === 'active') this.#state = 'draining';
      },
      transfer: (body) => void this.transfer(body, true),
    });

    const local = { address: options.media.advertisedAddress, port: leg.port, sessionId: Date.now() };
    const bridgeSdp = buildAnswer(audio, local);
    let carrierSdp = bridgeSdp;
    if (this.#relay) {
      const answer = await this.#relay.answer(bridgeSdp);
      if (this.#isEnded()) return;
      if (typeof answer !== 'string') return this.#fail(answer);
      carrierSdp = answer;
    }
    const relay = this.#relay?.reoffers;
    this.#answer(carrierSdp, audio, route, new ReofferAnswerer({ leg, local, audio, log: this.log, ...(relay && { relay }) }));
  }

  /** Re-reads the state after an await, where `end()` may have run meanwhile. */
  #isEnded(): boolean {
    return this.#state === 'ended';
  }

  #answer(carrierSdp: string, audio: NegotiatedAudio, route: Route, reoffers: ReofferAnswerer): void {
    const { invite } = this;
    const leg = this.#leg!;
    const dialog = invite.answer(carrierSdp);
    this.#dialog = dialog;
    this.#answeredAt = new Date();
    this.#state = 'active';
    this.options.observer?.setup(200);
    const parties = { from: invite.from.user ?? invite.from.uri, to: invite.to.user ?? invite.to.uri, customParameters: route.customParameters };
    leg.leg.start(mediaFormat(audio), streamStart(this, parties, route.sampleRate));
    this.log.info({ rtp_port: leg.leg.port, relayed: this.#relay !== undefined }, 'call answered');
    this.#durationTimer = setTimeout(() => this.end({ by: 'system', reason: 'maximum call duration reached' }), this.options.maxDurationMs);
    dialog.on('bye', () => this.end({ by: 'caller', reason: 'bye' }));
    dialog.on('lost', () => this.end({ by: 'caller', reason: 'connection lost' }));
    dialog.on('dtmf', (digit, durationMs) => leg.sipDtmf(digit, durationMs ?? 0));
    dialog.on('ackTimeout', () => this.end({ by: 'system', reason: 'no ACK for 200 OK' }));
    dialog.on('reoffer', (offer) => void reoffers.answer(offer));
  }

  /** DELETE through the API: 480 to the INVITE while it waits (status `canceled`), BYE once answered. */
  hangup(): boolean {
    if (this.#state === 'ended') return false;
    const reason = 'hung up through the API';
    this.#hungUp = true;
    this.end({ by: 'system', reason, rejection: unreachable(reason) });
    return true;
  }

  #fail(rejection: Rejection): void {
    this.end({ by: 'system', reason: rejection.reason, rejection });
  }

  /** Ends the call once, whoever asks first: rejects or BYEs, then closes the leg and the relay session. */
  end(cause: EndCause): void {
    if (this.#state === 'ended') return;
    const answered = this.#dialog !== undefined;
    this.#state = 'ended';
    this.#endedAt = new Date();
    clearTimeout(this.#durationTimer);
    this.#abort.abort();
    let sipStatus = answered ? 200 : 487;
    if (!answered && !this.invite.cancelled) {
      // A bot that left before the answer is as good as unreachable.
      const rejection = (cause.by === 'system' && cause.rejection) || (cause.by === 'bot' ? unreachable(cause.reason) : INTERNAL_ERROR);
      sipStatus = rejection.status;
      this.log.warn({ status: rejection.status, reason: rejection.reason }, 'call rejected');
      this.invite.reject(rejection.status, rejection.phrase, {
        warning: { code: rejection.warnCode, text: rejection.reason },
        ...(rejection.status === 503 && { retryAfter: 5 }),
      });
    }
    if (!answered) this.options.observer?.setup(sipStatus);
    this.#final = { status: answered ? 'completed' : cause.by === 'caller' || this.#hungUp ? 'canceled' : 'failed', sipStatus, cause };
    // Before the facts: an agent still ringing makes the transfer failed.
    const transferClosed = this.#transfer.close();
    const facts = this.#facts();
    const bye = answered && cause.by !== 'caller' ? this.#dialog!.bye() : undefined;
    const listenOnly = this.#policy.listenOnly;
    void closeAll(this.log, cause, { leg: this.#leg, transferred: this.#transfer.completed }, [bye, this.#relay?.close(), transferClosed]).then((report) =>
      this.emit('ended', reportOf(facts, report, listenOnly)),
    );
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
      botConnectMs: this.#leg?.leg.botConnectMs,
      dtmf: this.#leg?.dtmf ?? '',
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
