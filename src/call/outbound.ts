// A call the bridge places through a trunk: its stream leg first (the bot's WebSocket opens and hears `connected` at
// once), then the INVITE with our offer, `start` at the answer; the leg does the rest, as for an inbound call.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DEFAULT_ACCOUNT_SID, redactUrl, type BotProtocolName, type BotSampleRate } from '../bot/index.js';
import { buildOffer, negotiate } from '../sdp/index.js';
import type { DialFailure, Dialog, HeaderFields, OutgoingCall, SipBackend } from '../signaling/index.js';
import { LegOpenError } from '../stream/index.js';
import type { CallEvents, CallOptions, EndCause } from './call.js';
import { callSide } from './bridge-transfer.js';
import { CallLeg, closeAll, legSpec, mediaFormat, openLeg, streamStart } from './leg.js';
import { recordOf, statusOfFailure, type CallFacts, type CallRecord, type CallStatus } from './records.js';
import type { RecordingSettings, StreamPolicy } from './recording.js';
import { settledWithin, whenSettled } from './invite-settle.js';
import { OutboundRelay } from './relay.js';
import { ReofferAnswerer } from './reoffer.js';
import { reportOf } from './report.js';
import type { PacerTicket, Trunk } from './trunks.js';
import { callTransfer, type CallTransfer, type TransferRefusal } from './transfer.js';

export interface OutboundRequest {
  readonly trunk: Trunk;
  /** Request-URI and To. */
  readonly uri: string;
  readonly from: string;
  readonly to: string;
  /** The bot, with its protocol (exotel when not given) and upgrade-request headers, as for an inbound call. */
  readonly bot: { readonly url: URL; readonly sampleRate: BotSampleRate; readonly protocol?: BotProtocolName; readonly headers?: Readonly<Record<string, string>> };
  /** The routing rule that chose the bot (its index in routing.routes), for the stream policy; absent for bot_url or the default bot. */
  readonly routeIndex?: number;
  readonly customParameters: Readonly<Record<string, string>>;
  /** The request's X- headers, after the trunk's. */
  readonly headers: HeaderFields;
  readonly webhookUrl?: URL;
  readonly ringTimeoutMs: number;
}

export interface OutboundOptions extends CallOptions {
  readonly backend: SipBackend;
}

export interface OutboundCallEvents extends CallEvents {
  /** `ringing` (the first 180/183) and `in-progress` (the answer), for status webhooks. */
  status: [record: CallRecord];
}

const sid = () => randomUUID().replace(/-/g, '');

export class OutboundCall extends EventEmitter<OutboundCallEvents> {
  readonly callSid = sid();
  readonly streamSid = sid();
  readonly log: Logger;
  #status: CallStatus = 'queued';
  #sipStatus: number | null = null;
  #ended = false;
  #draining = false;
  readonly #policy: StreamPolicy;
  /** What the call owns, each closed once by `end`. */
  #leg: CallLeg | undefined;
  /** rtpengine's session for the call, when it faces the trunk (`media.relay: rtpengine`). */
  #relay: OutboundRelay | undefined;
  #outgoing: OutgoingCall | undefined;
  #dialog: Dialog | undefined;
  /** The SDP offer for the INVITE: ours, or rtpengine's rewrite of ours. */
  #offer: string | undefined;
  #settled: Promise<void> = Promise.resolve();
  #ringTimer: NodeJS.Timeout | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  readonly #createdAt = new Date();
  #answeredAt: Date | undefined;
  #endedAt: Date | undefined;
  #cause: EndCause | undefined;
  readonly #transfer: CallTransfer;

  constructor(
    readonly request: OutboundRequest,
    private readonly options: OutboundOptions,
    private readonly ticket: PacerTicket,
  ) {
    super();
    this.log = options.log.child({ call_sid: this.callSid, direction: 'outbound' });
    this.#policy = options.streams?.(request.routeIndex) ?? { listenOnly: false };
    this.#transfer = callTransfer(this.log, (name, fields) => this.#leg?.sendEvent(name, fields), options.observer, (reason) => this.end({ by: 'system', reason }));
  }

  /** Hands the called party to a person (REFER in its dialog, or an agent bridged to it): as Call.transfer. */
  transfer(body: unknown, fromBot = false): TransferRefusal | undefined {
    const unavailable = this.#ended || this.#draining ? 'the call is ending' : this.#dialog ? undefined : 'the call is not answered yet';
    const side = callSide(this.#leg?.leg, this.options.media, this, this.request.to);
    return this.#transfer.ask(body, { dialog: this.#dialog, unavailable, targets: this.options.transfers, side }, fromBot);
  }

  get status(): CallStatus {
    return this.#status;
  }

  get webhookUrl(): URL | undefined {
    return this.request.webhookUrl;
  }

  /** The call's recording settings, when it is recorded (from the answer on). */
  get recordingSettings(): RecordingSettings | undefined {
    return this.#answeredAt && this.#policy.recording;
  }

  /** Places the call; never throws. */
  async run(): Promise<void> {
    const { request } = this;
    const policy = this.#policy;
    this.log.info(
      { to: request.uri, from: request.from, trunk: request.trunk.name, bot: redactUrl(request.bot.url), protocol: request.bot.protocol ?? 'exotel', ...(policy.listenOnly && { mode: 'listen' }), ...(policy.recording && { recording: true }) },
      'outbound call',
    );
    try {
      await this.#place();
    } catch (err) {
      this.log.error({ err }, 'outbound call setup failed');
      this.#fail('internal error during call setup');
    }
  }

  async #place(): Promise<void> {
    const { options, request } = this;
    // The bot first: no phone rings for a call nobody will talk on. The port is bound before the call waits its turn,
    // so that its INVITE leaves when the pacer says.
    const spec = legSpec(
      { callSid: this.callSid, streamSid: this.streamSid, log: { call_sid: this.callSid, direction: 'outbound' } },
      { ...request.bot, protocol: request.bot.protocol ?? 'exotel', checkAddresses: false, announce: true, connectRetries: options.bot.connectRetries },
      this.#policy,
    );
    const leg = await openLeg(options.media.host, spec, this.#abort.signal);
    if (leg instanceof LegOpenError) {
      if (leg.kind !== 'aborted' && !this.#ended) this.#fail(leg.message);
      return;
    }
    if (this.#ended) {
      void leg.close('stopped');
      return;
    }
    this.#leg = new CallLeg(leg, this.log, {
      end: (cause) => this.end(cause),
      draining: () => (this.#draining = true),
      transfer: (body) => void this.transfer(body, true),
    });
    let sdp = buildOffer({ address: options.media.advertisedAddress, port: leg.port, sessionId: Date.now() });
    if (options.media.relay) {
      // rtpengine faces the trunk: the INVITE carries its carrier-side address, and our offer points it at our socket.
      this.#relay = new OutboundRelay(options.media.relay, this.callSid, this.streamSid);
      const offered = await this.#relay.offer(sdp, request.trunk.srtp === true);
      if (this.#ended) return;
      if (typeof offered !== 'string') return this.#fail(offered.problem);
      sdp = offered;
    }
    this.#offer = sdp;
    this.ticket.ready(() => {
      if (!this.#ended) this.#dial(leg.port);
    });
  }

  #dial(rtpPort: number): void {
    const { options, request } = this;
    const { trunk } = request;
    const sdp = this.#offer!;
    let outgoing: OutgoingCall;
    try {
      outgoing = options.backend.dial({
        uri: request.uri,
        proxy: trunk.uri,
        from: { user: request.from, host: trunk.fromDomain ?? trunk.host },
        headers: [...Object.entries(trunk.headers), ...request.headers],
        sdp,
        ...(trunk.username !== undefined && trunk.password !== undefined && { credentials: { username: trunk.username, password: trunk.password } }),
        ...(trunk.tls?.ca && { tls: { ca: trunk.tls.ca } }),
      });
    } catch (err) {
      this.#fail(`trunk unreachable: ${(err as Error).message}`);
      return;
    }
    this.#outgoing = outgoing;
    this.#status = 'dialing';
    this.log.info({ sip_call_id: outgoing.callId, rtp_port: rtpPort, relayed: this.#relay !== undefined }, 'INVITE sent');
    this.#settled = whenSettled(outgoing);
    this.#ringTimer = setTimeout(
      () => this.end({ by: 'system', reason: `no answer within ${request.ringTimeoutMs / 1000} s` }, 'no-answer'),
      request.ringTimeoutMs,
    );
    outgoing.on('progress', (status) => {
      if ((status === 180 || status === 183) && this.#status === 'dialing') {
        this.#status = 'ringing';
        this.emit('status', this.record());
      }
    });
    outgoing.once('answered', (dialog, answer) => {
      this.#answered(dialog, answer).catch((err: unknown) => {
        this.log.error({ err }, 'outbound call setup failed after the answer');
        this.#fail('internal error during call setup');
      });
    });
    outgoing.once('failed', (failure) => this.#dialFailed(failure));
  }

  #dialFailed(failure: DialFailure): void {
    if (this.#ended) return;
    this.#sipStatus = failure.status;
    this.log.info({ status: failure.status, reason: failure.reason, detail: failure.detail }, 'outbound call not answered');
    const reason = `${failure.status} ${failure.reason}${failure.detail ? ` (${failure.detail})` : ''}`;
    this.end({ by: 'caller', reason }, statusOfFailure(failure.status));
  }

  async #answered(dialog: Dialog, trunkSdp: string): Promise<void> {
    clearTimeout(this.#ringTimer);
    if (this.#ended) {
      // A 200 that crossed our CANCEL or a hang-up.
      dialog.bye().catch(() => {});
      return;
    }
    const { options, request } = this;
    const leg = this.#leg!;
    this.#dialog = dialog;
    this.#sipStatus = 200;
    this.#answeredAt = new Date();
    dialog.on('bye', () => this.end({ by: 'caller', reason: 'bye' }));
    dialog.on('lost', () => this.end({ by: 'caller', reason: 'connection lost' }));
    // Only the 2xx's SDP is the answer: a 183's (early media) is neither relayed nor played to the bot.
    let answerSdp = trunkSdp;
    if (this.#relay) {
      const relayed = await this.#relay.answer(trunkSdp);
      if (this.#ended) return;
      if (typeof relayed !== 'string') return this.#fail(relayed.problem);
      answerSdp = relayed;
    }
    const answer = negotiate(answerSdp);
    if (!answer.ok) return this.#fail(`unusable SDP answer: ${answer.reason}`);
    const audio = answer.audio;
    this.#status = 'in-progress';
    options.observer?.setup(200);
    const parties = { from: request.from, to: request.to, customParameters: request.customParameters };
    leg.leg.start(mediaFormat(audio), streamStart({ callSid: this.callSid, streamSid: this.streamSid, accountSid: DEFAULT_ACCOUNT_SID }, parties, request.bot.sampleRate, 'outbound'));
    this.log.info({ codec: audio.codec, remote: `${audio.remote.address}:${audio.remote.port}` }, 'outbound call answered');
    this.#durationTimer = setTimeout(() => this.end({ by: 'system', reason: 'maximum call duration reached' }), options.maxDurationMs);
    dialog.on('dtmf', (digit, durationMs) => leg.sipDtmf(digit, durationMs ?? 0));
    const local = { address: options.media.advertisedAddress, port: leg.leg.port, sessionId: Date.now() };
    const relay = this.#relay?.reoffers;
    const reoffers = new ReofferAnswerer({ leg: leg.leg, local, audio, log: this.log, ...(relay && { relay }) });
    dialog.on('reoffer', (offer) => void reoffers.answer(offer));
    this.emit('status', this.record());
  }

  #fail(reason: string): void {
    this.end({ by: 'system', reason }, 'failed');
  }

  /** DELETE: CANCEL before the answer (status `canceled`), BYE after. False when the call has already ended. */
  hangup(): boolean {
    if (this.#ended) return false;
    this.end({ by: 'system', reason: 'hung up through the API' }, this.#dialog ? 'completed' : 'canceled');
    return true;
  }

  /** Ends the call once; `status` is the final status when not answered (default `failed`). */
  end(cause: EndCause, status?: CallStatus): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endedAt = new Date();
    this.#cause = cause;
    clearTimeout(this.#ringTimer);
    clearTimeout(this.#durationTimer);
    this.#abort.abort();
    this.ticket.cancel();
    const answered = this.#dialog !== undefined;
    this.#status = answered && status !== 'failed' ? 'completed' : (status ?? 'failed');
    if (!answered && this.#outgoing) {
      this.#sipStatus ??= 487;
      this.#outgoing.cancel();
    }
    if (!answered) this.options.observer?.setup(this.#sipStatus ?? 503);
    // Before the facts: an agent still ringing makes the transfer failed.
    const transferClosed = this.#transfer.close();
    const facts = this.#facts();
    const bye = answered && cause.by !== 'caller' ? this.#dialog!.bye() : undefined;
    // A CANCELled INVITE is done when its final response comes (or the transaction gives up).
    const settled = settledWithin(this.#settled);
    const listenOnly = this.#policy.listenOnly;
    const ending = { leg: this.#leg, transferred: this.#transfer.completed };
    void closeAll(this.log, cause, ending, [bye, settled, this.#relay?.close(), transferClosed], { status: this.#status }).then((report) =>
      this.emit('ended', reportOf(facts, report, listenOnly)),
    );
  }

  #facts(): CallFacts {
    const { request } = this;
    return {
      callSid: this.callSid,
      streamSid: this.streamSid,
      accountSid: DEFAULT_ACCOUNT_SID,
      sipCallId: this.#outgoing?.callId ?? '',
      direction: 'outbound',
      from: request.from,
      to: request.to,
      trunk: request.trunk.name,
      customParameters: request.customParameters,
      status: this.#status,
      sipStatus: this.#sipStatus,
      createdAt: this.#createdAt,
      answeredAt: this.#answeredAt,
      endedAt: this.#endedAt,
      cause: this.#cause,
      botConnectMs: this.#leg?.leg.botConnectMs,
      dtmf: this.#leg?.dtmf ?? '',
      transfer: this.#transfer.facts,
    };
  }

  record(): CallRecord {
    return recordOf(this.#facts());
  }
}
