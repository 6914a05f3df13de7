// Digest access authentication for a UAC: parse a challenge, compute the credentials (RFC 3261 22, RFC 7616, RFC 2617).
import { createHash, randomBytes } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

/** A WWW-Authenticate or Proxy-Authenticate challenge (RFC 7616 3.3). */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque?: string;
  readonly algorithm: DigestAlgorithm;
  /** The qop values offered; empty for an RFC 2069 style challenge. */
  readonly qop: readonly string[];
  readonly stale: boolean;
}

export interface DigestInput {
  readonly challenge: DigestChallenge;
  readonly method: string;
  readonly uri: string;
  readonly username: string;
  readonly password: string;
  /** Requests already sent with this nonce, counting this one (nc, RFC 7616 3.4). */
  readonly nonceCount: number;
  /** A fresh random one when unset. */
  readonly cnonce?: string;
}

const ALGORITHMS: Readonly<Record<string, DigestAlgorithm>> = {
  md5: 'MD5',
  'md5-sess': 'MD5-sess',
  'sha-256': 'SHA-256',
  'sha-256-sess': 'SHA-256-sess',
};

/** Parses one Digest challenge; a reason string when it is not one we can answer. */
export function parseChallenge(value: string): DigestChallenge | string {
  const match = /^\s*digest\s+/i.exec(value);
  if (!match) return `not a Digest challenge: ${value.split(/\s/)[0]}`;
  const params = parseAuthParams(value.slice(match[0].length));
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) return 'Digest challenge without realm or nonce';
  const algorithm = ALGORITHMS[(params.get('algorithm') ?? 'MD5').toLowerCase()];
  if (!algorithm) return `unsupported digest algorithm ${params.get('algorithm')}`;
  const qop = (params.get('qop') ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter((q) => q.length > 0);
  if (qop.length > 0 && !qop.includes('auth')) return `unsupported qop ${qop.join(',')}`;
  const opaque = params.get('opaque');
  return { realm, nonce, algorithm, qop, stale: params.get('stale')?.toLowerCase() === 'true', ...(opaque !== undefined && { opaque }) };
}

/** The value of an Authorization or Proxy-Authorization header answering the challenge (RFC 7616 3.4). */
export function authorization(input: DigestInput): string {
  const { challenge, method, uri, username, password } = input;
  const hash = (text: string) => createHash(challenge.algorithm.startsWith('SHA-256') ? 'sha256' : 'md5').update(text, 'utf8').digest('hex');
  const qop = challenge.qop.includes('auth') ? 'auth' : undefined;
  const cnonce = input.cnonce ?? randomBytes(12).toString('base64url');
  const nc = input.nonceCount.toString(16).padStart(8, '0');
  let ha1 = hash(`${username}:${challenge.realm}:${password}`);
  if (challenge.algorithm.endsWith('-sess')) ha1 = hash(`${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = hash(`${method}:${uri}`);
  const response = qop ? hash(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : hash(`${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username="${quote(username)}"`,
    `realm="${quote(challenge.realm)}"`,
    `nonce="${quote(challenge.nonce)}"`,
    `uri="${quote(uri)}"`,
    `response="${response}"`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (qop || challenge.algorithm.endsWith('-sess')) parts.push(`cnonce="${quote(cnonce)}"`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`);
  if (challenge.opaque !== undefined) parts.push(`opaque="${quote(challenge.opaque)}"`);
  return `Digest ${parts.join(', ')}`;
}

/** auth-param list: `name=token` or `name="quoted"`, comma separated (RFC 7235 2.1). */
function parseAuthParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0].length > 0) {
    out.set(m[1]!.toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!);
  }
  return out;
}

function quote(text: string): string {
  return text.replace(/["\\]/g, '\\$&');
}
