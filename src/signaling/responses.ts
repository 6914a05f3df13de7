// Builds responses that copy what RFC 3261 8.2.6.2 asks a UAS to copy from the request.
import { createHash } from 'node:crypto';
import { DTMF_INFO_TYPES } from './dtmf-info.js';
import type { HeaderFields, OutgoingResponse, SipHeaders } from './message.js';
import { parseNameAddr } from './parser.js';
import type { ServerTransaction } from './transaction.js';

export const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE';
export const ACCEPT = ['application/sdp', ...DTMF_INFO_TYPES].join(', ');
export const SERVER_NAME = 'sip-ws-bridge';

/** The Warning text of the 403 every REFER sent to us gets: we transfer calls, we are never asked to. */
export const NOT_A_TRANSFER_TARGET = 'the bridge is not a transfer target';

/** RFC 3261 21 reason phrases of the refusals the stack decides itself. */
export const REASON_PHRASES = {
  400: 'Bad Request',
  406: 'Not Acceptable',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  505: 'Version Not Supported',
} as const;

export interface ResponseOptions {
  /** Our To tag when not the transaction's own; added unless the request's To already has one. */
  readonly toTag?: string;
  readonly headers?: HeaderFields;
  readonly body?: string;
  readonly contentType?: string;
}

export function buildResponse(tx: ServerTransaction, status: number, reason: string, options: ResponseOptions = {}): OutgoingResponse {
  const { request } = tx;
  const rawTo = request.headers.get('to')!;
  // RFC 3261 8.2.6.2: every response but 100 Trying carries our tag when the request's To had none.
  const to = request.to.params.has('tag') || status === 100 ? rawTo : `${rawTo};tag=${options.toTag ?? tx.localTag}`;
  const headers: Array<readonly [string, string]> = [['Via', tx.topVia], ...request.via.slice(1).map((v) => ['Via', v.raw] as const)];
  headers.push(
    ['From', request.headers.get('from')!],
    ['To', to],
    ['Call-ID', request.callId],
    ['CSeq', request.headers.get('cseq')!],
    ['Server', SERVER_NAME],
    ...(options.headers ?? []),
  );
  if (options.body !== undefined) headers.push(['Content-Type', options.contentType ?? 'application/sdp']);
  return { status, reason, headers, ...(options.body !== undefined && { body: options.body }) };
}

/** A stateless answer (no transaction) copying whatever Via/From/To/Call-ID/CSeq fields the request has. */
export function buildStatelessResponse(headers: SipHeaders, status: number, reason: string, warning: string): OutgoingResponse {
  const fields: Array<readonly [string, string]> = [];
  for (const via of headers.getList('via')) fields.push(['Via', via]);
  for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
    const value = headers.get(name);
    if (value !== undefined) fields.push([name, name === 'To' ? withStatelessTag(headers, value) : value]);
  }
  fields.push(['Warning', warningValue(399, warning)], ['Server', SERVER_NAME]);
  return { status, reason, headers: fields };
}

/**
 * A To value with a tag when it parses and has none. RFC 3261 8.2.7: a stateless UAS makes the tag from the request,
 * so a retransmission gets the same one.
 */
function withStatelessTag(headers: SipHeaders, to: string): string {
  const parsed = parseNameAddr(to);
  // A To that does not parse gets a tag too, unless it seems to have one: the response still names the request.
  if (parsed.ok ? parsed.value.params.has('tag') : /;\s*tag\s*=/i.test(to)) return to;
  const hash = createHash('sha256');
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) hash.update(`${headers.get(name) ?? ''}\n`);
  return `${to};tag=${hash.digest('hex').slice(0, 12)}`;
}

/** A Warning header value (RFC 3261 20.43); the text is quoted with inner quotes escaped. */
export function warningValue(code: number, text: string): string {
  return `${code} ${SERVER_NAME} "${text.replace(/["\\]/g, '\\$&')}"`;
}

/** The text of a Warning header value (`399 host "text"`), unescaped; the whole value when it has no quoted text. */
export function warningText(value: string): string {
  const quoted = /"((?:[^"\\]|\\.)*)"/.exec(value);
  return quoted ? quoted[1]!.replace(/\\(.)/g, '$1') : value;
}
