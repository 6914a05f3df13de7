// RFC 3261 / RFC 4475 conformance of the pure pieces: stateless To tags, duplicated headers, request lines, URI
// schemes, body types and in-dialog routing.
import { describe, expect, it } from 'vitest';
import { SipHeaders } from '../../src/signaling/message.js';
import { parseNameAddr } from '../../src/signaling/parser.js';
import { buildStatelessResponse } from '../../src/signaling/responses.js';

describe('stateless responses', () => {
  const headers = (to: string) => new SipHeaders([['Via', 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1'], ['From', '<sip:a@b>;tag=1'], ['To', to], ['Call-ID', 'x'], ['CSeq', '1 INVITE']]);
  const toOf = (to: string) => buildStatelessResponse(headers(to), 400, 'Bad Request', 'why').headers.find(([n]) => n === 'To')?.[1] ?? '';

  it('add a To tag made from the request, the same for a retransmission, and keep one that is there', () => {
    const to = toOf('<sip:c@d>');
    const parsed = parseNameAddr(to);
    expect(parsed.ok && parsed.value.params.get('tag')).toMatch(/^[0-9a-f]{12}$/);
    expect(toOf('<sip:c@d>')).toBe(to);
    expect(toOf('<sip:e@f>')).not.toBe(to);
    expect(toOf('<sip:c@d>;tag=theirs')).toBe('<sip:c@d>;tag=theirs');
  });
});
