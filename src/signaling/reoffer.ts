// A re-INVITE's or UPDATE's SDP offer waiting for the application's answer: the same object from both backends,
// answered once (RFC 3264 section 8: the answer must describe the media as it will be, so the application makes it).
import { warningValue } from './responses.js';
import type { Reoffer, ReofferRefusal } from './types.js';

const PHRASES: Readonly<Record<ReofferRefusal | 487, string>> = {
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
};

/** How a backend sends the final response: a status, its phrase, our SDP for a 200, a Warning value otherwise. */
export type SendReofferResponse = (status: number, phrase: string, answer: { sdp: string } | { warning: string } | undefined) => void;

export class PendingReoffer implements Reoffer {
  #settled = false;

  constructor(
    readonly sdp: string,
    private readonly send: SendReofferResponse,
    private readonly accepted: (answerSdp: string) => void,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  accept(answerSdp: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.accepted(answerSdp);
    this.send(200, 'OK', { sdp: answerSdp });
  }

  reject(status: ReofferRefusal, reason: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.send(status, PHRASES[status], { warning: warningValue(399, reason) });
  }

  /** The dialog ended before the application answered (RFC 3261 15.1.2). */
  terminate(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.send(487, PHRASES[487], undefined);
  }
}
