// RFC 3515 REFER from our side of a dialog: the REFER's own answer, then the implicit subscription's NOTIFYs, whose
// message/sipfrag bodies (RFC 3420) tell how the transfer target's call went. One outcome, once.
import { EventEmitter } from 'node:events';
import type { HeaderFields } from './message.js';

/** What to transfer the dialog's far end to. */
export interface ReferRequest {
  /** The Refer-To URI, e.g. `sip:+918041234567@pstn.example.com`. */
  readonly target: string;
  /** Extra headers for the REFER (e.g. `X-UUI`), in order. */
  readonly headers?: HeaderFields;
  /** How long to wait for a final NOTIFY after the REFER is accepted; 30 s by default. */
  readonly timeoutMs?: number;
}

/** How a REFER ended: `ok` when a NOTIFY carried a 2xx sipfrag. */
export type ReferOutcome =
  | { readonly ok: true; readonly sipStatus: number; readonly reason: string }
  | {
      readonly ok: false;
      /** The REFER's final status (>= 300), the sipfrag's (>= 300), 408 when nothing final came in time. */
      readonly sipStatus: number;
      readonly reason: string;
      /** Which step failed: the REFER itself, the target's call (a NOTIFY), or the wait for either. */
      readonly stage: 'refer' | 'notify' | 'timeout' | 'dialog';
    };

export interface ReferEvents {
  /** The REFER was answered 2xx (202 Accepted, or 200). */
  accepted: [status: number];
  /** A NOTIFY with a provisional sipfrag (100 Trying, 180 Ringing, 183...). */
  progress: [sipStatus: number, reason: string];
  /** Exactly once. */
  done: [outcome: ReferOutcome];
}

/** A NOTIFY for a REFER subscription, as the dialog hands it over (answered 200 already). */
export interface ReferNotify {
  /** The message/sipfrag body. */
  readonly body: string;
  /** The Subscription-State header's value. */
  readonly subscriptionState: string | undefined;
}

/** A REFER in progress; `result` settles with the same outcome `done` carries. */
export interface Refer extends EventEmitter<ReferEvents> {
  /** The CSeq number of the REFER, the `id` of its subscription (RFC 3515 2.4.6). */
  readonly id: number;
  readonly result: Promise<ReferOutcome>;
}

export const DEFAULT_REFER_TIMEOUT_MS = 30_000;

/** The status line of a message/sipfrag body: `SIP/2.0 200 OK`. */
export function parseSipfrag(body: string): { status: number; reason: string } | undefined {
  const match = /^\s*SIP\/2\.0\s+(\d{3})(?:[ \t]+([^\r\n]*))?/i.exec(body);
  return match ? { status: Number(match[1]), reason: (match[2] ?? '').trim() } : undefined;
}

/** The state machine of one REFER; the dialog sends the REFER and feeds it responses and NOTIFYs. */
export class ReferSubscription extends EventEmitter<ReferEvents> implements Refer {
  readonly result: Promise<ReferOutcome>;
  #settle!: (outcome: ReferOutcome) => void;
  #outcome: ReferOutcome | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    private readonly timeoutMs: number,
    private readonly onDone: (refer: ReferSubscription) => void,
  ) {
    super();
    this.result = new Promise((resolve) => (this.#settle = resolve));
    // The REFER's own transaction times out by itself (64*T1); this bounds the whole transfer.
    this.#timer = setTimeout(() => this.finish({ ok: false, sipStatus: 408, reason: `no final NOTIFY within ${timeoutMs} ms`, stage: 'timeout' }), timeoutMs);
  }

  get settled(): boolean {
    return this.#outcome !== undefined;
  }

  /** The REFER's final response (or 408 / 503 when it got none). */
  answered(status: number, reason: string): void {
    if (this.#outcome) return;
    if (status >= 300) {
      this.finish({ ok: false, sipStatus: status, reason: `REFER answered ${status}${reason ? ` ${reason}` : ''}`, stage: 'refer' });
      return;
    }
    // A fresh wait for the NOTIFYs, now that the far end is on it.
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.finish({ ok: false, sipStatus: 408, reason: `no final NOTIFY within ${this.timeoutMs} ms`, stage: 'timeout' }),
      this.timeoutMs,
    );
    this.emit('accepted', status);
  }

  notified(notify: ReferNotify): void {
    if (this.#outcome) return;
    const frag = parseSipfrag(notify.body);
    const terminated = /^\s*terminated/i.test(notify.subscriptionState ?? '');
    if (frag && frag.status >= 200) {
      this.finish(
        frag.status < 300
          ? { ok: true, sipStatus: frag.status, reason: frag.reason }
          : { ok: false, sipStatus: frag.status, reason: `transfer target answered ${frag.status}${frag.reason ? ` ${frag.reason}` : ''}`, stage: 'notify' },
      );
      return;
    }
    if (frag) this.emit('progress', frag.status, frag.reason);
    if (terminated) {
      const reason = /reason=([\w-]+)/i.exec(notify.subscriptionState ?? '')?.[1];
      this.finish({ ok: false, sipStatus: frag?.status ?? 500, reason: `subscription terminated without a final status${reason ? ` (${reason})` : ''}`, stage: 'notify' });
    }
  }

  /** Ends it now (the dialog ended, or it could not be sent). */
  finish(outcome: ReferOutcome): void {
    if (this.#outcome) return;
    this.#outcome = outcome;
    clearTimeout(this.#timer);
    this.onDone(this);
    this.#settle(outcome);
    this.emit('done', outcome);
  }
}
