// The check of an INVITE before anything is set up: an SDP offer we can answer, custom headers within their limits,
// and a bot to route it to. Pure: the bot host's DNS check (a header URL) is the call's, after this.
import { customHeaderProblem, routeCall, type HeaderLimits, type RouteDecision, type RoutingOptions } from '../bot/index.js';
import { negotiate, RELAYABLE_TRANSPORTS, type NegotiatedAudio, type SdpRejection } from '../sdp/index.js';
import type { IncomingCall } from '../signaling/index.js';

/** A SIP rejection for a call that cannot be set up; the reason travels in a Warning header. */
export interface Rejection {
  readonly status: number;
  readonly phrase: string;
  readonly warnCode: number;
  readonly reason: string;
}

export type Route = Extract<RouteDecision, { ok: true }>;

export const unavailable = (reason: string): Rejection => ({ status: 503, phrase: 'Service Unavailable', warnCode: 399, reason });
export const unreachable = (reason: string): Rejection => ({ status: 480, phrase: 'Temporarily Unavailable', warnCode: 399, reason });
export const forbidden = (reason: string): Rejection => ({ status: 403, phrase: 'Forbidden', warnCode: 399, reason });
export const INTERNAL_ERROR: Rejection = { status: 500, phrase: 'Server Internal Error', warnCode: 399, reason: 'internal error' };

export const sdpRejection = (r: SdpRejection): Rejection => ({
  status: r.status,
  phrase: r.status === 488 ? 'Not Acceptable Here' : 'Bad Request',
  warnCode: r.warnCode,
  reason: r.reason,
});

export interface Admitted {
  readonly route: Route;
  /** The carrier's offer as negotiated (behind a relay, it may ask for SRTP: rtpengine's rewrite is what we answer). */
  readonly audio: NegotiatedAudio;
}

export function admitInvite(
  invite: Pick<IncomingCall, 'sdp' | 'headers'>,
  options: { readonly relayed: boolean; readonly headerLimits: HeaderLimits; readonly routing: RoutingOptions },
): Admitted | Rejection {
  if (invite.sdp === undefined) return { status: 488, phrase: 'Not Acceptable Here', warnCode: 399, reason: 'INVITE without an SDP offer is not supported' };
  const carrierOffer = negotiate(invite.sdp, options.relayed ? RELAYABLE_TRANSPORTS : undefined);
  if (!carrierOffer.ok) return sdpRejection(carrierOffer);
  const headerProblem = customHeaderProblem(invite.headers, options.headerLimits);
  if (headerProblem) return { status: 400, phrase: 'Bad Request', warnCode: 399, reason: headerProblem };
  const route = routeCall(invite.headers, options.routing);
  if (!route.ok) return route.status === 404 ? { status: 404, phrase: 'Not Found', warnCode: 399, reason: route.reason } : forbidden(route.reason);
  return { route, audio: carrierOffer.audio };
}
