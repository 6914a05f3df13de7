// Where a request inside a dialog goes: RFC 3261 12.2.1.1 loose and strict routing over the dialog's route set.
import { parseNameAddr, parseUri } from './parser.js';
import type { Protocol } from './flow.js';

export interface InDialogTarget {
  /** The Request-URI. */
  readonly uri: string;
  /** Route header values, in order. */
  readonly routes: string[];
  /** Where the request is sent; undefined when that URI is not a usable SIP URI. */
  readonly hop: { protocol: Protocol; host: string; port: number } | undefined;
}

/**
 * Loose routing (the first route has `lr`, or there is none): Request-URI = remote target, Route = the route set.
 * Strict routing: Request-URI = the first route, Route = the rest of the route set and then the remote target.
 * Either way the request goes to the first route, or to the remote target without one.
 */
export function inDialogTarget(routeSet: readonly string[], remoteTarget: string, fallback: Protocol): InDialogTarget {
  const first = routeSet[0] === undefined ? undefined : parseNameAddr(routeSet[0]);
  const firstUri = first?.ok ? parseUri(first.value.uri) : undefined;
  if (!first?.ok || !firstUri?.ok || firstUri.value.params.has('lr')) {
    return { uri: remoteTarget, routes: [...routeSet], hop: nextHop(first?.ok ? first.value.uri : remoteTarget, fallback) };
  }
  const uri = requestUri(first.value.uri);
  return { uri, routes: [...routeSet.slice(1), `<${remoteTarget}>`], hop: nextHop(uri, fallback) };
}

/** A route's URI without what a Request-URI may not carry (RFC 3261 19.1.1): the method parameter and headers. */
function requestUri(uri: string): string {
  const at = uri.indexOf('@');
  return uri.slice(0, at + 1) + uri.slice(at + 1).split('?')[0]!.replace(/;\s*method=[^;]*/gi, '');
}

/** Where a request to this URI goes (RFC 3263 without SRV/NAPTR): transport parameter, sips, or the fallback. */
export function nextHop(uriText: string, fallback: Protocol): InDialogTarget['hop'] {
  const uri = parseUri(uriText);
  if (!uri.ok || uri.value.scheme === 'tel') return undefined;
  const transport = uri.value.params.get('transport')?.toLowerCase();
  const protocol: Protocol =
    transport === 'udp' || transport === 'tcp' || transport === 'tls' ? transport : uri.value.scheme === 'sips' ? 'tls' : fallback;
  const host = uri.value.host.replace(/^\[|\]$/g, '');
  return { protocol, host, port: uri.value.port ?? (protocol === 'tls' ? 5061 : 5060) };
}
