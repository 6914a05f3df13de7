// An INVITE the bridge sends through drachtio-server (drachtio-srf's createUAC), adapted to the OutgoingCall the call
// layer knows: progress, then answered with a dialog or failed with a status; CANCEL on request.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import { authorization, parseChallenge } from './digest.js';
import { DrachtioDialog } from './drachtio-dialog.js';
import { warningText } from './responses.js';
import type { DialFailure, DialRequest, DigestCredentials, OutgoingCall, OutgoingCallEvents } from './types.js';

/** The slice of drachtio-srf's Srf that sends INVITEs. */
export interface SrfUac {
  createUAC(
    uri: string,
    opts: Srf.CreateUACOptions,
    // cbRequest is called (err, req), whatever drachtio-srf's types say.
    callbacks: { cbRequest?: (err: unknown, req?: Srf.SrfRequest) => void; cbProvisional?: (res: Srf.SrfResponse) => void },
  ): Promise<Srf.Dialog>;
}

export interface DialContext {
  adopt(dialog: DrachtioDialog): void;
  forget(dialog: DrachtioDialog): void;
  /** The INVITE has its outcome (answered or failed). */
  settled(): void;
}

/** How long a CANCEL may go without the INVITE's final response before we give up on it (64*T1, RFC 3261 9.1). */
export const CANCEL_WAIT_MS = 32_000;

/** What createUAC rejects with: a SipError (status, reason, the response), or an Error when the INVITE could not go. */
interface UacError {
  readonly status?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly res?: { has(name: string): boolean; get(name: string): string };
}

export class DrachtioOutgoingCall extends EventEmitter<OutgoingCallEvents> implements OutgoingCall {
  /** Ours, sent in the INVITE (drachtio-server keeps a Call-ID the application gives), so it is known at once. */
  readonly callId = `${randomUUID()}@sip-ws-bridge`;
  #request: Srf.SrfRequest | undefined;
  #cancelled = false;
  /** The INVITE has its final response (or drachtio-srf gave up on it). */
  #final = false;
  /** `answered` or `failed` has been emitted. */
  #settled = false;
  #cancelTimer: NodeJS.Timeout | undefined;
  /** Our answers to the trunk's challenges by realm: header name and value, sent again with each retry. */
  readonly #credentials = new Map<string, [string, string]>();
  readonly #nonceCounts = new Map<string, number>();
  /** Why the last challenge could not be answered. */
  #authProblem: string | undefined;

  constructor(
    private readonly srf: SrfUac,
    private readonly dial: DialRequest,
    private readonly ctx: DialContext,
  ) {
    super();
    this.#send();
  }

  /** Sends the INVITE, or after a challenge the same one again with our credentials (one retry per challenge). */
  #send(retry?: { from: string; cseq: number }): void {
    this.#final = false;
    let created: Promise<Srf.Dialog>;
    try {
      created = this.srf.createUAC(this.dial.uri, this.#options(retry), {
        cbRequest: (err, req) => {
          if (!err && req) this.#sent(req);
        },
        cbProvisional: (res) => this.#provisional(res),
      });
    } catch (err) {
      // drachtio-srf throws when it has no connection to drachtio-server; the caller has no listener yet.
      this.#final = true;
      setImmediate(() => this.#fail({ status: 503, reason: 'Service Unavailable', detail: errorText(err) }));
      return;
    }
    created.then(
      (dialog) => {
        this.#finished();
        this.#answered(dialog);
      },
      (err: unknown) => {
        this.#finished();
        if (this.#retry(err)) return;
        this.#failed(err);
      },
    );
  }

  cancel(): void {
    if (this.#final || this.#cancelled) return;
    this.#cancelled = true;
    if (this.#request) this.#sendCancel(this.#request);
  }

  /** Gives up at once (the backend is stopping): CANCEL if it can, and failed now. */
  abandon(reason: string): void {
    if (this.#settled) return;
    this.cancel();
    this.#fail({ status: 503, reason: 'Service Unavailable', detail: reason });
  }

  #options(retry?: { from: string; cseq: number }): Srf.CreateUACOptions {
    const { from, uri } = this.dial;
    const display = from.displayName === undefined ? '' : `"${from.displayName.replace(/["\\]/g, '\\$&')}" `;
    const headers: Record<string, string> = {};
    const add = (name: string, value: string) => {
      const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
      // drachtio-srf takes one value per name: repeated extra headers become one comma-separated field.
      if (key === undefined) headers[name] = value;
      else headers[key] = `${headers[key]}, ${value}`;
    };
    for (const [name, value] of this.dial.headers) add(name, value);
    const own: Record<string, string> = {
      From: `${display}<sip:${from.user}@${from.host}>`,
      To: `<${uri}>`,
      // Lower case: drachtio-srf's digest retry sets 'call-id' and must replace this one, not add a second.
      'call-id': this.callId,
      'Content-Type': 'application/sdp',
      // A retry after a challenge is the same request (RFC 3261 22.2): our From tag, the next CSeq, credentials.
      ...(retry && { From: retry.from, CSeq: `${retry.cseq} INVITE` }),
      ...(retry && Object.fromEntries(this.#credentials.values())),
    };
    for (const [name, value] of Object.entries(own)) {
      for (const key of Object.keys(headers)) if (key.toLowerCase() === name.toLowerCase()) delete headers[key];
      headers[name] = value;
    }
    // No `auth`: drachtio-srf's own digest answer is MD5 only; #retry answers challenges with ours (SHA-256 too).
    return { headers, proxy: this.dial.proxy, localSdp: this.dial.sdp };
  }

  #sent(req: Srf.SrfRequest): void {
    this.#request = req;
    // Also after abandon(): the INVITE must not ring on once we have given up on it.
    if (this.#cancelled && !this.#final) this.#sendCancel(req);
  }

  #provisional(res: Srf.SrfResponse): void {
    if (this.#settled || this.#cancelled || res.status === 100) return;
    const type = res.has('Content-Type') ? res.get('Content-Type').split(';')[0]!.trim().toLowerCase() : '';
    this.emit('progress', res.status, res.reason, res.body && type === 'application/sdp' ? res.body : undefined);
  }

  #sendCancel(req: Srf.SrfRequest): void {
    this.#cancelTimer = setTimeout(
      () => this.#fail({ status: 487, reason: 'Request Terminated', detail: 'cancelled; no final response to the INVITE after the CANCEL' }),
      CANCEL_WAIT_MS,
    );
    this.#cancelTimer.unref();
    try {
      req.cancel((err: unknown) => {
        if (err) this.#fail({ status: 503, reason: 'Service Unavailable', detail: `CANCEL not sent: ${errorText(err)}` });
      });
    } catch (err) {
      this.#fail({ status: 503, reason: 'Service Unavailable', detail: `CANCEL not sent: ${errorText(err)}` });
    }
  }

  #answered(srfDialog: Srf.Dialog): void {
    // Challenges to requests inside the dialog (BYE) stay drachtio-srf's to answer (MD5), as before.
    if (this.dial.credentials) (srfDialog as unknown as { auth?: DigestCredentials }).auth = { ...this.dial.credentials };
    const dialog = new DrachtioDialog(this.callId, this.dial.sdp, srfDialog, () => this.ctx.forget(dialog));
    this.ctx.adopt(dialog);
    if (this.#settled || this.#cancelled) {
      // A 2xx that crossed our CANCEL (or came after we gave up): drachtio-srf has ACKed it; end it.
      dialog.bye().catch(() => {});
      this.#fail({ status: 487, reason: 'Request Terminated', detail: 'cancelled; a 2xx crossed the CANCEL and was ended with BYE' });
      return;
    }
    this.#settle();
    this.emit('answered', dialog, srfDialog.remote.sdp);
  }

  #failed(err: unknown): void {
    const e = (err ?? {}) as UacError;
    if (typeof e.status === 'number') {
      const warning = e.res?.has('Warning') ? warningText(e.res.get('Warning')) : undefined;
      const detail = e.status === 401 || e.status === 407 ? this.#authDetail(e) : warning;
      this.#fail({ status: e.status, reason: e.reason ?? '', ...(detail !== undefined && { detail }) });
    } else {
      this.#fail({ status: 503, reason: 'Service Unavailable', detail: errorText(err) });
    }
  }

  /**
   * A 401/407 to answer (RFC 3261 22.2/22.3, as the embedded stack does): one retry per challenge, with the same
   * Call-ID and From tag, CSeq+1 and our Authorization/Proxy-Authorization. False when the call ends with it.
   */
  #retry(err: unknown): boolean {
    const e = (err ?? {}) as UacError;
    if ((e.status !== 401 && e.status !== 407) || !e.res || !this.dial.credentials || this.#cancelled || this.#settled) return false;
    const name = e.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const from = e.res.has('From') ? e.res.get('From') : undefined;
    const cseq = e.res.has('CSeq') ? Number(/^\s*(\d+)/.exec(e.res.get('CSeq'))?.[1]) : NaN;
    if (!e.res.has(name) || from === undefined || !Number.isInteger(cseq)) return false;
    const problems: string[] = [];
    let answered = 0;
    for (const value of splitChallenges(e.res.get(name))) {
      const challenge = parseChallenge(value);
      if (typeof challenge === 'string') {
        problems.push(challenge);
        continue;
      }
      if (this.#credentials.has(challenge.realm) && !challenge.stale) {
        this.#authProblem = `credentials for realm "${challenge.realm}" were refused`;
        return false;
      }
      const nonceCount = (this.#nonceCounts.get(challenge.nonce) ?? 0) + 1;
      this.#nonceCounts.set(challenge.nonce, nonceCount);
      const header = authorization({ challenge, method: 'INVITE', uri: this.dial.uri, ...this.dial.credentials, nonceCount });
      this.#credentials.set(challenge.realm, [e.status === 401 ? 'Authorization' : 'Proxy-Authorization', header]);
      answered++;
    }
    if (answered === 0) {
      this.#authProblem = problems.join('; ') || 'no Digest challenge in the response';
      return false;
    }
    this.#request = undefined;
    this.#send({ from, cseq: cseq + 1 });
    return true;
  }

  /** Why a 401/407 ended the call. */
  #authDetail(e: UacError): string {
    if (!this.dial.credentials) return `the trunk asks for authentication (${e.status}) and no credentials are configured`;
    return this.#authProblem ?? 'credentials were refused';
  }

  #fail(failure: DialFailure): void {
    if (this.#settled) return;
    this.#settle();
    this.emit('failed', failure);
  }

  #settle(): void {
    this.#settled = true;
    this.ctx.settled();
  }

  #finished(): void {
    this.#final = true;
    clearTimeout(this.#cancelTimer);
  }
}

/**
 * drachtio-srf joins repeated challenge headers with commas: split before each `Digest` scheme (a comma inside a
 * quoted value is left alone).
 */
function splitChallenges(value: string): string[] {
  return value.split(/,\s*(?=digest\s)/i).filter((part) => part.trim().length > 0);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
