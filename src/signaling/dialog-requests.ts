// Building the requests a dialog sends (RFC 3261 12.2.1.1): Request-URI, Via, Route, From/To, CSeq of BYE, REFER, ACK.
import type { HeaderFields, OutgoingRequest } from './message.js';
import { parseNameAddr } from './parser.js';
import { SERVER_NAME } from './responses.js';
import { inDialogTarget } from './route-set.js';
import { newBranch } from './transaction.js';
import type { Destination, Flow, Protocol } from './flow.js';

/** A request inside the dialog, ready for the transaction layer or the transport. */
export interface InDialogRequest {
  readonly request: OutgoingRequest;
  readonly dest: Destination;
  readonly branch: string;
}

/** The parts of a dialog its requests are addressed from. */
export interface DialogAddress {
  readonly callId: string;
  /** Our URI with our tag. */
  readonly localUri: string;
  readonly remoteUri: string;
  readonly remoteTarget: string;
  readonly routeSet: readonly string[];
  readonly flow: Flow;
  /** host:port for the Via of requests we send over a protocol. */
  sentBy(protocol: Protocol): string;
}

/**
 * A request to the remote target over the route set (RFC 3261 12.2.1.1); throws when there is no usable next hop.
 * An ACK for 2xx takes the INVITE's CSeq number (13.2.2.4).
 */
export function buildInDialogRequest(dialog: DialogAddress, method: string, seq: number, extra: HeaderFields = []): InDialogRequest {
  const { routeSet, remoteTarget, flow } = dialog;
  const target = inDialogTarget(routeSet, remoteTarget, flow.protocol);
  const { hop } = target;
  if (!hop) {
    throw new Error(`cannot send ${method}: no usable next hop in route set [${routeSet.join(', ')}] and remote target ${remoteTarget}`);
  }
  const branch = newBranch();
  const headers: Array<readonly [string, string]> = [
    ['Via', `SIP/2.0/${hop.protocol.toUpperCase()} ${dialog.sentBy(hop.protocol)};branch=${branch};rport`],
    ['Max-Forwards', '70'],
    ...target.routes.map((route) => ['Route', route] as const),
    ['From', dialog.localUri],
    ['To', dialog.remoteUri],
    ['Call-ID', dialog.callId],
    ['CSeq', `${seq} ${method}`],
    ['User-Agent', SERVER_NAME],
    ...extra,
  ];
  const dest: Destination = {
    ...hop,
    ...(flow.connection && flow.protocol === hop.protocol && { connection: flow.connection }),
  };
  return { request: { method, uri: target.uri, headers }, dest, branch };
}

/** The headers of a REFER (RFC 3515 2.1, RFC 3892): Refer-To the target, Referred-By our URI, our Contact. */
export function referHeaders(localUri: string, target: string, contact: string, extra: HeaderFields = []): HeaderFields {
  const local = parseNameAddr(localUri);
  const referredBy = local.ok ? local.value.uri : localUri;
  return [['Refer-To', `<${target}>`], ['Referred-By', `<${referredBy}>`], ['Contact', contact], ...extra];
}
