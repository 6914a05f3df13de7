// A stream leg run in this thread: the RTP socket bound and the bot connected by the host, the media session and the
// bot link from `start`, the recorder when the spec asks; closed once, handing back what it measured.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { BotAddressPolicy, BotSession, StopReason, StreamStart } from '../bot/index.js';
import { MediaSession, type BoundRtpSocket, type CallRecorder, type FrameClock, type MediaFormat, type MediaStats, type RtpPortPool } from '../media/index.js';
import { BotLink, connectBot } from './bot-link.js';
import { LegPeer, playSipDtmf } from './peer.js';
import { openRecorder } from './recording.js';
import type { HostSettings, LegEnd, LegObserver, LegReport, LegSpec, LiveMedia, PeerBot, StreamLeg, StreamLegEvents } from './types.js';

/** What a leg uses of its host. */
export interface LegContext {
  readonly settings: HostSettings;
  readonly pool: RtpPortPool;
  readonly clock: FrameClock;
  readonly policy: BotAddressPolicy;
  readonly observer: LegObserver;
  readonly log: Logger;
  /** The leg has closed (its last counts, for the host's totals). */
  readonly closed: (leg: LocalLeg, packets: LiveMedia['packets'] | undefined) => void;
}

/**
 * open:     port bound, bot connected; the call is not answered yet
 * started:  media flows, the bot has had `start`
 * draining: the bot closed; its queued audio plays out before `end`
 * closed:   everything released
 */
type LegState = 'open' | 'started' | 'draining' | 'closed';

export class LocalLeg extends EventEmitter<StreamLegEvents> implements StreamLeg {
  readonly port: number;
  #state: LegState = 'open';
  #media: MediaSession | undefined;
  #link: BotLink | undefined;
  #recorder: CallRecorder | undefined;
  /** A bridge transfer's agent: its RTP, then its media joined to the caller's. */
  #peer: LegPeer | undefined;
  /** Counts closePeer calls: an open that a close overtook gives its port back. */
  #peerEpoch = 0;
  #peerOpening = false;
  /** The joined agent's media as it closed, for the report. */
  #peerMedia: MediaStats | undefined;
  #ended = false;
  #closing: Promise<LegReport> | undefined;
  readonly #abort = new AbortController();

  constructor(
    private readonly spec: LegSpec,
    private readonly rtp: BoundRtpSocket,
    private readonly bot: BotSession,
    readonly botConnectMs: number,
    private readonly context: LegContext,
  ) {
    super();
    this.port = rtp.port;
    // Before `start` (an outbound call ringing), a bot that leaves ends the call.
    bot.on('closed', ({ byBot }) => {
      if (byBot && this.#state === 'open') this.#end({ by: 'bot', reason: 'bot closed the stream before the answer' });
    });
  }

  get live(): LiveMedia | undefined {
    const media = this.#media;
    return media && { packets: media.packetCounts, queuedMs: media.queuedMs };
  }

  start(format: MediaFormat, start: StreamStart): void {
    if (this.#state !== 'open') return;
    this.#state = 'started';
    const { spec, context } = this;
    const { settings, observer, log } = context;
    const media = new MediaSession({
      rtp: this.rtp,
      releasePort: () => context.pool.release(this.rtp.port),
      // codec, payload types, remote address and direction, as the answer settled them.
      ...format,
      botRate: spec.bot.sampleRate,
      // A bot that takes mu-law gets the caller's payloads: the session then skips the PCM path.
      callerAudio: this.bot.callerAudio,
      chunkMs: settings.chunkMs,
      ...(spec.listenOnly && { listenOnly: true }),
      maxQueueMs: settings.maxQueueMs,
      latch: settings.latch,
      rtpTimeoutMs: settings.rtpTimeoutMs,
      clock: context.clock,
      log,
      onLatency: observer.latency.bind(observer),
    });
    this.#media = media;
    this.#link = new BotLink(media, this.bot, {
      settings: settings.bot,
      log,
      observer,
      start,
      reconnect: () => connectBot(settings.bot, spec.bot, context.policy, log, this.#abort.signal, 0),
      isActive: () => this.#state === 'started',
      isClosed: () => this.#state === 'closed',
      onDraining: () => {
        // Joined to an agent, the call no longer needs the bot: it may leave.
        if (this.#peer?.joined) return;
        this.#state = 'draining';
        this.emit('draining');
      },
      end: (by, reason) => {
        if (by === 'bot' && this.#peer?.joined) log.info({ reason }, 'bot left; the caller and the agent go on');
        else this.#end({ by, reason });
      },
      rtpTimeoutMs: settings.rtpTimeoutMs,
      onCallerDtmf: (digit, durationMs) => this.emit('callerDtmf', digit, durationMs),
      onTransfer: (body) => this.emit('botMessage', { type: 'transfer', body }),
    });
    if (spec.recording) {
      this.#recorder = openRecorder(spec.recording, spec.callSid, spec.bot.sampleRate, log, () => observer.recordingError?.());
      media.record(this.#recorder);
    }
    media.start();
  }

  renegotiate(format: MediaFormat): void {
    this.#media?.renegotiate(format);
  }

  callerDtmf(digit: string, durationMs: number): void {
    this.#link?.callerDtmf(digit, durationMs);
    this.#peer?.relayDtmf(digit, durationMs);
  }

  sendEvent(name: string, fields: Readonly<Record<string, unknown>>): void {
    if (this.#link) this.#link.sendEvent(name, fields);
    else this.bot.sendEvent(name, fields, this.spec.streamSid);
  }

  async openPeer(): Promise<number> {
    if (this.#peer || this.#peerOpening || this.#state === 'closed') throw new Error(this.#state === 'closed' ? 'the leg is closed' : 'the leg has a peer already');
    this.#peerOpening = true;
    const epoch = this.#peerEpoch;
    try {
      const peer = await LegPeer.open(this.context.pool);
      if ((this.#state as LegState) === 'closed' || epoch !== this.#peerEpoch) {
        peer.close();
        throw new Error('the peer was closed while its port was being bound');
      }
      this.#peer = peer;
      return peer.port;
    } finally {
      this.#peerOpening = false;
    }
  }

  joinPeer(format: MediaFormat, bot: PeerBot): void {
    const media = this.#media;
    if (!media || !this.#peer || this.#state === 'closed') return;
    const { settings, clock, log } = this.context;
    this.#peer.join(media, format, bot, { settings, clock, log }, {
      end: (reason) => this.emit('peerEnd', reason),
      dtmf: (digit, durationMs) => this.emit('peerDtmf', digit, durationMs),
    });
    log.info({ bot, codec: format.codec }, 'caller joined to the agent');
    if (bot === 'stop') this.#link?.stop('transferred');
  }

  renegotiatePeer(format: MediaFormat): void {
    this.#peer?.renegotiate(format);
  }

  peerSipDtmf(digit: string, durationMs: number): void {
    if (this.#peer?.joined) playSipDtmf(this.#media, digit, durationMs);
  }

  closePeer(): void {
    this.#peerEpoch++;
    const stats = this.#peer?.close();
    this.#peer = undefined;
    if (!stats) return;
    this.#peerMedia = stats;
    this.context.log.info({ agent: { packetsIn: stats.packetsIn, packetsOut: stats.packetsOut, packetsLost: stats.packetsLost } }, 'agent media closed');
  }

  close(reason: StopReason): Promise<LegReport> {
    this.#closing ??= this.#close(reason);
    return this.#closing;
  }

  async #close(reason: StopReason): Promise<LegReport> {
    this.#state = 'closed';
    this.#abort.abort();
    this.closePeer();
    if (this.#link) this.#link.stop(reason);
    else this.bot.close();
    const media = this.#media?.stats;
    const botMessagesRefused = this.#link?.rejected ?? this.bot.rejected;
    if (this.#media) this.#media.close();
    else {
      this.rtp.socket.close();
      this.context.pool.release(this.rtp.port);
    }
    this.context.closed(this, media && { in: media.packetsIn, out: media.packetsOut, lost: media.packetsLost });
    const recording = await this.#recorder?.close().catch((err: Error) => {
      this.context.log.warn({ reason: err.message }, 'recording not closed cleanly');
      return undefined;
    });
    const peerMedia = this.#peerMedia;
    return { ...(media && { media }), ...(peerMedia && { peerMedia }), ...(botMessagesRefused && { botMessagesRefused }), ...(recording && { recording }) };
  }

  /** The leg ends the call by itself, once; the call then closes it. */
  #end(end: LegEnd): void {
    if (this.#ended || this.#state === 'closed') return;
    this.#ended = true;
    this.emit('end', end);
  }
}
