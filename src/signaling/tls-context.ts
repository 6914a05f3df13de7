// The certificate, key and optional client CA of a TLS listener, as the options Node's TLS server takes.
import type tls from 'node:tls';
import type { Endpoint } from './flow.js';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** When set, clients must present a certificate this CA signed (mutual TLS). */
  readonly ca?: Buffer;
}

export interface TlsEndpoint extends Endpoint, TlsMaterial {}

export function tlsContext(material: TlsMaterial): tls.SecureContextOptions & tls.TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca && { ca: material.ca, requestCert: true, rejectUnauthorized: true }),
  };
}
