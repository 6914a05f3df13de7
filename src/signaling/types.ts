// What the call layer sees of signaling, whichever backend (embedded stack or drachtio) carries it.
import type { EventEmitter } from 'node:events';
import type { HeaderFields } from './message.js';
import type { Refer, ReferRequest } from './refer.js';

export type SipProtocol = 'udp' | 'tcp' | 'tls';

export interface Party {
  readonly uri: string;
  /** The URI's user part, e.g. "+918888888888". */
  readonly user?: string;
  readonly displayName?: string;
  /** The tag parameter of the From or To header, when it has one. */
  readonly tag?: string;
}

export interface IncomingCallEvents {
  /** The caller sent CANCEL; the stack has already answered 487. */
  cancel: [];
}

/** An INVITE that waits for the application to answer or reject it. */
export interface IncomingCall extends EventEmitter<IncomingCallEvents> {
  readonly callId: string;
  readonly from: Party;
  readonly to: Party;
  readonly requestUri: string;
  readonly protocol: SipProtocol;
  readonly source: { readonly address: string; readonly port: number };
  /** Every header field of the INVITE in wire order, names as received. */
  readonly headers: HeaderFields;
  /** The SDP offer, when the INVITE carries one. */
  readonly sdp: string | undefined;
  readonly cancelled: boolean;
  /** Sends 200 OK with our SDP; the dialog waits for the ACK. */
  answer(localSdp: string): Dialog;
  reject(status: number, phrase: string, details?: RejectDetails): void;
}

export interface RejectDetails {
  /** Why, for the carrier's logs: a Warning header (RFC 3261 20.43). */
  readonly warning?: { readonly code: number; readonly text: string };
  /** Seconds, for a Retry-After header. */
  readonly retryAfter?: number;
}

export interface DialogEvents {
  /** The ACK for our 2xx arrived. */
  confirmed: [];
  /** No ACK within 64*T1: the session must be ended (RFC 3261 13.3.1.4). */
  ackTimeout: [];
  /** The remote side hung up; the stack has answered 200. */
  bye: [];
  /**
   * A re-INVITE or UPDATE carried a new offer. Nothing is answered until the listener calls `accept` or `reject`
   * (a re-INVITE has had 100 Trying); without a listener the offer is answered with our current SDP.
   */
  reoffer: [offer: Reoffer];
  /** The TCP/TLS connection the dialog lives on closed: the caller is gone, no BYE can reach it. */
  lost: [];
  /** A key press in an INFO request (application/dtmf-relay or application/dtmf), answered 200. */
  dtmf: [digit: string, durationMs: number | undefined];
}

/** Why a re-offer is refused: 488 it cannot be answered, 500 answering it failed. The session goes on as it was. */
export type ReofferRefusal = 488 | 500;

/** A new SDP offer inside the dialog, answered once by the application. */
export interface Reoffer {
  readonly sdp: string;
  /** Sends 200 with this answer, which becomes the dialog's SDP. */
  accept(answerSdp: string): void;
  /** Refuses the offer with the reason in a Warning header. */
  reject(status: ReofferRefusal, reason: string): void;
}

/** An answered call's SIP dialog. */
export interface Dialog extends EventEmitter<DialogEvents> {
  readonly callId: string;
  /**
   * Hangs up with BYE (after the ACK, if it is still due). Safe to call more than once. Rejects with the reason
   * when the BYE got no 2xx; the dialog is over either way.
   */
  bye(): Promise<void>;
  /**
   * Asks the far end to call `target` instead (RFC 3515 REFER, Referred-By us); its NOTIFYs are answered 200 and
   * reported. The dialog goes on whatever the outcome: ending it after a success is the caller's part. One at a time.
   */
  refer(request: ReferRequest): Refer;
}

/** A request or connection turned away before it reached the application. */
export interface Refusal {
  readonly reason: 'source-not-allowed' | 'too-many-connections' | 'malformed';
  /** The sender's IP address. */
  readonly source: string;
}

export interface SipBackendEvents {
  invite: [call: IncomingCall];
  refused: [refusal: Refusal];
}

/** Live protocol state, for health and leak checks. */
export interface SipStats {
  readonly dialogs: number;
  /** INVITEs not yet answered or rejected. */
  readonly pendingInvites: number;
  readonly [detail: string]: number;
}

/** Whether the backend can take calls now; when not, why (for /health and the logs). */
export type BackendStatus = { readonly up: true } | { readonly up: false; readonly reason: string };

/** Digest credentials for a trunk that challenges with 401 or 407 (RFC 3261 22, RFC 7616). */
export interface DigestCredentials {
  readonly username: string;
  readonly password: string;
}

/** An INVITE the bridge sends (an outbound call through a trunk). */
export interface DialRequest {
  /** Request-URI and To, e.g. `sip:+919876543210@pstn.example.com`. */
  readonly uri: string;
  /**
   * The next hop: the trunk's URI (`sip:host:port;transport=tcp`); its host, port and transport say where the
   * INVITE goes (RFC 3263 without DNS SRV/NAPTR: an A/AAAA lookup of the host, port 5060/5061 by default).
   */
  readonly proxy: string;
  /** From: `sip:<user>@<host>`, with an optional display name. */
  readonly from: { readonly user: string; readonly host: string; readonly displayName?: string };
  /** Extra headers, in order (the trunk's and the request's `X-` headers). */
  readonly headers: HeaderFields;
  /** The SDP offer. */
  readonly sdp: string;
  readonly credentials?: DigestCredentials;
  /**
   * The embedded backend's alone (drachtio-server writes its own), for the test caller's carrier-shaped INVITE:
   * the To URI when not the Request-URI, a user part for our Contact, the User-Agent of the INVITE and its CANCEL.
   */
  readonly to?: string;
  readonly contactUser?: string;
  readonly userAgent?: string;
  /** For a TLS next hop: the CA certificates (PEM) its certificate must chain to, instead of the system's. */
  readonly tls?: { readonly ca?: Buffer };
}

/** How an outbound INVITE ended without a dialog: the final status, or 408 (no answer at all) / 503 (no way to send). */
export interface DialFailure {
  readonly status: number;
  readonly reason: string;
  /** The Warning header's text or the transport error, when there is one. */
  readonly detail?: string;
}

export interface OutgoingCallEvents {
  /** A provisional response (180, 183 with or without SDP); 100 is not reported. */
  progress: [status: number, reason: string, sdp: string | undefined];
  /** The first 2xx: ACKed by the dialog; the SDP is the answer. */
  answered: [dialog: Dialog, sdp: string];
  /** A final non-2xx response, a timeout or a transport failure; also after cancel() (487 or a final that crossed it). */
  failed: [failure: DialFailure];
}

/** An INVITE on its way; ends with exactly one of `answered` or `failed`. */
export interface OutgoingCall extends EventEmitter<OutgoingCallEvents> {
  readonly callId: string;
  /**
   * Gives up: CANCEL once a provisional response has come (RFC 3261 9.1), or as soon as one comes; a 2xx that
   * crosses the CANCEL is ACKed and ended with BYE. Safe to call more than once.
   */
  cancel(): void;
}

export interface SipBackend extends EventEmitter<SipBackendEvents> {
  /** Can SIP reach us now: listeners bound (embedded), connected and authenticated to drachtio-server (drachtio). */
  readonly status: BackendStatus;
  /** Where the backend itself listens for SIP (nothing when drachtio-server does). */
  readonly listening: Readonly<Partial<Record<SipProtocol, { readonly host: string; readonly port: number }>>>;
  stats(): SipStats;
  /** Takes a new TLS certificate (and CA) for new connections, where the backend terminates TLS itself. */
  reloadTls?(material: { cert: Buffer; key: Buffer; ca?: Buffer }): void;
  /**
   * For a drain: new calls stop coming to this bridge where something else can offer them to another one
   * (drachtio-server, to the other bridges connected to it); the dialogs in progress go on.
   */
  withdraw?(): void;
  /** Sends an INVITE (an outbound call). */
  dial(request: DialRequest): OutgoingCall;
  start(): Promise<void>;
  stop(): Promise<void>;
}
