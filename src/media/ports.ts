// Hands out UDP sockets bound to even ports of the configured RTP range, and takes them back.
import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import net from 'node:net';

export interface BoundRtpSocket {
  readonly socket: Socket;
  readonly port: number;
}

export class RtpPortPool {
  readonly #inUse = new Set<number>();
  #cursor: number;

  constructor(
    private readonly host: string,
    private readonly min: number,
    private readonly max: number,
  ) {
    if (min > max) throw new Error(`RTP port range ${min}-${max} is empty`);
    this.#cursor = this.#first();
  }

  get inUse(): number {
    return this.#inUse.size;
  }

  /** Binds a socket on the next free even port; rejects when the whole range is taken. */
  async bind(): Promise<BoundRtpSocket> {
    const candidates = Math.floor((this.max - this.#first()) / 2) + 1;
    for (let attempt = 0; attempt < candidates; attempt++) {
      const port = this.#cursor;
      this.#cursor = port + 2 > this.max ? this.#first() : port + 2;
      if (this.#inUse.has(port)) continue;
      this.#inUse.add(port);
      const socket = await this.#tryBind(port);
      if (socket) return { socket, port };
      this.#inUse.delete(port);
    }
    throw new Error(`no free RTP port in ${this.min}-${this.max}`);
  }

  release(port: number): void {
    this.#inUse.delete(port);
  }

  #first(): number {
    return this.min % 2 === 0 ? this.min : this.min + 1;
  }

  #tryBind(port: number): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const socket = createSocket({ type: net.isIPv6(this.host) ? 'udp6' : 'udp4', lookup: literalFirstLookup });
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, this.host, () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
    });
  }
}

/**
 * dgram resolves every send's address, and dns.lookup answers even an IP literal on the next tick: a deferred call and
 * a closure per RTP packet. SDP addresses are literals, so they are answered at once; names still go to DNS.
 */
const literalFirstLookup: NonNullable<SocketOptions['lookup']> = (hostname, options, callback) => {
  const family = net.isIP(hostname);
  if (family) callback(null, hostname, family);
  else dnsLookup(hostname, options, callback);
};
