// The call-control sections: the REST API's token, the outbound trunks and transfer targets.
import { z } from 'zod';
import { host, regex } from './fields.js';

/** A trunk's next hop: `sip:` or `sips:` URI with a host, optional port and `;transport=udp|tcp|tls` (sips means tls). */
const trunkUri = z.string().refine((text) => parseTrunkUri(text) !== undefined, 'must be sip:host[:port][;transport=udp|tcp|tls] (or sips:host[:port])');

/** The parts of a trunk URI, or undefined when it is not one. */
export function parseTrunkUri(text: string): { host: string; port?: number; transport: 'udp' | 'tcp' | 'tls' } | undefined {
  const match = /^(sips?):(?:[^@;]+@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?((?:;[^;]*)*)$/.exec(text.trim());
  if (!match) return undefined;
  const [, scheme, host, portText, params] = match as unknown as [string, string, string, string | undefined, string];
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const param = /;transport=([^;]*)/i.exec(params)?.[1]?.toLowerCase();
  const transport = param ?? (scheme === 'sips' ? 'tls' : 'udp');
  if (transport !== 'udp' && transport !== 'tcp' && transport !== 'tls') return undefined;
  if (scheme === 'sips' && transport !== 'tls') return undefined;
  return { host, ...(port !== undefined && { port }), transport };
}

const trunk = z.strictObject({
  /** Referenced by the API's `trunk` and by transfers. */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, "_", "." or "-"'),
  uri: trunkUri,
  /** Digest credentials for trunks that challenge (401/407). */
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** CA bundle (PEM file) a TLS trunk's certificate must chain to, instead of the system's CAs; re-read on SIGHUP. */
  ca: z.string().min(1).optional(),
  /** Host part of From; defaults to the trunk's host. */
  fromDomain: host.optional(),
  /** The trunk's channels: calls at once through it, both those waiting and those up. */
  maxConcurrentCalls: z.number().int().min(1).optional(),
  /** INVITEs per second; more wait in order (up to ten seconds' worth), then get 429. */
  callsPerSecond: z.number().gt(0).max(1000).optional(),
  /** Regexes the `to` number must match (a toll-fraud guard); none means any number. */
  allowedDestinations: z.array(regex).optional(),
  /** Offer SDES-SRTP (`RTP/SAVP` with rtpengine's `a=crypto`) to the trunk; needs `media.relay: rtpengine`. */
  srtp: z.boolean().default(false),
  /** Added to every INVITE through the trunk. */
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name'), z.string().regex(/^[^\r\n]*$/, 'must be one line')).default({}),
}).refine((t) => (t.username === undefined) === (t.password === undefined), 'set both "username" and "password", or neither');

const LOOPBACK_HOSTS = new Set(['localhost', '::1']);
export const isLoopbackHost = (h: string): boolean => LOOPBACK_HOSTS.has(h.toLowerCase()) || /^127\./.test(h);

/** The REST API on the HTTP listener (/v1/calls). */
export const apiSection = z
  .strictObject({
    /** Bearer token for /v1/*; required unless http.host is loopback. */
    token: z.string().min(1).optional(),
  })
  .prefault({});

/** Where outbound INVITEs go. */
export const trunksSection = z.array(trunk).default([]);

export const transferSection = z
  .strictObject({
    /** Regexes for direct SIP URI targets (`to` as a sip:/sips: URI in POST /v1/calls). */
    allowedTargets: z.array(regex).default([]),
    /** Bridge-mode transfers: how long the agent's phone may ring before the transfer fails (CANCEL). */
    ringTimeoutMs: z.number().int().min(1000).max(300_000).default(30_000),
  })
  .prefault({});
