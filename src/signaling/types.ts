// What the call layer sees of signaling, whichever backend (embedded stack or drachtio) carries it.
import type { EventEmitter } from 'node:events';
import type { HeaderFields } from './message.js';

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
  start(): Promise<void>;
  stop(): Promise<void>;
}
