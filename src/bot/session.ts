// One call's WebSocket to its bot: connect (timeout, one retry), its protocol's messages out, validated ones in.
import { EventEmitter } from 'node:events';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { createBotProtocol, TextFrame, type AudioEncoding, type BotAudio, type BotProtocol, type BotProtocolName, type Frame, type StopReason, type StreamStart } from './protocols/index.js';

export interface BotConnectOptions {
  /** The bot's URL; userinfo becomes Basic auth and is never logged. */
  readonly url: URL;
  /** What the socket speaks (default exotel). */
  readonly protocol?: BotProtocolName;
  /** Added to the upgrade request (e.g. Authorization); values are never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly connectTimeoutMs: number;
  /** Further attempts after a failed one (Exotel makes one). */
  readonly retries: number;
  /** Messages from the bot larger than this are logged, counted and ignored. */
  readonly maxMessageBytes: number;
  /** DNS lookup for the connection (a policy's guarded one for URLs that came from call headers). */
  readonly lookup?: LookupFunction;
  /** WebSocket ping period; a bot that has not answered the previous ping by the next is gone. 0 turns pings off. */
  readonly pingIntervalMs: number;
  readonly log: Logger;
  /** Aborts a connection attempt (e.g. the caller cancelled). */
  readonly signal?: AbortSignal;
}

export class BotConnectError extends Error {}

export interface BotSessionEvents {
  /**
   * Bot audio as its protocol carries it (PCM16LE at the stream's rate, or mu-law: the media layer converts it);
   * `receivedAt` is performance.now() when its message arrived.
   */
  media: [audio: BotAudio, receivedAt: number];
  mark: [name: string];
  clear: [];
  /** The bot presses a key toward the caller. */
  dtmf: [digit: string, durationMs: number | undefined];
  /** The bot asks to hand the caller to a person: the message's `transfer` object, unchecked (the call checks it). */
  transfer: [request: unknown];
  /**
   * The socket closed. `byBot` is false when we closed it; `clean` is true when the bot closed it on purpose (a close
   * frame) and false when the connection dropped (no close frame, an error, missed pings).
   */
  closed: [info: { byBot: boolean; clean: boolean; code: number; reason: string }];
}

/** Messages from the bot that were not acted on, by why. */
export interface BotMessageStats {
  invalid: number;
  oversize: number;
  unknownEvent: number;
}

/** Close codes a bot sends when it hangs up on purpose: normal, going away, and a close frame without a code. */
const CLEAN_CLOSE_CODES = new Set([1000, 1001, 1005]);

/** No frame may exceed this whatever maxMessageBytes says: the socket is closed (1009) beyond it, to bound memory. */
const FRAME_HARD_LIMIT = 16 * 1024 * 1024;

/** `User-Agent` of the upgrade request. */
export const USER_AGENT = `sip-ws-bridge/${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

/** The URL without userinfo, for logs. */
export function redactUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

export class BotSession extends EventEmitter<BotSessionEvents> {
  #started = false;
  #closing = false;
  #announced = false;
  #closedByUs = false;
  #killTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #awaitingPong = false;
  #lostReason: string | undefined;
  readonly rejected: BotMessageStats = { invalid: 0, oversize: 0, unknownEvent: 0 };

  private constructor(
    private readonly ws: WebSocket,
    readonly protocol: BotProtocol,
    private readonly log: Logger,
    pingIntervalMs: number,
    private readonly maxMessageBytes: number,
  ) {
    super();
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary));
    ws.on('pong', () => {
      this.#awaitingPong = false;
    });
    ws.on('close', (code, reason) => {
      clearTimeout(this.#killTimer);
      clearInterval(this.#pingTimer);
      const clean = CLEAN_CLOSE_CODES.has(code) && this.#lostReason === undefined;
      this.emit('closed', { byBot: !this.#closedByUs, clean, code, reason: this.#lostReason ?? reason.toString('utf8') });
      this.removeAllListeners();
    });
    if (pingIntervalMs > 0) this.#pingTimer = setInterval(() => this.#ping(), pingIntervalMs);
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'bot socket error'));
  }

  static async connect(options: BotConnectOptions): Promise<BotSession> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      if (options.signal?.aborted) break;
      try {
        const ws = await openSocket(options);
        return new BotSession(ws, createBotProtocol(options.protocol ?? 'exotel'), options.log, options.pingIntervalMs, options.maxMessageBytes);
      } catch (err) {
        lastError = err as Error;
        options.log.warn({ url: redactUrl(options.url), attempt: attempt + 1, reason: lastError.message }, 'bot connection failed');
      }
    }
    throw new BotConnectError(options.signal?.aborted ? 'aborted' : (lastError?.message ?? 'aborted'));
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN && !this.#closing;
  }

  /** Sends `connected` (once): an outbound call sends it at once and `start` at the answer. */
  announce(): void {
    if (this.#announced || !this.open) return;
    this.#announced = true;
    const frame = this.protocol.connected();
    if (frame !== undefined) this.#send(frame);
  }

  /** Sends `connected` (unless announced) then `start`: bots read exactly these two before media. */
  begin(start: StreamStart): void {
    this.announce();
    if (!this.open) return;
    this.#started = true;
    this.#send(this.protocol.start(start));
  }

  /** The caller audio the protocol takes: PCM16 chunks (sendMedia) or mu-law frames (sendMulaw). */
  get callerAudio(): AudioEncoding {
    return this.protocol.callerAudio;
  }

  /** A chunk of caller audio (PCM16LE at the stream's rate). */
  sendMedia(pcm: Buffer): void {
    if (this.#started && this.open) this.#send(this.protocol.media(pcm));
  }

  /** A frame of caller audio as mu-law: `length` bytes of `bytes` from `offset` (only read during the call). */
  sendMulaw(bytes: Buffer, offset: number, length: number): void {
    if (this.#started && this.open) this.#send(this.protocol.mulaw(bytes, offset, length));
  }

  sendDtmf(digit: string, durationMs: number): void {
    if (this.#started && this.open) this.#send(this.protocol.dtmf(digit, durationMs));
  }

  sendMark(name: string): void {
    if (this.#started && this.open) this.#send(this.protocol.mark(name));
  }

  /** Sends `stop` (when the protocol has one) and closes the socket normally. */
  stop(reason: StopReason): void {
    if (this.#started && this.open) {
      const frame = this.protocol.stop(reason);
      if (frame !== undefined) this.#send(frame);
    }
    this.close();
  }

  /** Closes without a `stop`; safe to call more than once. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#closedByUs = true;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'call ended');
    else this.ws.terminate();
    // A bot that never completes the closing handshake must not keep the socket alive.
    this.#killTimer = setTimeout(() => this.ws.terminate(), 2000);
  }

  #ping(): void {
    if (this.#awaitingPong) {
      this.#lostReason = 'bot stopped answering pings';
      this.log.warn('bot did not answer the last WebSocket ping: treating it as gone');
      this.ws.terminate();
      return;
    }
    this.#awaitingPong = true;
    this.ws.ping();
  }

  /** Counts a message not acted on; logs it, but stops logging a kind after a few so a broken bot cannot flood the log. */
  #reject(kind: keyof BotMessageStats, reason: string): void {
    const count = ++this.rejected[kind];
    if (count <= 3) this.log.warn({ kind, reason, ...(count === 3 && { note: 'further ones only counted' }) }, 'ignored bot message');
  }

  /** Call-control messages the protocols leave to the call (an event they do not know): `transfer`. */
  #command(buffer: Buffer): boolean {
    let json: unknown;
    try {
      json = JSON.parse(buffer.toString('utf8'));
    } catch {
      return false;
    }
    if (typeof json !== 'object' || json === null || (json as { event?: unknown }).event !== 'transfer') return false;
    this.emit('transfer', (json as { transfer?: unknown }).transfer);
    return true;
  }

  /** A bridge event to the bot (`transfer_status`), once the stream has started. */
  sendEvent(name: string, fields: Readonly<Record<string, unknown>>, streamSid: string): void {
    if (!this.#started || !this.open) return;
    this.#send(this.protocol.event ? this.protocol.event(name, fields) : JSON.stringify({ event: name, stream_sid: streamSid, ...fields }));
  }

  #send(frame: Frame): void {
    if (frame instanceof TextFrame) this.ws.send(frame.bytes, { binary: false });
    else this.ws.send(frame);
  }

  #receive(data: WebSocket.RawData, isBinary: boolean): void {
    const receivedAt = performance.now();
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (bytes > this.maxMessageBytes) {
      this.#reject('oversize', `${bytes} bytes, more than bot.maxMessageBytes ${this.maxMessageBytes}`);
      return;
    }
    const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const parsed = this.protocol.decode(buffer, isBinary);
    if (!parsed.ok) {
      if (parsed.ignorable && !isBinary && this.#command(buffer)) return;
      this.#reject(parsed.ignorable ? 'unknownEvent' : 'invalid', parsed.reason);
      return;
    }
    const message = parsed.message;
    switch (message.event) {
      case 'media':
        this.emit('media', message.audio, receivedAt);
        return;
      case 'mark':
        this.emit('mark', message.name);
        return;
      case 'clear':
        this.emit('clear');
        return;
      case 'dtmf':
        this.emit('dtmf', message.digit, message.durationMs);
    }
  }
}

function openSocket(options: BotConnectOptions): Promise<WebSocket> {
  const url = new URL(options.url.href);
  // Configured headers first, so a URL's userinfo (more specific) wins for Authorization.
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...options.headers };
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.Authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: options.connectTimeoutMs,
      perMessageDeflate: false, // audio barely compresses; a zlib context per call only costs memory
      maxPayload: Math.max(FRAME_HARD_LIMIT, options.maxMessageBytes),
      ...(options.lookup && { lookup: options.lookup }),
    });
    const onAbort = () => {
      ws.terminate();
      fail(new Error('aborted'));
    };
    const fail = (err: Error) => {
      options.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('unexpected-response', (_req, res) => fail(new Error(`bot answered HTTP ${res.statusCode} to the WebSocket upgrade`)));
    ws.once('error', (err) => fail(err));
    ws.once('open', () => {
      options.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      resolve(ws);
    });
  });
}
