// Turns each INVITE from the signaling backend into a Call and keeps the set of live calls.
import type { SipBackend } from '../signaling/index.js';
import { Call, type CallOptions } from './call.js';

export class CallManager {
  readonly #calls = new Set<Call>();
  readonly #idle: Array<() => void> = [];

  constructor(
    backend: SipBackend,
    private readonly options: CallOptions,
  ) {
    backend.on('invite', (invite) => {
      const call = new Call(invite, this.options);
      this.#calls.add(call);
      call.once('ended', () => {
        this.#calls.delete(call);
        if (this.#calls.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
      void call.run();
    });
  }

  get activeCalls(): number {
    return this.#calls.size;
  }

  /** Ends every call (BYE to answered ones) and resolves when none is left. */
  endAll(reason: string): Promise<void> {
    const idle = this.#calls.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.#idle.push(resolve));
    for (const call of [...this.#calls]) call.end({ by: 'system', reason });
    return idle;
  }
}
