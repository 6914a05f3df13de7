// RFC 3261 17.1.2 non-INVITE client transaction (BYE, CANCEL): Timer E retransmissions, Timer F timeout.
import type { SipResponse } from './message.js';
import type { TransactionLayer } from './transaction.js';
import type { Destination } from './flow.js';
import { TimerSet } from './timer-set.js';

export type ClientResult =
  | { readonly kind: 'response'; readonly response: SipResponse }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'transport-error'; readonly error: Error };

/**
 * Non-INVITE client transaction (BYE, CANCEL): Timer E resends over UDP from T1 doubling to T2
 * (T2 once a 1xx came), Timer F gives up at 64*T1. A final response settles it; Timer K then absorbs
 * retransmitted finals.
 */
export class ClientTransaction {
  readonly #timers = new TimerSet();
  #settle!: (result: ClientResult) => void;
  #provisional = false;
  #done = false;
  readonly result: Promise<ClientResult>;

  constructor(
    private readonly layer: TransactionLayer,
    readonly key: string,
    private readonly data: Buffer,
    private readonly dest: Destination,
  ) {
    this.result = new Promise((resolve) => {
      this.#settle = resolve;
    });
    const t = layer.timers;
    this.#send();
    if (dest.protocol === 'udp') this.#resend(t.t1);
    this.#timers.after(64 * t.t1, () => this.#finish({ kind: 'timeout' }));
  }

  received(response: SipResponse): void {
    if (this.#done) return;
    if (response.status < 200) {
      this.#provisional = true;
      return;
    }
    this.#finish({ kind: 'response', response });
  }

  terminate(): void {
    this.#finish({ kind: 'timeout' });
  }

  #finish(result: ClientResult): void {
    if (this.#done) return;
    this.#done = true;
    this.#timers.clear();
    this.layer.forget(this);
    this.#settle(result);
  }

  #send(): void {
    this.layer.transport.send(this.data, this.dest).catch((error: Error) => this.#finish({ kind: 'transport-error', error }));
  }

  #resend(interval: number): void {
    this.#timers.after(interval, () => {
      this.#send();
      this.#resend(this.#provisional ? this.layer.timers.t2 : Math.min(2 * interval, this.layer.timers.t2));
    });
  }
}
