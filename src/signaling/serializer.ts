// Outgoing messages to bytes; Content-Length is always computed here, never taken from the caller.
import { headerKey, type HeaderFields, type OutgoingRequest, type OutgoingResponse } from './message.js';

function serialize(startLine: string, headers: HeaderFields, body: Buffer | string | undefined): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `${startLine}\r\n`;
  for (const [name, value] of headers) {
    if (headerKey(name) === 'content-length') continue;
    head += `${name}: ${value}\r\n`;
  }
  head += `Content-Length: ${payload.length}\r\n\r\n`;
  return payload.length === 0 ? Buffer.from(head, 'utf8') : Buffer.concat([Buffer.from(head, 'utf8'), payload]);
}

export function serializeRequest(req: OutgoingRequest): Buffer {
  return serialize(`${req.method} ${req.uri} SIP/2.0`, req.headers, req.body);
}

export function serializeResponse(res: OutgoingResponse): Buffer {
  return serialize(`SIP/2.0 ${res.status} ${res.reason}`, res.headers, res.body);
}
