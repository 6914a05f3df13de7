// Joins a leg's media session to its bot session, whichever direction the call went: caller audio, marks and DTMF
// to the bot; bot audio, marks, clear and DTMF to the caller; one reconnect on a dropped socket; drain on a close.
import type { Logger } from 'pino';
import { BotSession, type BotAddressPolicy, type StopReason, type StreamStart } from '../bot/index.js';
import { isDtmfDigit, type MediaSession } from '../media/index.js';
import type { HostSettings, LegObserver, LegSpec } from './types.js';

/** Opens the spec's bot connection with the host's settings; `retries` overrides the spec's count. */
export function connectBot(
  settings: HostSettings['bot'],
  spec: LegSpec['bot'],
  policy: BotAddressPolicy,
  log: Logger,
  signal: AbortSignal,
  retries = spec.connectRetries,
): Promise<BotSession> {
  return BotSession.connect({
    url: new URL(spec.url),
    protocol: spec.protocol,
    ...(spec.headers && { headers: spec.headers }),
    connectTimeoutMs: settings.connectTimeoutMs,
    retries,
    maxMessageBytes: settings.maxMessageBytes,
    pingIntervalMs: settings.pingIntervalMs,
    // A URL from a call header is held to the address policy at connection time too: DNS may answer differently.
    ...(spec.checkAddresses && { lookup: policy.lookup }),
    log,
    signal,
  });
}

export interface BotLinkOptions {
  readonly settings: HostSettings['bot'];
  readonly log: Logger;
  readonly observer: LegObserver;
  readonly start: StreamStart;
  /** A second connection, for a reconnect. */
  readonly reconnect: () => Promise<BotSession>;
  /** Whether the leg is still started and not draining (a bot close then matters). */
  readonly isActive: () => boolean;
  readonly isClosed: () => boolean;
  /** The bot closed: the leg drains its audio first. */
  readonly onDraining: () => void;
  readonly end: (by: 'bot' | 'system', reason: string) => void;
  readonly rtpTimeoutMs: number;
  /** The caller pressed a key (RFC 4733), after it went to the bot. */
  readonly onCallerDtmf: (digit: string, durationMs: number) => void;
  /** The bot's `transfer` message, unchecked. */
  readonly onTransfer: (request: unknown) => void;
}

export class BotLink {
  #bot: BotSession | undefined;
  #reconnected = false;
  #drainTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly media: MediaSession,
    bot: BotSession,
    private readonly options: BotLinkOptions,
  ) {
    this.#bot = bot;
    bot.begin(options.start);
    this.#wireMedia();
    this.#wireBot(bot);
  }

  get rejected(): BotSession['rejected'] | undefined {
    return this.#bot?.rejected;
  }

  /** A key press for the bot, whichever way it came (RFC 4733 or SIP INFO). */
  callerDtmf(digit: string, durationMs: number): void {
    this.options.observer.dtmf('caller_to_bot');
    this.#bot?.sendDtmf(digit, durationMs);
  }

  /** A bridge event to the bot, e.g. `transfer_status`. */
  sendEvent(name: string, fields: Readonly<Record<string, unknown>>): void {
    this.#bot?.sendEvent(name, fields, this.options.start.streamSid);
  }

  /** Sends `stop` and closes; once. */
  stop(reason: StopReason): void {
    clearTimeout(this.#drainTimer);
    this.#bot?.stop(reason);
  }

  #wireMedia(): void {
    const { media, options } = this;
    // A protocol that takes mu-law gets the caller's payloads as mu-law (PCMU as is); the others PCM16 chunks. The
    // protocol is the spec's, so a reconnected bot speaks the same one.
    if (this.#bot?.callerAudio === 'mulaw') media.on('callerMulaw', (bytes, offset, length) => this.#bot?.sendMulaw(bytes, offset, length));
    else media.on('callerAudio', (chunk) => this.#bot?.sendMedia(chunk));
    media.on('markPlayed', (name) => this.#bot?.sendMark(name));
    media.on('dtmf', (digit, durationMs) => {
      options.log.info({ digit, durationMs, source: 'RFC 4733' }, 'caller DTMF');
      this.callerDtmf(digit, durationMs);
      options.onCallerDtmf(digit, durationMs);
    });
    media.on('rtpTimeout', () => options.end('system', `no RTP from the caller for ${options.rtpTimeoutMs} ms`));
  }

  #wireBot(bot: BotSession): void {
    const { media, options } = this;
    bot.on('media', (audio, receivedAt) => {
      if (audio.encoding === 'mulaw') media.playBotMulaw(audio.bytes, receivedAt);
      else media.playBotAudio(audio.bytes, receivedAt);
    });
    bot.on('mark', (name) => media.mark(name));
    bot.on('clear', () => media.clear());
    bot.on('transfer', (request) => options.onTransfer(request));
    bot.on('dtmf', (digit, durationMs) => {
      if (!isDtmfDigit(digit)) return;
      options.observer.dtmf('bot_to_caller');
      media.sendDtmf(digit, durationMs ?? options.settings.dtmfDurationMs);
    });
    bot.on('closed', ({ byBot, clean, code, reason }) => {
      if (!byBot || bot !== this.#bot || !options.isActive()) return;
      if (!clean && options.settings.onDrop === 'reconnect' && !this.#reconnected) {
        options.log.warn({ code, reason }, 'bot connection dropped: connecting again once');
        void this.#reconnect();
        return;
      }
      options.log.info({ code, reason, clean }, clean ? 'bot closed the stream' : 'bot connection dropped');
      this.#drain(clean ? 'bot closed the stream' : `bot connection dropped (${code}${reason ? ` ${reason}` : ''})`);
    });
  }

  /** A second connection with the same stream_sid and a new `start`; the caller hears silence meanwhile. */
  async #reconnect(): Promise<void> {
    this.#reconnected = true;
    this.#bot = undefined;
    this.media.clear();
    let bot: BotSession;
    try {
      bot = await this.options.reconnect();
    } catch (err) {
      this.options.end('bot', `bot connection dropped and could not be made again: ${(err as Error).message}`);
      return;
    }
    if (this.options.isClosed()) {
      bot.close();
      return;
    }
    this.#bot = bot;
    bot.begin(this.options.start);
    this.#wireBot(bot);
    this.options.log.info('bot connected again');
  }

  /** The bot is gone: let its queued audio reach the caller (bounded), then end the leg. */
  #drain(reason: string): void {
    this.options.onDraining();
    const finish = () => this.options.end('bot', reason);
    void this.media.drained().then(finish);
    this.#drainTimer = setTimeout(finish, this.options.settings.drainTimeoutMs);
  }
}
