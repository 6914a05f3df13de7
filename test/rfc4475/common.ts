// Shared shapes for the RFC 4475 torture messages: who sends them, what the bridge should do, and how they are built.

/** The test's own end of the connection, written into the top Via where responses must come back to it. */
export interface Peer {
  /** Via transport token: UDP or TCP. */
  readonly transport: 'UDP' | 'TCP';
  /** 127.0.0.1:<the test socket's port>. */
  readonly sentBy: string;
  /** Appended to Call-IDs so that the UDP and TCP runs of a message are distinct calls. */
  readonly u: string;
}

export type Outcome =
  /** A final response with one of these codes (several where RFC 4475 allows rejecting or being liberal). */
  | { readonly kind: 'status'; readonly status: readonly number[]; readonly check?: (response: RawMessage) => void }
  /** Nothing comes back: responses sent to a UAS, and requests that cannot be framed or answered. */
  | { readonly kind: 'ignored' }
  /** An INVITE the bridge takes: 200, the bot gets `start`, then the test sends ACK and BYE. */
  | { readonly kind: 'call'; readonly orStatus?: readonly number[] };

export interface TortureMessage {
  /** RFC 4475 section number, e.g. 3.1.1.1. */
  readonly section: string;
  /** The RFC's message tag, e.g. wsinv. */
  readonly tag: string;
  readonly build: (peer: Peer) => Buffer;
  readonly expect: Outcome;
  /** Where the outcome over a stream differs (framing by Content-Length). */
  readonly overTcp?: Outcome;
  /** The request has no To header field, so no response can carry a To tag. */
  readonly noTo?: boolean;
}

export const status = (...codes: number[]): Outcome => ({ kind: 'status', status: codes });
export const ignored: Outcome = { kind: 'ignored' };
export const call: Outcome = { kind: 'call' };
/** Rejecting as malformed, or being liberal and taking the call: RFC 4475 allows both for these. */
export const rejectOrCall: Outcome = { kind: 'call', orStatus: [400] };

/** Header lines and a body joined with CRLF; a `{CL}` placeholder becomes the body's length in bytes. */
export function message(lines: readonly string[], body: Buffer | string = ''): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const head = lines.map((line) => line.replace('{CL}', String(bytes.length))).join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'utf8'), bytes]);
}

/** The RFC's usual SDP offer (audio PCMU and payload type 12, plus a video line), with c= moved to loopback. */
export function rfcSdp(origin: string, options: { t?: string; video?: boolean; session?: boolean } = {}): string {
  return [
    'v=0',
    `o=mhandley 29739 7272939 IN IP4 ${origin}`,
    ...(options.session === false ? [] : ['s=-']),
    'c=IN IP4 127.0.0.1',
    ...(options.session === false ? [] : [`t=${options.t ?? '0 0'}`]),
    'm=audio 49217 RTP/AVP 0 12',
    ...(options.video === false ? [] : ['m=video 3227 RTP/AVP 31', 'a=rtpmap:31 LPC']),
    '',
  ].join('\r\n');
}

/** A received message read leniently: our own parser may refuse what the bridge copies from a bad request. */
export interface RawMessage {
  readonly text: string;
  readonly startLine: string;
  /** Status code for responses, undefined for requests. */
  readonly status?: number;
  /** Header fields, names lower-cased with compact forms expanded, values unfolded. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  get(name: string): string | undefined;
  readonly cseqMethod: string;
  readonly cseqSeq: number;
}

const COMPACT: Readonly<Record<string, string>> = { t: 'to', f: 'from', i: 'call-id', v: 'via', m: 'contact', l: 'content-length', c: 'content-type', k: 'supported' };

export function readRaw(data: Buffer): RawMessage {
  const text = data.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const [startLine = '', ...lines] = (end >= 0 ? text.slice(0, end) : text).replace(/\r\n[ \t]+/g, ' ').split('\r\n');
  const headers = lines.map((line) => {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    return [COMPACT[name] ?? name, line.slice(colon + 1).trim()] as const;
  });
  const get = (name: string) => headers.find(([n]) => n === name)?.[1];
  const cseq = /^(\d+)\s+(\S+)/.exec(get('cseq') ?? '');
  const statusMatch = /^SIP\/2\.0 (\d{3}) /.exec(startLine);
  return {
    text,
    startLine,
    ...(statusMatch && { status: Number(statusMatch[1]) }),
    headers,
    get,
    cseqMethod: cseq?.[2] ?? '',
    cseqSeq: Number(cseq?.[1] ?? 0),
  };
}

export function expectHeader(response: RawMessage, name: string, pattern: RegExp): void {
  const value = response.get(name);
  if (value === undefined || !pattern.test(value)) throw new Error(`${response.startLine}: ${name} is ${JSON.stringify(value)}, expected ${pattern}`);
}
