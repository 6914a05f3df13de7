// The SIP message model: what the parser produces and the rest of the stack reads.

export type Params = ReadonlyMap<string, string | null>;

export interface SipUri {
  readonly scheme: 'sip' | 'sips' | 'tel';
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
  /** URI parameters, names lower-cased; a flag parameter maps to null. */
  readonly params: Params;
}

export interface Via {
  /** Upper-cased transport token: UDP, TCP, TLS, WS... */
  readonly transport: string;
  readonly host: string;
  readonly port?: number;
  readonly params: Params;
  /** The header value as received, for copying into responses. */
  readonly raw: string;
}

/** From, To, Contact, Route and Record-Route values. */
export interface NameAddr {
  readonly displayName?: string;
  readonly uri: string;
  readonly params: Params;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** The lookup key of a header name: lower case, compact forms expanded. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT_FORMS[lower] ?? lower;
}

/** Header fields in wire order; lookups ignore case and accept compact forms. */
export class SipHeaders {
  readonly #entries: ReadonlyArray<readonly [name: string, value: string]>;

  constructor(entries: ReadonlyArray<readonly [string, string]>) {
    this.#entries = entries;
  }

  get entries(): ReadonlyArray<readonly [name: string, value: string]> {
    return this.#entries;
  }

  /** The first value of a header. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const [n, v] of this.#entries) if (headerKey(n) === key) return v;
    return undefined;
  }

  /** Every field line of a header, in order, as written (comma lists not split). */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const [n, v] of this.#entries) if (headerKey(n) === key) out.push(v);
    return out;
  }

  /** Every element of a comma-separated list header (Via, Route, Contact...), across field lines. */
  getList(name: string): string[] {
    return this.getAll(name).flatMap(splitCommaList);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/** Splits a header value at commas outside quotes and angle brackets. */
export function splitCommaList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((part) => part.length > 0);
}

interface MessageBase {
  readonly headers: SipHeaders;
  readonly body: Buffer;
  /** Via values top first; the parser guarantees at least one. */
  readonly via: readonly [Via, ...Via[]];
  readonly callId: string;
  readonly cseq: CSeq;
  readonly from: NameAddr;
  readonly to: NameAddr;
}

export interface SipRequest extends MessageBase {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
}

export interface SipResponse extends MessageBase {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Header fields for building an outgoing message, in the order they are written. */
export type HeaderFields = ReadonlyArray<readonly [name: string, value: string]>;

export interface OutgoingRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers: HeaderFields;
  readonly body?: Buffer | string;
}

export interface OutgoingResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: HeaderFields;
  readonly body?: Buffer | string;
}

/** The RFC 3261 magic cookie that marks a branch as globally unique. */
export const BRANCH_COOKIE = 'z9hG4bK';
