// Where a SIP message came from (a flow) and where one goes (a destination), and how a response is routed back.
import type { Connection } from './connection.js';
import type { Via } from './message.js';

export type Protocol = 'udp' | 'tcp' | 'tls';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Where a message came from, and how to reach that peer again. */
export interface Flow {
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
  /** Our listener the message arrived on. */
  readonly local: Endpoint;
  /** The stream connection a message arrived on (TCP/TLS). */
  readonly connection?: Connection;
}

export interface Destination {
  readonly protocol: Protocol;
  readonly host: string;
  readonly port: number;
  /** Preferred when still open: the connection the dialog or transaction came in on. */
  readonly connection?: Connection;
  /** The name a TLS server's certificate must match, when `host` is the address it resolved to. */
  readonly servername?: string;
  /** CA certificates a new TLS connection trusts instead of the system's (a trunk's `ca`). */
  readonly ca?: Buffer;
}

const DEFAULT_PORT: Readonly<Record<Protocol, number>> = { udp: 5060, tcp: 5060, tls: 5061 };

/**
 * Where a response to a request goes (RFC 3261 18.2.2, RFC 3581): back on the request's connection for
 * streams; for UDP to the source address, at the source port when the client asked for rport.
 */
export function responseDestination(via: Via, flow: Flow): Destination {
  if (flow.protocol !== 'udp') {
    return { protocol: flow.protocol, host: flow.address, port: via.port ?? DEFAULT_PORT[flow.protocol], ...(flow.connection && { connection: flow.connection }) };
  }
  const port = via.params.has('rport') ? flow.port : (via.port ?? DEFAULT_PORT.udp);
  return { protocol: 'udp', host: flow.address, port };
}
