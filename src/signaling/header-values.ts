// Pure parsers of SIP header values (URIs, Via, name-addr, CSeq, parameters): a value or the reason, never a throw.
import { SipHeaders, splitCommaList, type CSeq, type NameAddr, type SipMessage, type SipUri, type Via } from './message.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

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

export function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
