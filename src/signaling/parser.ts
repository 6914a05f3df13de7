// Pure SIP parser: bytes in, a message or the reason it is malformed out. Never throws.
import {
  SipHeaders,
  splitCommaList,
  type CSeq,
  type NameAddr,
  type SipMessage,
  type SipUri,
  type Via,
} from './message.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A request whose start line and header fields parsed but which is not valid SIP; enough to answer it. */
export interface MalformedRequest {
  readonly method: string;
  readonly headers: SipHeaders;
}

/** What a malformed request is answered with: 400, 416 (Request-URI scheme), 505 (SIP version). */
export type MalformedStatus = 400 | 416 | 505;

export type ParseResult =
  | { ok: true; message: SipMessage }
  | { ok: false; reason: string; status: MalformedStatus; request?: MalformedRequest };

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** Headers a message may carry once (RFC 3261 20); Contact too, in an INVITE. */
const SINGLE_VALUED = ['Call-ID', 'CSeq', 'From', 'To', 'Max-Forwards', 'Content-Length', 'Content-Type'];

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** Index of the blank line that ends the header block (CRLFCRLF, or LFLF from lenient peers), and its length. */
export function findHeaderEnd(buf: Buffer, from = 0): { index: number; length: number } | undefined {
  for (let i = from; i < buf.length - 1; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return { index: i, length: 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { index: i, length: 3 };
  }
  return undefined;
}

/** Splits a header block into unfolded lines (continuation lines start with space or tab). */
function unfoldLines(block: string): string[] {
  const lines: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && lines.length > 0) {
      lines[lines.length - 1] += ' ' + line.trim();
    } else {
      lines.push(line);
    }
  }
  return lines;
}

function parseHeaderLines(lines: string[]): Parsed<SipHeaders> {
  const entries: Array<readonly [string, string]> = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return fail(`malformed header line "${truncate(line)}"`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) return fail(`malformed header name "${truncate(name)}"`);
    entries.push([name, line.slice(colon + 1).trim()]);
  }
  return ok(new SipHeaders(entries));
}

/** Reads Content-Length from a header block; undefined when absent. */
export function contentLengthOf(headers: SipHeaders): Parsed<number | undefined> {
  const values = headers.getAll('content-length');
  if (values.length === 0) return ok(undefined);
  const distinct = new Set(values.map((v) => v.trim()));
  if (distinct.size > 1) return fail('conflicting Content-Length headers');
  const [value] = distinct;
  if (!value || !/^\d{1,9}$/.test(value)) return fail(`Content-Length "${truncate(value ?? '')}" is not a number`);
  return ok(Number(value));
}

export function parseMessage(buf: Buffer): ParseResult {
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const end = findHeaderEnd(buf, start);
  const headerBytes = end ? end.index : buf.length;
  const bodyStart = end ? end.index + end.length : buf.length;
  const lines = unfoldLines(buf.toString('utf8', start, headerBytes));
  // Trailing whitespace after the SIP version is tolerated (RFC 4475 3.1.2.10).
  const startLine = (lines.shift() ?? '').replace(/[ \t]+$/, '');

  const headers = parseHeaderLines(lines);
  const bad = (reason: string, method?: string, status: MalformedStatus = 400): ParseResult =>
    method && headers.ok
      ? { ok: false, reason, status, request: { method, headers: headers.value } }
      : { ok: false, reason, status };

  let head: { kind: 'request'; method: string; uri: string } | { kind: 'response'; status: number; reason: string };
  if (startLine.startsWith('SIP/')) {
    const m = /^SIP\/(\S+) (\d{3})(?: (.*))?$/.exec(startLine);
    if (!m) return bad(`malformed status line "${truncate(startLine)}"`);
    if (m[1] !== '2.0') return bad(`unsupported SIP version ${truncate(m[1]!)}`);
    const status = Number(m[2]);
    if (status < 100 || status > 699) return bad(`status code ${status} out of range`);
    head = { kind: 'response', status, reason: m[3] ?? '' };
  } else {
    const parts = startLine.split(/\s+/);
    const [method, uri, version] = parts as [string, string, string];
    if (parts.length > 3 && TOKEN.test(method) && /^SIP\/2\.0$/i.test(parts[parts.length - 1]!)) {
      return bad(`whitespace in the Request-URI "${truncate(parts.slice(1, -1).join(' '))}"`, method);
    }
    if (parts.length !== 3) return bad(`malformed request line "${truncate(startLine)}"`);
    if (!TOKEN.test(method)) return bad(`malformed method "${truncate(method)}"`);
    if (!/^SIP\/\d+\.\d+$/i.test(version)) return bad(`malformed request line "${truncate(startLine)}"`, method);
    if (version.toUpperCase() !== 'SIP/2.0') return bad(`unsupported SIP version ${truncate(version)}`, method, 505);
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1];
    if (scheme && !/^(sips?|tel)$/i.test(scheme)) return bad(`unsupported URI scheme "${truncate(scheme)}"`, method, 416);
    const parsedUri = parseUri(uri);
    if (!parsedUri.ok) return bad(`bad Request-URI: ${parsedUri.reason}`, method);
    head = { kind: 'request', method, uri };
  }
  if (!headers.ok) return bad(headers.reason);
  const method = head.kind === 'request' ? head.method : undefined;
  const h = headers.value;
  const duplicate = duplicatedHeader(h, method);
  if (duplicate) return bad(`duplicate ${duplicate} header`, method);

  const length = contentLengthOf(h);
  if (!length.ok) return bad(length.reason, method);
  const available = buf.length - bodyStart;
  if (length.value !== undefined && length.value > available) {
    return bad(`Content-Length ${length.value} exceeds the ${available} body bytes received`, method);
  }
  const body = buf.subarray(bodyStart, bodyStart + (length.value ?? available));

  const viaValues = h.getList('via');
  if (viaValues.length === 0) return bad('missing Via header', method);
  const via: Via[] = [];
  for (const value of viaValues) {
    const parsed = parseVia(value);
    if (!parsed.ok) return bad(`bad Via: ${parsed.reason}`, method);
    via.push(parsed.value);
  }
  const callId = h.get('call-id');
  if (!callId) return bad('missing Call-ID header', method);
  const cseqValue = h.get('cseq');
  if (cseqValue === undefined) return bad('missing CSeq header', method);
  const cseq = parseCSeq(cseqValue);
  if (!cseq.ok) return bad(`bad CSeq: ${cseq.reason}`, method);
  if (method !== undefined && cseq.value.method !== method && !(method === 'ACK' && cseq.value.method === 'INVITE')) {
    return bad(`CSeq method ${cseq.value.method} does not match request method ${method}`, method);
  }
  const fromValue = h.get('from');
  const toValue = h.get('to');
  if (fromValue === undefined) return bad('missing From header', method);
  if (toValue === undefined) return bad('missing To header', method);
  const from = parseNameAddr(fromValue);
  if (!from.ok) return bad(`bad From: ${from.reason}`, method);
  const to = parseNameAddr(toValue);
  if (!to.ok) return bad(`bad To: ${to.reason}`, method);

  const common = {
    headers: h,
    body,
    via: via as [Via, ...Via[]],
    callId,
    cseq: cseq.value,
    from: from.value,
    to: to.value,
  };
  return { ok: true, message: head.kind === 'request' ? { ...head, ...common } : { ...head, ...common } };
}

/** The first header the message carries more than once although it may carry it only once. */
function duplicatedHeader(headers: SipHeaders, method: string | undefined): string | undefined {
  const twice = SINGLE_VALUED.find((name) => headers.getAll(name).length > 1);
  if (twice) return twice;
  return method === 'INVITE' && headers.getList('contact').length > 1 ? 'Contact' : undefined;
}

/** Parses `;name=value;flag` parameters starting at `text[0] === ';'` (or empty). */
export function parseParams(text: string): Parsed<Map<string, string | null>> {
  const params = new Map<string, string | null>();
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= text.length) break;
    if (text[i] !== ';') return fail(`unexpected "${truncate(text.slice(i))}" in parameters`);
    i++;
    const nameMatch = /^\s*([^=;\s]+)\s*/.exec(text.slice(i));
    if (!nameMatch) return fail('empty parameter name');
    const name = nameMatch[1]!.toLowerCase();
    i += nameMatch[0].length;
    let value: string | null = null;
    if (text[i] === '=') {
      i++;
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (text[i] === '"') {
        const close = closingQuote(text, i);
        if (close < 0) return fail('unterminated quoted parameter');
        value = text.slice(i + 1, close);
        i = close + 1;
      } else {
        const m = /^[^;\s]*/.exec(text.slice(i))!;
        value = m[0];
        i += value.length;
      }
    }
    params.set(name, value);
  }
  return ok(params);
}

function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/** host, host:port, [v6], [v6]:port */
function parseHostPort(text: string): Parsed<{ host: string; port?: number }> {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return fail(`bad host "${truncate(text)}"`);
  if (m[2] === undefined) return ok({ host: m[1]! });
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return fail(`port ${port} out of range`);
  return ok({ host: m[1]!, port });
}

export function parseUri(text: string): Parsed<SipUri> {
  const m = /^(sips?|tel):(.*)$/i.exec(text.trim());
  if (!m) return fail(`unsupported URI "${truncate(text)}"`);
  const scheme = m[1]!.toLowerCase() as SipUri['scheme'];
  const rest = m[2]!;
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (number.length === 0) return fail('empty tel URI');
    const params = parseParams(semi < 0 ? '' : rest.slice(semi));
    if (!params.ok) return params;
    return ok({ scheme, user: number, host: '', params: params.value });
  }
  // The user part may hold "?", ";" and "/" but never an unescaped "@"; URI headers follow the host.
  const at = rest.indexOf('@');
  const user = at >= 0 ? rest.slice(0, at).split(':')[0] : undefined;
  if (user !== undefined && user.length === 0) return fail('empty user part');
  const afterUser = (at >= 0 ? rest.slice(at + 1) : rest).split('?')[0]!;
  const semi = afterUser.indexOf(';');
  const hostPort = parseHostPort(semi < 0 ? afterUser : afterUser.slice(0, semi));
  if (!hostPort.ok) return hostPort;
  const params = parseParams(semi < 0 ? '' : afterUser.slice(semi));
  if (!params.ok) return params;
  return ok({ scheme, ...(user !== undefined && { user }), ...hostPort.value, params: params.value });
}

export function parseVia(text: string): Parsed<Via> {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+([^;\s]+(?:\s*:\s*\d+)?)\s*(.*)$/i.exec(text.trim());
  if (!m) return fail(`malformed Via "${truncate(text)}"`);
  const hostPort = parseHostPort(m[2]!.replace(/\s+/g, ''));
  if (!hostPort.ok) return hostPort;
  const params = parseParams(m[3]!);
  if (!params.ok) return params;
  return ok({ transport: m[1]!.toUpperCase(), ...hostPort.value, params: params.value, raw: text.trim() });
}

/** The URI of a message's first Contact, when it has a well-formed one. */
export function contactUri(message: SipMessage): string | undefined {
  const first = splitCommaList(message.headers.get('contact') ?? '')[0];
  if (!first) return undefined;
  const parsed = parseNameAddr(first);
  return parsed.ok ? parsed.value.uri : undefined;
}

export function parseNameAddr(text: string): Parsed<NameAddr> {
  const value = text.trim();
  let displayName: string | undefined;
  let rest: string;
  let uri: string;
  const lt = value.startsWith('"') ? value.indexOf('<', closingQuote(value, 0)) : value.indexOf('<');
  if (value.startsWith('"')) {
    const close = closingQuote(value, 0);
    if (close < 0) return fail('unterminated display name');
    displayName = value.slice(1, close).replace(/\\(.)/g, '$1');
    if (lt < 0) return fail('quoted display name without <URI>');
  }
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    if (gt < 0) return fail('missing ">"');
    if (displayName === undefined) {
      const name = value.slice(0, lt).trim();
      // An unquoted display name is tokens and whitespace (RFC 3261 25.1): "Bell, Alexander <...>" is not one.
      if (name.length > 0 && !name.split(/[ \t]+/).every((word) => TOKEN.test(word))) {
        return fail(`display name "${truncate(name)}" must be quoted`);
      }
      if (name.length > 0) displayName = name;
    }
    uri = value.slice(lt + 1, gt).trim();
    rest = value.slice(gt + 1);
  } else {
    const semi = value.indexOf(';');
    uri = (semi < 0 ? value : value.slice(0, semi)).trim();
    rest = semi < 0 ? '' : value.slice(semi);
  }
  if (uri === '*' && lt < 0) return ok({ uri, params: new Map() });
  const parsedUri = parseUri(uri);
  if (!parsedUri.ok) return parsedUri;
  const params = parseParams(rest);
  if (!params.ok) return params;
  return ok({ ...(displayName !== undefined && { displayName }), uri, params: params.value });
}

export function parseCSeq(text: string): Parsed<CSeq> {
  const m = /^(\d{1,10})\s+(\S+)$/.exec(text.trim());
  if (!m) return fail(`malformed CSeq "${truncate(text)}"`);
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) return fail(`CSeq number ${seq} too large`);
  if (!TOKEN.test(m[2]!)) return fail(`malformed CSeq method "${truncate(m[2]!)}"`);
  return ok({ seq, method: m[2]! });
}

/** Route / Record-Route values of a message, in order. */
export function parseRouteList(headers: SipHeaders, name: 'route' | 'record-route'): Parsed<NameAddr[]> {
  const out: NameAddr[] = [];
  for (const value of headers.getList(name)) {
    const parsed = parseNameAddr(value);
    if (!parsed.ok) return fail(`bad ${name}: ${parsed.reason}`);
    out.push(parsed.value);
  }
  return ok(out);
}

function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
