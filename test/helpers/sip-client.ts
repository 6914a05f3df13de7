// A bare SIP peer for protocol tests: sends hand-written messages over UDP, TCP or TLS and collects what comes back.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { StreamFramer } from '../../src/signaling/framing.js';
import type { SipMessage, SipRequest, SipResponse } from '../../src/signaling/message.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { Waiters } from './waiters.js';

type Transport = 'udp' | 'tcp' | 'tls';

export class SipTestClient {
  readonly received: SipMessage[] = [];
  /** Raw bytes of each received message, for byte-level assertions. */
  readonly raw: Buffer[] = [];
  readonly #waiters = new Waiters();

  private constructor(
    readonly transport: Transport,
    private readonly sendBytes: (data: Buffer) => void,
    private readonly closeSocket: () => void,
    readonly localPort: number,
  ) {}

  static async open(transport: Transport, target: { host: string; port: number }): Promise<SipTestClient> {
    if (transport === 'udp') {
      const socket: UdpSocket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
      const client = new SipTestClient(
        'udp',
        (data) => socket.send(data, target.port, target.host),
        () => socket.close(),
        socket.address().port,
      );
      socket.on('message', (data) => client.#take(data));
      return client;
    }
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s =
        transport === 'tls'
          ? tls.connect({ host: target.host, port: target.port, rejectUnauthorized: false }, () => resolve(s))
          : net.connect({ host: target.host, port: target.port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const client = new SipTestClient(transport, (data) => socket.write(data), () => socket.destroy(), socket.localPort ?? 0);
    const framer = new StreamFramer(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) if (event.type === 'message') client.#take(event.data);
    });
    socket.on('error', () => {});
    return client;
  }

  send(data: Buffer | string): void {
    this.sendBytes(typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** The first received message text matching `pattern`, parseable or not. */
  waitForRaw(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return this.#waiters.find(
      () => this.raw.map((r) => r.toString()).find((text) => pattern.test(text)),
      timeoutMs,
      () => `SIP client: nothing matching ${pattern} within ${timeoutMs} ms`,
    );
  }

  /** The first received message (from index `from` on) that satisfies `match`. */
  waitFor(match: (m: SipMessage) => boolean, what: string, timeoutMs = 5000, from = 0): Promise<SipMessage> {
    return this.#waiters.find(
      () => this.received.slice(from).find(match),
      timeoutMs,
      () => `SIP client: no ${what} within ${timeoutMs} ms; got ${this.received.map(describe).join(' | ')}`,
    );
  }

  response(status: number, method: string, timeoutMs?: number): Promise<SipResponse> {
    return this.waitFor((m) => m.kind === 'response' && m.status === status && m.cseq.method === method, `${status} to ${method}`, timeoutMs) as Promise<SipResponse>;
  }

  request(method: string, timeoutMs?: number): Promise<SipRequest> {
    return this.waitFor((m) => m.kind === 'request' && m.method === method, `${method} request`, timeoutMs) as Promise<SipRequest>;
  }

  count(match: (m: SipMessage) => boolean): number {
    return this.received.filter(match).length;
  }

  close(): void {
    this.closeSocket();
  }

  #take(data: Buffer): void {
    const parsed = parseMessage(data);
    // What our own parser refuses (a 400 that copies the bad header it complains about) is kept raw only.
    if (parsed.ok) this.received.push(parsed.message);
    this.raw.push(Buffer.from(data));
    this.#waiters.wake();
  }
}

function describe(m: SipMessage): string {
  return m.kind === 'request' ? `${m.method}` : `${m.status} ${m.cseq.method}`;
}
