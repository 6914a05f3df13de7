// An in-test voicebot: a WebSocket server that records what the bridge sends and can answer like a bot.
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

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
  #waiters: Array<() => void> = [];
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
  ) {
    ws.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      this.messages.push(JSON.parse(text) as BotMessage);
      this.#wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.#wake();
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
  async until(predicate: (messages: BotMessage[]) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`bot: timed out waiting for ${what}; got events ${this.messages.map((m) => m.event).join(',')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
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

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
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

export class TestBot {
  readonly connections: BotConnection[] = [];
  /** WebSocket upgrade requests seen, completed or not. */
  attempts = 0;
  #waiters: Array<() => void> = [];

  private constructor(readonly server: WebSocketServer) {
    server.on('connection', (ws, req) => {
      this.connections.push(new BotConnection(ws, req));
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async start(options: TestBotOptions = {}): Promise<TestBot> {
    let bot: TestBot | undefined;
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
    bot = new TestBot(server);
    return bot;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/media`;
  }

  connection(index: number, timeoutMs = 10_000): Promise<BotConnection> {
    return this.connectionWhere((_, i) => i === index, `connection #${index + 1}`, timeoutMs);
  }

  /** The first connection that satisfies `match`, once it has come in. */
  async connectionWhere(match: (conn: BotConnection, index: number) => boolean, what: string, timeoutMs = 10_000): Promise<BotConnection> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.connections.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`bot: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
