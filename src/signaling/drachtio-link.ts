// The bridge's connection to drachtio-server's admin socket: connects, authenticates, reconnects with backoff,
// says why it is down, and withdraws from new INVITEs for a drain while the dialogs in progress go on.
import type { Logger } from 'pino';
import type { BackendStatus } from './types.js';

/** drachtio-srf's connect options, with the reconnect ones its types leave out. */
export interface SrfConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly reconnect?: { readonly maxAttempts?: number };
}

/** The slice of drachtio-srf's Srf the link drives. */
export interface SrfConnection {
  /** Starts one connection attempt; the outcome comes as a connect, error or close event. */
  connect(options: SrfConnectOptions): unknown;
  /** Closes the connection; throws when there is none. */
  disconnect(): void;
  /** Asks drachtio-server to offer no more requests of this method (drachtio-server 0.9 drops all of ours). */
  unregisterForMessages(method: string): void;
  on(event: 'connect', listener: (err: Error | null | undefined, hostport?: string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  removeAllListeners(): unknown;
}

export interface LinkOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly log: Logger;
  /** Reconnect delays: the first, doubled per failure up to the last. */
  readonly retryMs?: { readonly first: number; readonly max: number };
  /** How long start() waits for the first attempt's outcome before the bridge comes up without it. */
  readonly startWaitMs?: number;
}

type State = 'idle' | 'connecting' | 'up' | 'waiting' | 'stopped';

export class DrachtioLink {
  #state: State = 'idle';
  #since = new Date();
  #reason = 'not started';
  /** The last failure logged, so a failure that repeats on every retry is logged once. */
  #logged: string | undefined;
  #delay: number;
  #timer: NodeJS.Timeout | undefined;
  #withdrawn = false;
  #settled: Array<() => void> = [];

  constructor(
    private readonly srf: SrfConnection,
    private readonly options: LinkOptions,
  ) {
    this.#delay = options.retryMs?.first ?? 250;
  }

  get status(): BackendStatus {
    if (this.#state === 'up') return { up: true };
    const { host, port } = this.options;
    return { up: false, reason: `sip backend: not connected to drachtio at ${host}:${port} since ${this.#since.toISOString()}: ${this.#reason}` };
  }

  /** Connects; resolves once the first attempt has an outcome (or startWaitMs passed): a wrong secret does not hold up start-up. */
  async start(): Promise<void> {
    this.srf.on('connect', (err, hostport) => (err ? this.#failed(`drachtio-server refused the secret (${err.message})`, true) : this.#up(hostport)));
    this.srf.on('error', (err) => this.#failed(this.#state === 'up' ? `connection lost (${err.message})` : err.message, false));
    this.srf.on('close', () => this.#closed());
    this.#since = new Date();
    this.#reason = 'connecting';
    this.#attempt();
    await this.#outcome(this.options.startWaitMs ?? 5000);
  }

  /** No new INVITEs for us from now on; requests in the dialogs we have still come. No reconnecting either. */
  withdraw(): void {
    if (this.#withdrawn) return;
    this.#withdrawn = true;
    if (this.#state === 'up') this.#unroute();
    if (this.#state === 'waiting') clearTimeout(this.#timer);
    this.options.log.info('withdrawn from drachtio-server: new calls go to the other bridges connected to it');
  }

  /** Closes the connection (after an attempt in flight has its outcome); once. */
  async stop(): Promise<void> {
    if (this.#state === 'connecting') await this.#outcome(2000);
    clearTimeout(this.#timer);
    const wasUp = this.#state === 'up';
    this.#state = 'stopped';
    if (wasUp) {
      const closed = this.#outcome(2000);
      try {
        this.srf.disconnect();
        await closed;
      } catch {
        // already gone
      }
    }
    this.srf.removeAllListeners();
    // A socket error after this (an attempt still in flight) must not become an uncaught 'error' event.
    this.srf.on('error', () => {});
  }

  #attempt(): void {
    this.#timer = undefined;
    this.#state = 'connecting';
    const { host, port, secret } = this.options;
    // drachtio-srf's own reconnecting resets its backoff on every TCP connect, so a wrong secret would be retried
    // four times a second for ever: the link retries instead.
    this.srf.connect({ host, port, secret, reconnect: { maxAttempts: 1 } });
  }

  #up(hostport: string | undefined): void {
    if (this.#state === 'stopped') {
      // An attempt that was in flight when stop() was called.
      this.#disconnect();
      return;
    }
    this.#state = 'up';
    this.#delay = this.options.retryMs?.first ?? 250;
    this.#logged = undefined;
    this.options.log.info({ drachtio: `${this.options.host}:${this.options.port}`, sip: hostport }, 'connected to drachtio-server');
    if (this.#withdrawn) this.#unroute();
    this.#settle();
  }

  #failed(reason: string, connected: boolean): void {
    if (this.#state === 'stopped') return;
    if (this.#state === 'up') this.#since = new Date();
    this.#state = 'connecting';
    this.#reason = reason;
    if (this.#logged !== reason) {
      this.#logged = reason;
      this.options.log.error({ drachtio: `${this.options.host}:${this.options.port}`, reason }, 'not connected to drachtio-server; retrying');
    }
    // drachtio-server closes the connection after a refused secret; should it not, the close comes from us.
    if (connected) this.#disconnect();
    this.#settle();
  }

  #closed(): void {
    if (this.#state === 'stopped') {
      this.#settle();
      return;
    }
    if (this.#state === 'up') this.#failed('connection closed', false);
    if (!this.#timer && !this.#withdrawn) {
      this.#state = 'waiting';
      this.#timer = setTimeout(() => this.#attempt(), this.#delay);
      this.#delay = Math.min(this.#delay * 2, this.options.retryMs?.max ?? 5000);
    }
    this.#settle();
  }

  #unroute(): void {
    try {
      this.srf.unregisterForMessages('invite');
    } catch (err) {
      this.options.log.warn({ reason: (err as Error).message }, 'could not withdraw from drachtio-server');
    }
  }

  #disconnect(): void {
    try {
      this.srf.disconnect();
    } catch {
      // drachtio-srf throws when the socket is gone already
    }
  }

  /** Waits for the next connect, failure or close, for up to `ms`. */
  #outcome(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#settled.push(done);
    });
  }

  #settle(): void {
    for (const done of this.#settled.splice(0)) done();
  }
}
