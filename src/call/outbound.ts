// A call the bridge places through a trunk: the bot's WebSocket first (`connected` at once), then the INVITE with
// our offer, `start` at the answer, and from then on the same media and bot plumbing as an inbound call.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { BotConnectError, DEFAULT_ACCOUNT_SID, redactUrl, type BotProtocolName, type BotSampleRate, type BotSession } from '../bot/index.js';
import type { BoundRtpSocket, MediaSession, OutboundRelaySession } from '../media/index.js';
import { buildOffer, negotiate, RELAYABLE_TRANSPORTS } from '../sdp/index.js';
import type { DialFailure, Dialog, HeaderFields, OutgoingCall, SipBackend } from '../signaling/index.js';
import { BotLink, connectBot } from './bot-link.js';
import type { CallEvents, CallOptions, EndCause } from './call.js';
import { openMediaSession } from './media.js';
import { recordOf, statusOfFailure, type CallFacts, type CallRecord, type CallStatus } from './records.js';
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

/** How long a CANCELled INVITE may take to end (64*T1 with the default T1). */
const SETTLE_MS = 32_000;
const sid = () => randomUUID().replace(/-/g, '');

export class OutboundCall extends EventEmitter<OutboundCallEvents> {
  readonly callSid = sid();
  readonly streamSid = sid();
  readonly log: Logger;
  #status: CallStatus = 'queued';
  #sipStatus: number | null = null;
  #ended = false;
  #draining = false;
  #bot: BotSession | undefined;
  #link: BotLink | undefined;
  #rtp: BoundRtpSocket | undefined;
  /** rtpengine's session for the call, when it faces the trunk (`media.relay: rtpengine`). */
  #relay: OutboundRelaySession | undefined;
  /** Settles when rtpengine has had our offer (or gave up on it): its `delete` goes after. */
  #relayOffered: Promise<unknown> = Promise.resolve();
  /** The SDP offer for the INVITE: ours, or rtpengine's rewrite of ours. */
  #offer: string | undefined;
  #media: MediaSession | undefined;
  #outgoing: OutgoingCall | undefined;
  #settled: Promise<void> = Promise.resolve();
  #dialog: Dialog | undefined;
  #ringTimer: NodeJS.Timeout | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  readonly #createdAt = new Date();
  #answeredAt: Date | undefined;
  #endedAt: Date | undefined;
  #cause: EndCause | undefined;
  #botConnectMs: number | undefined;
  readonly #transfer: CallTransfer;

  constructor(
    readonly request: OutboundRequest,
    private readonly options: OutboundOptions,
    private readonly ticket: PacerTicket,
  ) {
    super();
    this.log = options.log.child({ call_sid: this.callSid, direction: 'outbound' });
    this.#transfer = callTransfer(this.log, (name, fields) => this.#link?.sendEvent(name, fields), options.observer, () =>
      this.end({ by: 'system', reason: 'transferred' }),
    );
  }

  /** Hands the called party to a person (REFER in its dialog): as Call.transfer. */
  transfer(body: unknown, fromBot = false): TransferRefusal | undefined {
    const unavailable = this.#ended || this.#draining ? 'the call is ending' : this.#dialog ? undefined : 'the call is not answered yet';
    return this.#transfer.ask(body, { dialog: this.#dialog, unavailable, targets: this.options.transfers }, fromBot);
  }

  get status(): CallStatus {
    return this.#status;
  }

  get webhookUrl(): URL | undefined {
    return this.request.webhookUrl;
  }

  get liveMedia(): { readonly packets: MediaSession['packetCounts']; readonly queuedMs: number } | undefined {
    return this.#media && { packets: this.#media.packetCounts, queuedMs: this.#media.queuedMs };
  }

  /** Places the call; never throws. */
  async run(): Promise<void> {
    const { request } = this;
    this.log.info({ to: request.uri, from: request.from, trunk: request.trunk.name, bot: redactUrl(request.bot.url), protocol: request.bot.protocol ?? 'exotel' }, 'outbound call');
    try {
      await this.#place();
    } catch (err) {
      this.log.error({ err }, 'outbound call setup failed');
      this.#fail('internal error during call setup');
    }
  }

  async #place(): Promise<void> {
    const { options, request } = this;
    // The bot first: no phone rings for a call nobody will talk on.
    const connecting = performance.now();
    try {
      this.#bot = await connectBot(options.bot, request.bot, this.log, this.#abort.signal);
    } catch (err) {
      if (!this.#ended) this.#fail(err instanceof BotConnectError ? `bot unreachable: ${err.message}` : String(err));
      return;
    }
    if (this.#ended) {
      this.#bot.close();
      return;
    }
    this.#botConnectMs = performance.now() - connecting;
    options.observer?.botConnected(this.#botConnectMs);
    this.#bot.announce();
    this.#bot.on('closed', ({ byBot }) => {
      if (byBot && !this.#dialog) this.end({ by: 'bot', reason: 'bot closed the stream before the answer' });
    });

    // The port is bound before the call waits its turn, so that its INVITE leaves when the pacer says.
    try {
      this.#rtp = await options.media.pool.bind();
    } catch (err) {
      this.#fail((err as Error).message);
      return;
    }
    if (this.#ended) {
      this.#releasePort();
      return;
    }
    const rtp = this.#rtp;
    let sdp = buildOffer({ address: options.media.advertisedAddress, port: rtp.port, sessionId: Date.now() });
    const relay = options.media.relay;
    if (relay) {
      // rtpengine faces the trunk: the INVITE carries its carrier-side address, and our offer points it at our socket.
      // The call's rtpengine session is keyed by the call's sid, known before the SIP Call-ID exists.
      this.#relay = relay.outboundSession(`bridge-out-${this.callSid}`, `bridge-${this.streamSid}`, `trunk-${this.streamSid}`);
      const offering = this.#relay.offer(sdp, request.trunk.srtp ? 'RTP/SAVP' : 'RTP/AVP');
      this.#relayOffered = offering.catch(() => {});
      try {
        sdp = await offering;
      } catch (err) {
        this.#fail(`media relay: ${(err as Error).message}`);
        return;
      }
      if (this.#ended) return;
    }
    this.#offer = sdp;
    this.ticket.ready(() => {
      if (!this.#ended) this.#dial(rtp);
    });
  }

  #dial(rtp: BoundRtpSocket): void {
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
    this.log.info({ sip_call_id: outgoing.callId, rtp_port: rtp.port, relayed: this.#relay !== undefined }, 'INVITE sent');
    this.#settled = new Promise((resolve) => {
      outgoing.once('answered', () => resolve());
      outgoing.once('failed', () => resolve());
    });
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
      this.#answered(dialog, answer, rtp).catch((err: unknown) => {
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

  async #answered(dialog: Dialog, trunkSdp: string, rtp: BoundRtpSocket): Promise<void> {
    clearTimeout(this.#ringTimer);
    if (this.#ended) {
      // A 200 that crossed our CANCEL or a hang-up.
      dialog.bye().catch(() => {});
      return;
    }
    const { options, request } = this;
    this.#dialog = dialog;
    this.#sipStatus = 200;
    this.#answeredAt = new Date();
    dialog.on('bye', () => this.end({ by: 'caller', reason: 'bye' }));
    dialog.on('lost', () => this.end({ by: 'caller', reason: 'connection lost' }));
    // Only the 2xx's SDP is the answer: a 183's (early media) is neither relayed nor played to the bot.
    let answerSdp = trunkSdp;
    const relay = this.#relay;
    if (relay) {
      // Checked before rtpengine hears of it, as with a carrier's offer.
      const checked = negotiate(trunkSdp, RELAYABLE_TRANSPORTS);
      if (!checked.ok) {
        this.end({ by: 'system', reason: `unusable SDP answer: ${checked.reason}` }, 'failed');
        return;
      }
      try {
        answerSdp = await relay.answer(trunkSdp);
      } catch (err) {
        this.#fail(`media relay: ${(err as Error).message}`);
        return;
      }
      if (this.#ended) return;
    }
    const answer = negotiate(answerSdp);
    if (!answer.ok) {
      this.end({ by: 'system', reason: `unusable SDP answer: ${answer.reason}` }, 'failed');
      return;
    }
    const audio = answer.audio;
    const media = openMediaSession(options.media, rtp, audio, { rate: request.bot.sampleRate, chunkMs: options.bot.chunkMs, callerAudio: this.#bot!.callerAudio }, this.log, options.observer);
    this.#media = media;
    this.#rtp = undefined;
    this.#status = 'in-progress';
    options.observer?.setup(200);
    media.start();
    this.log.info({ codec: audio.codec, remote: `${audio.remote.address}:${audio.remote.port}` }, 'outbound call answered');
    this.#link = new BotLink(media, this.#bot!, {
      settings: options.bot,
      log: this.log,
      ...(options.observer && { observer: options.observer }),
      start: {
        streamSid: this.streamSid,
        callSid: this.callSid,
        accountSid: DEFAULT_ACCOUNT_SID,
        from: request.from,
        to: request.to,
        customParameters: request.customParameters,
        sampleRate: request.bot.sampleRate,
        direction: 'outbound',
      },
      reconnect: () => connectBot(options.bot, request.bot, this.log, this.#abort.signal, 0),
      isActive: () => !this.#ended && !this.#draining,
      isEnded: () => this.#ended,
      onDraining: () => (this.#draining = true),
      end: (by, reason) => this.end({ by, reason }),
      rtpTimeoutMs: options.media.rtpTimeoutMs,
      onTransfer: (body) => void this.transfer(body, true),
    });
    this.#durationTimer = setTimeout(() => this.end({ by: 'system', reason: 'maximum call duration reached' }), options.maxDurationMs);
    dialog.on('dtmf', (digit, durationMs) => this.#link?.callerDtmf(digit, durationMs ?? 0));
    const local = { address: options.media.advertisedAddress, port: media.port, sessionId: Date.now() };
    const reoffers = new ReofferAnswerer({ media, local, audio, log: this.log, ...(relay && { relay: { session: relay.reoffers, tag: relay.bridgeTag } }) });
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

  /** Tears everything down once; `status` is the final status when not answered (default `failed`). */
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
    const stopReason = this.#transfer.completed ? 'transferred' : cause.by === 'caller' ? 'callended' : 'stopped';
    if (this.#link) this.#link.stop(stopReason);
    else this.#bot?.close();
    const stats = this.#media?.stats;
    this.#media?.close();
    this.#releasePort();
    this.log.info({ by: cause.by, reason: cause.reason, status: this.#status, ...(stats && { media: stats }) }, 'call ended');
    const report = reportOf(this.#facts(), stats);
    const bye = answered && cause.by !== 'caller' ? this.#dialog!.bye() : undefined;
    // rtpengine forgets the call at every ending, answered or not; after its offer, if that is still on its way.
    const relay = this.#relay;
    const relayGone = relay && this.#relayOffered.then(() => relay.delete());
    // A CANCELled INVITE is done when its final response comes (or the transaction gives up). The bound's timer goes
    // with it: left to run, every ended call would keep one (and what it holds) for SETTLE_MS.
    let bound: NodeJS.Timeout | undefined;
    const settled = Promise.race([this.#settled, new Promise<void>((resolve) => (bound = setTimeout(resolve, SETTLE_MS)).unref())]).finally(() => clearTimeout(bound));
    void Promise.allSettled([bye, settled, relayGone]).then((results) => {
      for (const r of results) if (r.status === 'rejected') this.log.warn({ reason: (r.reason as Error).message }, 'teardown incomplete');
      this.emit('ended', report);
    });
  }

  #releasePort(): void {
    if (!this.#rtp) return;
    this.#rtp.socket.close();
    this.options.media.pool.release(this.#rtp.port);
    this.#rtp = undefined;
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
      botConnectMs: this.#botConnectMs,
      dtmf: this.#link?.dtmf ?? '',
      transfer: this.#transfer.facts,
    };
  }

  record(): CallRecord {
    return recordOf(this.#facts());
  }
}
