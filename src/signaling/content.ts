// RFC 3261 8.2.3 content processing of an INVITE: a body we can read, and an answer the caller accepts.
import type { HeaderFields, SipHeaders } from './message.js';
import { parseParams } from './parser.js';
import { REASON_PHRASES } from './responses.js';

const SDP = 'application/sdp';

export interface ContentRefusal {
  readonly status: 406 | 415;
  readonly phrase: string;
  readonly reason: string;
  readonly headers: HeaderFields;
}

/** Why an INVITE's body or Accept header rules it out (415 / 406), or nothing when SDP both ways is fine. */
export function inviteContentRefusal(headers: SipHeaders, body: Buffer): ContentRefusal | undefined {
  const type = mediaType(headers.get('content-type') ?? '');
  if (body.length > 0 && type !== SDP) {
    return {
      status: 415,
      phrase: REASON_PHRASES[415],
      reason: type ? `unsupported body type ${type}; only ${SDP} is understood` : `body without Content-Type; only ${SDP} is understood`,
      headers: [['Accept', SDP]],
    };
  }
  const accept = headers.getAll('accept');
  if (accept.length > 0 && !accepts(headers.getList('accept'), SDP)) {
    const ranges = accept.join(', ').trim();
    return {
      status: 406,
      phrase: REASON_PHRASES[406],
      reason: `our answer is ${SDP}, which Accept excludes${ranges ? `: ${ranges}` : ''}`,
      headers: [],
    };
  }
  return undefined;
}

/** type/subtype of a Content-Type or Accept value, lower-cased, without parameters. */
function mediaType(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}

/** Whether Accept media ranges (RFC 3261 20.1; an empty list accepts nothing) take `type` with a q above 0. */
function accepts(ranges: string[], type: string): boolean {
  const [major] = type.split('/');
  return ranges.some((range) => {
    const semi = range.indexOf(';');
    const params = semi < 0 ? undefined : parseParams(range.slice(semi));
    const q = params?.ok ? Number(params.value.get('q') ?? '1') : 1;
    const name = mediaType(range);
    return q > 0 && (name === type || name === `${major}/*` || name === '*/*');
  });
}
