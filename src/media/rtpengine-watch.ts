// Whether rtpengine answers: an ng `ping` every pingIntervalMs, so /health and admission read a recent answer
// instead of asking rtpengine per request.
import type { Logger } from 'pino';
import type { RtpengineRelay } from './rtpengine.js';

export type RelayStatus = { readonly up: true } | { readonly up: false; readonly reason: string };

export class RtpengineWatch {
  #status: RelayStatus;
  /** Whether a ping has been answered or given up on yet. */
  #checked = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly relay: Pick<RtpengineRelay, 'address' | 'ping'>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {
    this.#status = { up: false, reason: `media relay: rtpengine at ${relay.address} not pinged yet` };
  }

  get status(): RelayStatus {
    return this.#status;
  }

  /** Pings now and resolves with the first answer (or its absence); pings again every interval until close(). */
  async start(): Promise<void> {
    await this.#check();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #check(): Promise<void> {
    let next: RelayStatus;
    try {
      await this.relay.ping();
      next = { up: true };
    } catch (err) {
      next = { up: false, reason: `media relay: ${(err as Error).message} (since ${new Date().toISOString()})` };
    }
    if (this.#closed) return;
    const changed = !this.#checked || next.up !== this.#status.up;
    if (changed && !next.up) this.log.error({ reason: next.reason }, 'rtpengine is not answering: new calls are refused until it does');
    if (changed && next.up) this.log.info({ rtpengine: this.relay.address }, this.#checked ? 'rtpengine answers again' : 'rtpengine answers');
    // While it stays down, the first reason stands: it says since when.
    if (changed) this.#status = next;
    this.#checked = true;
    this.#timer = setTimeout(() => void this.#check(), this.intervalMs);
  }
}
