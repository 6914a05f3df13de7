// Our 2xx to an INVITE waiting for its ACK (RFC 3261 13.3.1.4): resent over UDP with backoff, given up after 64*T1.
import type { ServerTransaction, TransactionLayer } from './transaction.js';

/** A sent 2xx kept coming until stop(); `onTimeout` runs when no ACK came within 64*T1. */
export class AckWait {
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(
    readonly tx: ServerTransaction,
    timers: TransactionLayer['timers'],
    onTimeout: () => void,
  ) {
    const { t1, t2 } = timers;
    if (tx.flow.protocol === 'udp') {
      const resend = (interval: number) => {
        this.#timers.push(
          setTimeout(() => {
            tx.resend2xx();
            resend(Math.min(2 * interval, t2));
          }, interval),
        );
      };
      resend(t1);
    }
    this.#timers.push(setTimeout(onTimeout, 64 * t1));
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }
}
