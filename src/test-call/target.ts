// Where a test call goes: the --to URI read into the transport, the address and the called number.
import { parseUri, type Parsed } from '../signaling/parser.js';

export type CallTransport = 'tcp' | 'udp';

export interface CallTarget {
  /** The URI as given: the INVITE's Request-URI. */
  readonly uri: string;
  readonly transport: CallTransport;
  /** Host name or IP, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** The called number (the URI's user part), when there is one. */
  readonly user?: string;
}

const SIP_PORT = 5060;

/** `sip:USER@HOST[:PORT][;transport=tcp|udp]`; TCP unless the URI says UDP, as Exotel dials over TCP. */
export function parseCallTarget(text: string): Parsed<CallTarget> {
  const parsed = parseUri(text);
  if (!parsed.ok) return parsed;
  const uri = parsed.value;
  if (uri.scheme !== 'sip') return { ok: false, reason: `${uri.scheme}: URIs are not supported: use sip:USER@HOST:PORT` };
  const transport = (uri.params.get('transport') ?? 'tcp').toLowerCase();
  if (transport !== 'tcp' && transport !== 'udp') {
    return { ok: false, reason: `transport=${transport} is not supported: use tcp (the default) or udp` };
  }
  return {
    ok: true,
    value: {
      uri: text.trim(),
      transport,
      host: uri.host.replace(/^\[|\]$/g, ''),
      port: uri.port ?? SIP_PORT,
      ...(uri.user !== undefined && { user: uri.user }),
    },
  };
}
