// SIP transports: UDP datagrams, TCP and TLS streams, the listeners and connection reuse (response routing: flow.ts).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { Connection, connectionKey } from './connection.js';
import type { Destination, Endpoint, Flow, Protocol } from './flow.js';
import type { SipMessage } from './message.js';
import { parseMessage, type MalformedRequest, type MalformedStatus } from './parser.js';
import { tlsContext, type TlsEndpoint, type TlsMaterial } from './tls-context.js';

export interface TransportOptions {
  readonly udp?: Endpoint;
  readonly tcp?: Endpoint;
  readonly tls?: TlsEndpoint;
  readonly maxMessageBytes: number;
  /** Whether a TCP/TLS connection from this address is taken at all. */
  readonly acceptConnection: (address: string) => boolean;
  readonly maxConnectionsPerSource: number;
  /** How long a message may take to arrive whole on a stream; slower senders are disconnected. */
  readonly messageTimeoutMs: number;
  readonly log: Logger;
  /** Sees every SIP message: after it was sent, or as it arrived (before parsing). Keep-alives are not shown. */
  readonly onTraffic?: TrafficObserver;
}

/** Who a message went to or came from. */
export interface TrafficPeer {
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
}

export type TrafficObserver = (direction: 'in' | 'out', data: Buffer, remote: TrafficPeer) => void;

interface TransportEvents {
  message: [message: SipMessage, flow: Flow];
  malformed: [error: { reason: string; status: MalformedStatus; request?: MalformedRequest }, flow: Flow];
  /** A TCP/TLS connection from this address was refused at once. */
  refusedConnection: [address: string, reason: 'source-not-allowed' | 'too-many-connections'];
  /** A TCP/TLS connection closed, whoever closed it. */
  connectionClosed: [connection: Connection];
}

export class SipTransport extends EventEmitter<TransportEvents> {
  readonly #connections = new Map<string, Connection>();
  /** Connections we are opening: requests sent meanwhile wait for the same one. */
  readonly #connecting = new Map<string, Promise<Connection>>();
  readonly #servers: Array<net.Server> = [];
  readonly #perSource = new Map<string, number>();
  #tlsServer: tls.Server | undefined;
  #udp: UdpSocket | undefined;
  readonly #bound: Partial<Record<Protocol, Endpoint>> = {};

  constructor(private readonly options: TransportOptions) {
    super();
  }

  /** The address each listener is bound to (ports resolved when configured as 0). */
  get listening(): Readonly<Partial<Record<Protocol, Endpoint>>> {
    return this.#bound;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async start(): Promise<void> {
    const { udp, tcp, tls: tlsOptions } = this.options;
    if (udp) await this.#startUdp(udp);
    if (tcp) await this.#startStream('tcp', tcp, net.createServer());
    if (tlsOptions) {
      this.#tlsServer = tls.createServer(tlsContext(tlsOptions));
      await this.#startStream('tls', tlsOptions, this.#tlsServer);
    }
  }

  /** New TLS connections use this certificate (and CA); connections already open keep theirs. */
  reloadTls(material: TlsMaterial): void {
    if (!this.#tlsServer) throw new Error('no TLS listener to reload');
    this.#tlsServer.setSecureContext(tlsContext(material));
  }

  async stop(): Promise<void> {
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.#servers.length = 0;
    if (this.#udp) {
      const udp = this.#udp;
      this.#udp = undefined;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }

  /** Resolves with the stream connection the message went out on (none for UDP). */
  async send(data: Buffer, dest: Destination): Promise<Connection | undefined> {
    if (dest.protocol === 'udp') {
      const udp = this.#udp;
      if (!udp) throw new Error('no UDP listener to send from');
      await new Promise<void>((resolve, reject) =>
        udp.send(data, dest.port, dest.host, (err) => (err ? reject(err) : resolve())),
      );
      this.#observe('out', data, { protocol: 'udp', address: dest.host, port: dest.port });
      return undefined;
    }
    const connection =
      (dest.connection?.open && dest.connection.protocol === dest.protocol ? dest.connection : undefined) ??
      this.#connections.get(connectionKey(dest.protocol, dest.host, dest.port)) ??
      (await this.#connectOnce(dest.protocol, dest.host, dest.port, dest.servername, dest.ca));
    await connection.write(data);
    this.#observe('out', data, { protocol: connection.protocol, address: connection.remote.host, port: connection.remote.port });
    return connection;
  }

  #observe(direction: 'in' | 'out', data: Buffer, remote: TrafficPeer): void {
    if (!this.options.onTraffic) return;
    try {
      this.options.onTraffic(direction, data, remote);
    } catch (err) {
      this.options.log.error({ err }, 'SIP traffic observer failed');
    }
  }

  #startUdp(endpoint: Endpoint): Promise<void> {
    const socket = createSocket({ type: net.isIPv6(endpoint.host) ? 'udp6' : 'udp4' });
    this.#udp = socket;
    socket.on('message', (data, rinfo) => {
      // RFC 5626 keep-alives: clients such as linphone send CRLFs alone over UDP; they expect no answer.
      if (data.every((byte) => byte === 0x0d || byte === 0x0a)) {
        this.options.log.debug({ remote: `udp:${rinfo.address}:${rinfo.port}`, bytes: data.length }, 'SIP keep-alive');
        return;
      }
      this.#receive(data, { protocol: 'udp', address: rinfo.address, port: rinfo.port, local: this.#bound.udp! });
    });
    socket.on('error', (err) => this.options.log.error({ err }, 'SIP UDP socket error'));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(endpoint.port, endpoint.host, () => {
        socket.off('error', reject);
        const address = socket.address();
        this.#bound.udp = { host: address.address, port: address.port };
        resolve();
      });
    });
  }

  #startStream(protocol: 'tcp' | 'tls', endpoint: Endpoint, server: net.Server): Promise<void> {
    // Every TCP connection is checked before anything else (a TLS handshake included) is spent on it.
    server.on('connection', (socket: net.Socket) => {
      const refusal = this.#refusal(socket.remoteAddress ?? '');
      if (refusal) {
        socket.destroy();
        this.emit('refusedConnection', socket.remoteAddress ?? '', refusal);
      } else if (protocol === 'tcp') {
        this.#adopt(protocol, socket);
      }
    });
    if (protocol === 'tls') server.on('secureConnection', (socket: tls.TLSSocket) => this.#adopt(protocol, socket));
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      this.options.log.warn({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(endpoint.port, endpoint.host, () => {
        server.off('error', reject);
        const address = server.address() as net.AddressInfo;
        this.#bound[protocol] = { host: address.address, port: address.port };
        resolve();
      });
    });
  }

  #refusal(address: string): 'source-not-allowed' | 'too-many-connections' | undefined {
    if (!this.options.acceptConnection(address)) return 'source-not-allowed';
    if ((this.#perSource.get(address) ?? 0) >= this.options.maxConnectionsPerSource) return 'too-many-connections';
    return undefined;
  }

  #adopt(protocol: 'tcp' | 'tls', socket: net.Socket): Connection {
    const remote = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const local = this.#bound[protocol] ?? { host: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const connection = new Connection(protocol, socket, remote, local, this.options.maxMessageBytes);
    this.#connections.set(connection.key, connection);
    this.#perSource.set(remote.host, (this.#perSource.get(remote.host) ?? 0) + 1);
    socket.setNoDelay(true);
    let slow: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      this.#frame(connection, chunk);
      if (!connection.midMessage) {
        clearTimeout(slow);
        slow = undefined;
      } else if (!slow) {
        slow = setTimeout(() => {
          this.options.log.warn({ remote: connection.key, timeoutMs: this.options.messageTimeoutMs }, 'closing SIP connection: message not completed in time');
          connection.close();
        }, this.options.messageTimeoutMs);
      }
    });
    socket.on('error', (err) => this.options.log.debug({ err: err.message, remote: connection.key }, 'SIP connection error'));
    socket.once('close', () => {
      clearTimeout(slow);
      if (this.#connections.get(connection.key) === connection) this.#connections.delete(connection.key);
      const left = (this.#perSource.get(remote.host) ?? 1) - 1;
      if (left > 0) this.#perSource.set(remote.host, left);
      else this.#perSource.delete(remote.host);
      this.emit('connectionClosed', connection);
    });
    return connection;
  }

  #frame(connection: Connection, chunk: Buffer): void {
    const { protocol, remote, local, socket } = connection;
    for (const event of connection.frame(chunk)) {
      if (event.type === 'message') {
        this.#receive(event.data, { protocol, address: remote.host, port: remote.port, local, connection });
      } else if (event.type === 'ping') {
        socket.write('\r\n');
      } else {
        this.options.log.warn({ remote: connection.key, reason: event.reason }, 'closing SIP connection: unframeable stream');
        // The header block alone fails to parse for the same reason, which answers the request (400) if it can be.
        if (event.head) this.#receive(event.head, { protocol, address: remote.host, port: remote.port, local, connection });
        connection.closeAfterWrites();
      }
    }
  }

  #connectOnce(protocol: 'tcp' | 'tls', host: string, port: number, servername: string | undefined, ca: Buffer | undefined): Promise<Connection> {
    const key = connectionKey(protocol, host, port);
    let pending = this.#connecting.get(key);
    if (!pending) {
      pending = this.#connect(protocol, host, port, servername, ca).finally(() => this.#connecting.delete(key));
      this.#connecting.set(key, pending);
    }
    return pending;
  }

  /**
   * A TLS connection verifies the server's certificate (Node's default) against `servername`, or the host name, and
   * against `ca` when given (else the system's CAs).
   */
  #connect(protocol: 'tcp' | 'tls', host: string, port: number, servername = net.isIP(host) === 0 ? host : undefined, ca?: Buffer): Promise<Connection> {
    const source = this.#source(protocol, host);
    return new Promise((resolve, reject) => {
      const socket =
        protocol === 'tls'
          ? tls.connect({ host, port, ...source, ...(servername && { servername }), ...(ca && { ca }) })
          : net.connect({ host, port, ...source });
      const ready = protocol === 'tls' ? 'secureConnect' : 'connect';
      socket.once('error', reject);
      socket.once(ready, () => {
        socket.off('error', reject);
        resolve(this.#adopt(protocol, socket));
      });
    });
  }

  /**
   * Where a connection we open comes from: the listener's own address when it is bound to one (not 0.0.0.0 or ::), so a
   * trunk that admits the bridge by IP sees the address our Via and Contact name; the kernel's choice otherwise, or
   * when the peer is an address of the other IP family.
   */
  #source(protocol: 'tcp' | 'tls', host: string): { localAddress: string; family: number } | undefined {
    const local = this.#bound[protocol]?.host;
    const family = local === undefined ? 0 : net.isIP(local);
    if (!local || family === 0 || local === '0.0.0.0' || local === '::') return undefined;
    const target = net.isIP(host);
    if (target !== 0 && target !== family) return undefined;
    return { localAddress: local, family };
  }

  #receive(data: Buffer, flow: Flow): void {
    this.#observe('in', data, { protocol: flow.protocol, address: flow.address, port: flow.port });
    const parsed = parseMessage(data);
    try {
      if (parsed.ok) {
        this.emit('message', parsed.message, flow);
      } else {
        const { reason, status, request } = parsed;
        this.emit('malformed', { reason, status, ...(request && { request }) }, flow);
      }
    } catch (err) {
      // A bug in handling one message must not take every other call down with the process.
      this.options.log.error({ err, remote: `${flow.protocol}:${flow.address}:${flow.port}` }, 'error while handling a SIP message');
    }
  }
}
