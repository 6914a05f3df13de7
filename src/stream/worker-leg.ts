// The main thread's side of a leg hosted by a media worker: the StreamLeg the call holds, turning its verbs into
// messages and the worker's messages into its events and its report.
import { EventEmitter } from 'node:events';
import type { StopReason, StreamStart } from '../bot/index.js';
import type { MediaFormat } from '../media/index.js';
import type { LegReport, LiveMedia, PeerBot, StreamLeg, StreamLegEvents } from './types.js';
import type { LegEvent, ToWorker } from './worker-messages.js';

export class WorkerLeg extends EventEmitter<StreamLegEvents> implements StreamLeg {
  /** As of the worker's last stats message. */
  live: LiveMedia | undefined;
  #report: Promise<LegReport> | undefined;
  #settle: ((report: LegReport) => void) | undefined;
  /** The worker is gone: nothing more is sent, and the report is what is known. */
  #lost = false;
  /** An openPeer waiting for the worker's answer (one at a time, as the leg in the worker takes them). */
  #peerOpen: { resolve: (port: number) => void; reject: (err: Error) => void } | undefined;

  constructor(
    readonly id: number,
    readonly port: number,
    readonly botConnectMs: number,
    private readonly send: (message: ToWorker) => void,
  ) {
    super();
  }

  start(format: MediaFormat, start: StreamStart): void {
    this.#send({ type: 'start', id: this.id, format, start });
  }

  renegotiate(format: MediaFormat): void {
    this.#send({ type: 'renegotiate', id: this.id, format });
  }

  callerDtmf(digit: string, durationMs: number): void {
    this.#send({ type: 'callerDtmf', id: this.id, digit, durationMs });
  }

  sendEvent(name: string, fields: Readonly<Record<string, unknown>>): void {
    this.#send({ type: 'sendEvent', id: this.id, name, fields });
  }

  openPeer(): Promise<number> {
    if (this.#lost || this.#report) return Promise.reject(new Error('the leg is closed'));
    if (this.#peerOpen) return Promise.reject(new Error('the leg has a peer already'));
    return new Promise<number>((resolve, reject) => {
      this.#peerOpen = { resolve, reject };
      this.send({ type: 'openPeer', id: this.id });
    });
  }

  joinPeer(format: MediaFormat, bot: PeerBot): void {
    this.#send({ type: 'joinPeer', id: this.id, format, bot });
  }

  renegotiatePeer(format: MediaFormat): void {
    this.#send({ type: 'renegotiatePeer', id: this.id, format });
  }

  peerSipDtmf(digit: string, durationMs: number): void {
    this.#send({ type: 'peerSipDtmf', id: this.id, digit, durationMs });
  }

  closePeer(): void {
    this.#send({ type: 'closePeer', id: this.id });
  }

  /** The worker's answer to openPeer: the port, or why not. */
  peerOpened(answer: { port: number } | { error: string }): void {
    const pending = this.#peerOpen;
    this.#peerOpen = undefined;
    if ('port' in answer) pending?.resolve(answer.port);
    else pending?.reject(new Error(answer.error));
  }

  /** The report of a close under way or done; none before close(). */
  get closing(): Promise<LegReport> | undefined {
    return this.#report;
  }

  close(reason: StopReason): Promise<LegReport> {
    this.#report ??= new Promise<LegReport>((resolve) => {
      if (this.#lost) return resolve({});
      this.#settle = resolve;
      this.send({ type: 'close', id: this.id, reason });
    });
    return this.#report;
  }

  /** An event the worker's leg emitted. */
  deliver(event: LegEvent): void {
    if (this.#lost) return;
    (this.emit as (name: string, ...args: unknown[]) => boolean)(event.name, ...event.args);
  }

  /** The worker's report of the leg's close. */
  closed(report: LegReport): void {
    this.peerOpened({ error: 'the leg closed' });
    this.#settle?.(report);
    this.#settle = undefined;
  }

  /**
   * The worker died: a close in progress resolves now (its report died with the worker), and a leg still in use ends
   * (its call sends BYE).
   */
  lost(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    this.peerOpened({ error: reason });
    if (this.#settle) return this.closed({});
    if (!this.#report) this.emit('end', { by: 'system', reason });
  }

  #send(message: ToWorker): void {
    if (!this.#lost && !this.#report) this.send(message);
  }
}
