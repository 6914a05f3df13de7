// Pure SIP parser: bytes in, a message or the reason it is malformed out. Never throws.
import { SipHeaders, type SipMessage, type Via } from './message.js';
import { fail, ok, parseCSeq, parseNameAddr, parseUri, parseVia, TOKEN, truncate, type Parsed } from './header-values.js';

export { contactUri, parseCSeq, parseNameAddr, parseParams, parseRouteList, parseUri, parseVia, type Parsed } from './header-values.js';

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

/** Headers a message may carry once (RFC 3261 20); Contact too, in an INVITE. */
const SINGLE_VALUED = ['Call-ID', 'CSeq', 'From', 'To', 'Max-Forwards', 'Content-Length', 'Content-Type'];


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
