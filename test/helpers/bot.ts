// An in-test voicebot: a WebSocket server that records what the bridge sends and can answer like a bot.
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Waiters } from './waiters.js';

export interface BotMessage {
  readonly event: string;
  readonly [key: string]: unknown;
}

export interface StartMessage extends BotMessage {
  readonly sequence_number: string;
  readonly stream_sid: string;
  readonly start: {
    readonly stream_sid: string;
    readonly call_sid: string;
    readonly account_sid: string;
    readonly from: string;
    readonly to: string;
    readonly custom_parameters: Record<string, string>;
    readonly media_format: Record<string, string>;
  };
}

export interface StopMessage extends BotMessage {
  readonly sequence_number: string;
  readonly stream_sid: string;
  readonly stop: { readonly call_sid: string; readonly account_sid: string; readonly reason: string };
}

export class BotConnection {
  readonly messages: BotMessage[] = [];
  readonly raw: string[] = [];
  readonly #waiters = new Waiters();
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
  ) {
    ws.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      this.messages.push(JSON.parse(text) as BotMessage);
      this.#waiters.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.#waiters.wake();
    });
  }

  get url(): URL {
    return new URL(this.request.url ?? '/', 'ws://bot');
  }

  get start(): StartMessage | undefined {
    return this.messages.find((m) => m.event === 'start') as StartMessage | undefined;
  }

  get stop(): StopMessage | undefined {
    return this.messages.find((m) => m.event === 'stop') as StopMessage | undefined;
  }

  get streamSid(): string {
    return this.start?.stream_sid ?? '';
  }

  /** Media payloads received so far, decoded to PCM16LE bytes, in order. */
  callerAudio(): Buffer {
    return Buffer.concat(
      this.messages
        .filter((m) => m.event === 'media')
        .map((m) => Buffer.from(String((m.media as { payload: string }).payload), 'base64')),
    );
  }

  /** Resolves once `predicate` holds for the messages received, or rejects after `timeoutMs`. */
  until(predicate: (messages: BotMessage[]) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    return this.#waiters.until(
      () => predicate(this.messages),
      timeoutMs,
      () => `bot: timed out waiting for ${what}; got events ${this.messages.map((m) => m.event).join(',')}`,
    );
  }

  waitForEvent(event: string, timeoutMs = 10_000): Promise<void> {
    return this.until((m) => m.some((x) => x.event === event), timeoutMs, `"${event}"`);
  }

  async waitForClose(timeoutMs = 10_000): Promise<void> {
    await this.until(() => this.closed, timeoutMs, 'close');
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends PCM16LE audio as media messages of `chunkBytes` each. */
  sendAudio(pcm: Buffer, chunkBytes = 3200): void {
    for (let offset = 0; offset < pcm.length; offset += chunkBytes) {
      this.send({ event: 'media', stream_sid: this.streamSid, media: { payload: pcm.subarray(offset, offset + chunkBytes).toString('base64') } });
    }
  }
}

export interface TestBotOptions {
  /** Delay before the WebSocket handshake completes, to hold calls in setup; a function gets the attempt's index. */
  readonly handshakeDelayMs?: number | ((attempt: number) => number);
  /** Refuse upgrades with this HTTP status. */
  readonly rejectStatus?: number;
  /** Answer WebSocket pings (default true); false plays a bot that hangs without closing its socket. */
  readonly autoPong?: boolean;
}

/** The bot's WebSocket server: its connections are BotConnections, or what `serve` is given for another protocol. */
export class TestBot<C = BotConnection> {
  readonly connections: C[] = [];
  /** WebSocket upgrade requests seen, completed or not. */
  attempts = 0;
  readonly #waiters = new Waiters();

  private constructor(
    readonly server: WebSocketServer,
    private readonly path: string,
    connect: (ws: WebSocket, request: IncomingMessage) => C,
  ) {
    server.on('connection', (ws, req) => {
      this.connections.push(connect(ws, req));
      this.#waiters.wake();
    });
  }

  static start(options: TestBotOptions = {}): Promise<TestBot> {
    return TestBot.serve('/media', (ws, request) => new BotConnection(ws, request), options);
  }

  /** A bot whose URL ends in `path` and whose connections `connect` makes. */
  static async serve<C>(path: string, connect: (ws: WebSocket, request: IncomingMessage) => C, options: TestBotOptions = {}): Promise<TestBot<C>> {
    let bot: TestBot<C> | undefined;
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      autoPong: options.autoPong ?? true,
      verifyClient: (_info, done) => {
        const attempt = bot!.attempts++;
        const { handshakeDelayMs: delay } = options;
        const delayMs = typeof delay === 'function' ? delay(attempt) : (delay ?? 0);
        if (options.rejectStatus) done(false, options.rejectStatus);
        else if (delayMs > 0) setTimeout(() => done(true), delayMs);
        else done(true);
      },
    });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    bot = new TestBot(server, path, connect);
    return bot;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.path}`;
  }

  connection(index: number, timeoutMs = 10_000): Promise<C> {
    return this.connectionWhere((_, i) => i === index, `connection #${index + 1}`, timeoutMs);
  }

  /** The first connection that satisfies `match`, once it has come in. */
  connectionWhere(match: (conn: C, index: number) => boolean, what: string, timeoutMs = 10_000): Promise<C> {
    return this.#waiters.find(() => this.connections.find(match), timeoutMs, () => `bot: no ${what} within ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
