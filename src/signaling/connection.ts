// One TCP or TLS connection to a SIP peer, with the framer that splits its byte stream into messages.
import type net from 'node:net';
import type { Endpoint, Protocol } from './flow.js';
import { StreamFramer } from './framing.js';

/** One TCP or TLS connection with its framer. */
export class Connection {
  readonly #framer: StreamFramer;
  #open = true;

  constructor(
    readonly protocol: 'tcp' | 'tls',
    readonly socket: net.Socket,
    readonly remote: Endpoint,
    readonly local: Endpoint,
    maxMessageBytes: number,
  ) {
    this.#framer = new StreamFramer(maxMessageBytes);
    socket.once('close', () => {
      this.#open = false;
    });
  }

  get open(): boolean {
    return this.#open && !this.socket.destroyed;
  }

  get key(): string {
    return connectionKey(this.protocol, this.remote.host, this.remote.port);
  }

  frame(chunk: Buffer) {
    return this.#framer.push(chunk);
  }

  /** Whether part of a message has arrived and the rest has not. */
  get midMessage(): boolean {
    return this.#framer.buffered > 0;
  }

  write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.open) {
        reject(new Error(`${this.protocol} connection to ${this.key} is closed`));
        return;
      }
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    this.#open = false;
    this.socket.destroy();
  }

  /** Closes once what was already written (a last 400) has gone out, or after 1 s at most. */
  closeAfterWrites(): void {
    this.#open = false;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export function connectionKey(protocol: Protocol, host: string, port: number): string {
  return `${protocol}:${host}:${port}`;
}
